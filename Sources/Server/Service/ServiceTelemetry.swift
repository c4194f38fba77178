import Engine
import Foundation
import Logging
import Synchronization

// Wires the scheduler's per-step reports into vLLM's metric set, and prints vLLM's periodic
// throughput and "SpecDecoding metrics" log lines.

/// Metrics updates that follow the engine's work as it happens.
public final class ServiceTelemetry: Sendable {
    public let metrics: ServingMetrics
    private let logger: Logger
    /// Tokens emitted by the step in progress (added from request events, taken after the step).
    private let stepTokens = Atomic<Int>(0)
    private struct Interval {
        var promptTokens = 0
        var generationTokens = 0
        var started = monotonicSeconds()
        var running = 0
        var waiting = 0
        var audit = PlannerAudit()
        var gate: (steps: Int, dropped: Int) = (0, 0)
    }
    private let interval = Mutex(Interval())
    private let timer = TimerSlot()

    public init(metrics: ServingMetrics, logger: Logger) {
        self.metrics = metrics
        self.logger = logger
    }

    /// Installs the step hook on `scheduler` (before it starts).
    public func attach(to scheduler: Scheduler) {
        scheduler.onStep = { [self] report, snapshot in self.recordStep(report, snapshot) }
    }

    /// Tokens about to be handed to a client: counted now, and added to the step's total.
    func addGeneratedTokens(_ count: Int) {
        guard count > 0 else { return }
        metrics.recordGeneratedTokens(count)
        stepTokens.add(count, ordering: .relaxed)
    }

    /// One engine step: gauges, token counters, and the drafts it verified.
    public func recordStep(_ report: StepReport, _ snapshot: Scheduler.Snapshot) {
        let generated = stepTokens.exchange(0, ordering: .relaxed)
        metrics.recordSchedulerState(running: snapshot.running, waiting: snapshot.waiting, kvCacheUsage: snapshot.kvCacheUsage)
        metrics.recordIteration(promptTokens: report.prefillTokens, generationTokens: generated)
        for draft in Self.perDraft(report.speculation) {
            metrics.recordDraftVerification(draftTokens: draft.draftTokens, acceptedTokens: draft.accepted)
        }
        interval.withLock {
            $0.promptTokens += report.prefillTokens
            $0.generationTokens += generated
            $0.running = snapshot.running
            $0.waiting = snapshot.waiting
            $0.audit = report.plannerAudit
            $0.gate = (report.gatedSteps, report.gatedDraftsDropped)
        }
    }

    /// Splits a step's summed draft statistics into per-draft observations with the same totals
    /// (drafts, draft tokens, accepted tokens and accepted-per-position all add up exactly):
    /// `acceptedPerPosition[i]` counts drafts with more than `i` accepted tokens, which fixes
    /// each draft's accepted count; draft tokens are then spread over the drafts.
    static func perDraft(_ stats: SpeculationStats) -> [(draftTokens: Int, accepted: Int)] {
        guard stats.drafts > 0 else { return [] }
        var accepted = Array(repeating: 0, count: stats.drafts)
        for (position, count) in stats.acceptedPerPosition.enumerated() {
            for draft in 0..<min(count, stats.drafts) { accepted[draft] = position + 1 }
        }
        var tokens = accepted
        var spare = stats.draftTokens - accepted.reduce(0, +)
        var draft = 0
        while spare > 0 {
            tokens[draft] += 1
            spare -= 1
            draft = (draft + 1) % stats.drafts
        }
        return zip(tokens, accepted).map { (draftTokens: max($0, 1), accepted: $1) }
    }

    /// Logs vLLM's throughput line and spec-decoding line every `seconds` when there was work.
    public func startPeriodicLog(every seconds: Double) {
        guard seconds > 0 else { return }
        let source = DispatchSource.makeTimerSource(queue: DispatchQueue.global(qos: .utility))
        source.schedule(deadline: .now() + seconds, repeating: seconds)
        source.setEventHandler { [self] in self.logInterval() }
        timer.replace(with: source)
        source.resume()
    }

    public func stopPeriodicLog() {
        timer.replace(with: nil)
    }

    /// The interval's lines; nil when the engine was idle throughout.
    func logInterval() {
        let now = monotonicSeconds()
        let (prompt, generated, elapsed, running, waiting, audit, gate) = interval.withLock { i in
            defer { i.promptTokens = 0; i.generationTokens = 0; i.started = now }
            return (i.promptTokens, i.generationTokens, now - i.started, i.running, i.waiting, i.audit, i.gate)
        }
        let spec = metrics.specDecodingLogLine(elapsedSeconds: elapsed)
        guard prompt + generated > 0 || running + waiting > 0 else { return }
        let seconds = max(elapsed, 1e-9)
        logger.info("\(String(format: "Avg prompt throughput: %.1f tokens/s, Avg generation throughput: %.1f tokens/s, Running: %d reqs, Waiting: %d reqs", Double(prompt) / seconds, Double(generated) / seconds, running, waiting))")
        if let spec {
            logger.info("\(spec)")
            logger.debug("Planner since start: \(audit.summary); confidence gate ran in \(gate.steps) steps, dropped \(gate.dropped) drafts")
        }
    }
}

/// Holds the periodic-log timer (Dispatch sources are thread-safe but not `Sendable`).
private final class TimerSlot: @unchecked Sendable {
    private let lock = NSLock()
    private var timer: DispatchSourceTimer?

    /// Cancels the current timer, if any, and keeps `next`.
    func replace(with next: DispatchSourceTimer?) {
        lock.lock()
        timer?.cancel()
        timer = next
        lock.unlock()
    }
}
