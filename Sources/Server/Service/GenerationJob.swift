import Engine
import Foundation
import Synchronization

// The scheduler requests behind one HTTP request (one per choice): submission with the queue
// bound, cancellation when the client leaves, and the per-request timings the metrics need.

/// Monotonic seconds, for latencies.
func monotonicSeconds() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

/// What one choice has produced so far.
struct ChoiceResult: Sendable {
    var tokens: [Int] = []
    var text = ""
    var logprobs: [Engine.TokenLogprob] = []
    /// Prompt tokens after the first, scored (requests with prompt logprobs).
    var promptLogprobs: [Engine.TokenLogprob]?
    var finish: Engine.FinishReason?
    var stopReason: Engine.StopReason?
    var promptTokens = 0
    var generatedTokens = 0

    /// Finished normally (not aborted, not unfinished).
    var isComplete: Bool { finish != nil && finish != .abort }
}

/// One HTTP request's generations.
///
/// Engine events arrive on the scheduler's thread, one at a time; `onEvent` gets each with the
/// choice index and that choice's result so far, and `onFinished` runs once with every result
/// after all choices have finished, or when the job times out (`cancel(notify: true)`). A client
/// that disconnected cancels with `notify: false`: nothing more is delivered. Nothing blocks.
final class GenerationJob: Sendable {
    typealias EventHandler = @Sendable (_ choice: Int, _ event: GenerationEvent, _ result: ChoiceResult) -> Void

    private struct Timing {
        var scheduled: Double?
        var firstToken: Double?
        var lastToken: Double?
        var finished = false
    }

    private struct State {
        var handles: [Scheduler.Handle] = []
        var timings: [Timing]
        var results: [ChoiceResult]
        var remaining: Int
        var cancelled = false
        var completed = false
    }

    private let scheduler: Scheduler
    private let telemetry: ServiceTelemetry
    private let arrival: Double
    private let maxTokensParam: Int?
    private let state: Mutex<State>
    private let onEvent: EventHandler
    private let onFinished: @Sendable ([ChoiceResult]) -> Void

    init(scheduler: Scheduler, telemetry: ServiceTelemetry, choiceCount: Int, maxTokensParam: Int?,
         onEvent: @escaping EventHandler, onFinished: @escaping @Sendable ([ChoiceResult]) -> Void) {
        self.scheduler = scheduler
        self.telemetry = telemetry
        self.arrival = monotonicSeconds()
        self.maxTokensParam = maxTokensParam
        self.state = Mutex(State(timings: Array(repeating: Timing(), count: choiceCount),
                                 results: Array(repeating: ChoiceResult(), count: choiceCount), remaining: choiceCount))
        self.onEvent = onEvent
        self.onFinished = onFinished
    }

    /// Submits every choice. A full queue (or a stopping server) cancels what was submitted and
    /// throws the 503 to answer with.
    func start(_ requests: [GenerationRequest], n: Int) throws(APIError) {
        for (index, request) in requests.enumerated() {
            if isCancelled { return }
            do {
                let handle = try scheduler.submit(request) { [self] update in self.receive(update, choice: index) }
                telemetry.metrics.recordRequestParameters(n: n, maxGenerationTokens: request.maxTokens)
                let cancelled = state.withLock { s -> Bool in
                    s.handles.append(handle)
                    return s.cancelled
                }
                if cancelled { scheduler.cancel(handle) }
            } catch {
                cancel(notify: false)
                if case Scheduler.SubmitError.queueFull = error {
                    throw APIError.serviceUnavailable("The server is busy: the request queue is full. Retry later.")
                }
                throw APIError.serviceUnavailable("\(error)")
            }
        }
    }

    /// The client left (or the request timed out): every choice is cancelled and its caches freed
    /// at the next engine step. No more events are delivered.
    func cancel(notify: Bool = true) {
        let (handles, results, run) = state.withLock { s -> ([Scheduler.Handle], [ChoiceResult], Bool) in
            if s.cancelled || s.completed { return ([], [], false) }
            s.cancelled = true
            return (s.handles, s.results, true)
        }
        guard run else { return }
        for handle in handles { scheduler.cancel(handle) }
        if notify { onFinished(results) }
    }

    var isCancelled: Bool { state.withLock { $0.cancelled } }

    private func receive(_ update: Scheduler.Update, choice: Int) {
        let now = monotonicSeconds()
        switch update {
        case .scheduled:
            state.withLock { $0.timings[choice].scheduled = now }
        case .generation(let event):
            let (deliver, result, all) = record(event, choice: choice, at: now)
            if deliver { onEvent(choice, event, result) }
            if let all { onFinished(all) }
        }
    }

    /// Updates timings and metrics; says whether to pass the event on and whether the job is done.
    private func record(_ event: GenerationEvent, choice: Int,
                        at now: Double) -> (deliver: Bool, result: ChoiceResult, all: [ChoiceResult]?) {
        let metrics = telemetry.metrics
        let (timing, result, cancelled, all) = state.withLock { s -> (Timing, ChoiceResult, Bool, [ChoiceResult]?) in
            var r = s.results[choice]
            r.tokens += event.tokens
            r.text += event.text
            r.logprobs += event.logprobs
            if let scored = event.promptLogprobs { r.promptLogprobs = scored }
            r.promptTokens = event.promptTokens
            r.generatedTokens = event.generatedTokens
            if let finish = event.finish {
                r.finish = finish
                r.stopReason = event.stopReason
            }
            s.results[choice] = r
            var t = s.timings[choice]
            if !event.tokens.isEmpty {
                if let last = t.lastToken {
                    metrics.recordInterTokenLatency(seconds: now - last)
                } else {
                    metrics.recordFirstToken(seconds: now - arrival)
                    t.firstToken = now
                }
                t.lastToken = now
            }
            var complete = false
            if event.finish != nil && !t.finished {
                t.finished = true
                s.remaining -= 1
                if s.remaining == 0 && !s.cancelled {
                    s.completed = true
                    complete = true
                }
            }
            s.timings[choice] = t
            return (t, r, s.cancelled, complete ? s.results : nil)
        }
        telemetry.addGeneratedTokens(event.tokens.count)
        if let finish = event.finish {
            let scheduled = timing.scheduled ?? now
            let first = timing.firstToken ?? now
            let last = timing.lastToken ?? now
            metrics.recordFinished(FinishedRequestStats(
                finishReason: FinishReason(engine: finish), e2eLatency: now - arrival,
                queueTime: max(0, scheduled - arrival), prefillTime: max(0, first - scheduled),
                decodeTime: max(0, last - first), inferenceTime: max(0, last - scheduled),
                promptTokens: event.promptTokens, generationTokens: event.generatedTokens,
                maxTokensParam: maxTokensParam))
        }
        return (!cancelled, result, all)
    }
}

extension FinishReason {
    init(engine: Engine.FinishReason) {
        switch engine {
        case .stop: self = .stop
        case .length: self = .length
        case .abort: self = .abort
        }
    }
}

extension StopReason {
    /// OpenAI's `stop_reason`: null for EOS, the id for a stop token, the string for a stop string.
    init?(engine: Engine.StopReason?) {
        switch engine {
        case .token(let id)?: self = .tokenID(id)
        case .string(let s)?: self = .string(s)
        case .eos?, nil: return nil
        }
    }
}
