import Foundation
import Logging
import Synchronization

/// The engine loop: one thread owns the `SpeculativeEngine` and every sequence's state; other
/// threads only submit and cancel.
///
/// Requests wait in a bounded FIFO queue and join the running batch between steps (continuous
/// batching) while fewer than `maxRunning` run. Each step runs one batched draft pass and one
/// batched verification pass over all running requests, so every stream advances every step;
/// long prompts are prefilled in chunks so they do not stall the others. Events are delivered
/// on the engine thread: callbacks must not block (the HTTP layer's writes are non-blocking).
public final class Scheduler: @unchecked Sendable {
    public enum SubmitError: Error, CustomStringConvertible {
        case queueFull(capacity: Int)
        case shuttingDown
        case invalid(String)
        public var description: String {
            switch self {
            case let .queueFull(capacity): return "the server is busy: \(capacity) requests are already waiting"
            case .shuttingDown: return "the server is shutting down"
            case let .invalid(reason): return reason
            }
        }
    }

    /// What a submitted request hears back, on the engine thread.
    public enum Update: Sendable {
        /// The request left the queue and joined the running batch.
        case scheduled
        case generation(GenerationEvent)
    }

    /// A submitted request, for cancellation.
    public struct Handle: Sendable, Hashable {
        public let id: Int
    }

    /// Counts for gauges.
    public struct Snapshot: Sendable {
        public var running: Int
        public var waiting: Int
        /// KV-cache positions in use over what the running slots can hold (`maxRunning` sequences
        /// of the engine's maximum model length): vLLM's `kv_cache_usage_perc`, 1 = full.
        public var kvCacheUsage: Double = 0
    }

    private struct Waiting {
        let handle: Handle
        let request: GenerationRequest
        let onUpdate: @Sendable (Update) -> Void
    }

    private struct State {
        var waiting: [Waiting] = []
        var cancelled: Set<Int> = []
        var running = 0
        var kvCacheUsage = 0.0
        var stopping = false
        var nextHandle = 0
    }

    public let engine: SpeculativeEngine
    public let maxRunning: Int
    public let maxWaiting: Int
    /// Called after every step (on the engine thread) with what it did.
    public var onStep: (@Sendable (StepReport, Snapshot) -> Void)?
    private let logger: Logger
    private let state = Mutex(State())
    private let wake = NSCondition()
    private var thread: Thread?
    private let finished = DispatchSemaphore(value: 0)

    public init(engine: SpeculativeEngine, maxRunning: Int, maxWaiting: Int, logger: Logger = Logger(label: "speculators.scheduler")) {
        self.engine = engine
        self.maxRunning = max(1, maxRunning)
        self.maxWaiting = max(0, maxWaiting)
        self.logger = logger
    }

    public var snapshot: Snapshot {
        state.withLock { Snapshot(running: $0.running, waiting: $0.waiting.count, kvCacheUsage: $0.kvCacheUsage) }
    }

    /// Starts the engine thread.
    public func start() {
        let thread = Thread { [self] in self.loop() }
        thread.name = "speculators-engine"
        thread.stackSize = 16 << 20
        self.thread = thread
        thread.start()
    }

    /// Queues a request; throws when the queue is full or the server is stopping.
    @discardableResult
    public func submit(_ request: GenerationRequest, onUpdate: @escaping @Sendable (Update) -> Void) throws -> Handle {
        let handle = try state.withLock { state -> Handle in
            if state.stopping { throw SubmitError.shuttingDown }
            if state.waiting.count >= maxWaiting && state.running >= maxRunning {
                throw SubmitError.queueFull(capacity: maxWaiting)
            }
            let handle = Handle(id: state.nextHandle)
            state.nextHandle += 1
            state.waiting.append(Waiting(handle: handle, request: request, onUpdate: onUpdate))
            return handle
        }
        signal()
        return handle
    }

    /// Cancels a request (client gone): it leaves the queue, or is stopped at the next step and
    /// its caches freed. Safe from any thread, more than once.
    public func cancel(_ handle: Handle) {
        state.withLock { _ = $0.cancelled.insert(handle.id) }
        signal()
    }

    /// Stops accepting requests; running ones finish (or are aborted after `grace`), then the
    /// loop ends. Blocks until it has.
    public func shutdown(grace: Duration = .seconds(30)) {
        state.withLock { $0.stopping = true }
        signal()
        let deadline = ContinuousClock.now + grace
        DispatchQueue.global().asyncAfter(deadline: .now() + Double(grace.components.seconds)) { [self] in
            if ContinuousClock.now >= deadline { self.abortAll() }
        }
        if thread != nil { finished.wait() }
    }

    private func abortAll() {
        state.withLock { state in
            for id in 0..<state.nextHandle { state.cancelled.insert(id) }
        }
        signal()
    }

    private func signal() {
        wake.lock()
        wake.broadcast()
        wake.unlock()
    }

    // MARK: - The engine thread

    private var engineIds: [Int: Handle] = [:]
    private var callbacks: [Int: @Sendable (Update) -> Void] = [:]

    private func loop() {
        while true {
            let (admitted, aborted, cancelled, stop) = takeWork()
            for entry in aborted {
                entry.onUpdate(.generation(GenerationEvent.abort(requestId: entry.handle.id, promptTokens: entry.request.prompt.count)))
            }
            for id in cancelled {
                if let engineId = engineIds.first(where: { $0.value.id == id })?.key { engine.cancel(engineId) }
            }
            for entry in admitted {
                do {
                    let engineId = try engine.add(entry.request)
                    engineIds[engineId] = entry.handle
                    callbacks[engineId] = entry.onUpdate
                    entry.onUpdate(.scheduled)
                } catch {
                    entry.onUpdate(.generation(GenerationEvent.abort(requestId: entry.handle.id, promptTokens: entry.request.prompt.count)))
                    logger.warning("request rejected by the engine", metadata: ["error": "\(error)"])
                }
            }
            state.withLock { $0.running = engine.activeCount }
            if !engine.hasWork {
                if stop { break }
                wake.lock()
                let idle = state.withLock { $0.waiting.isEmpty && $0.cancelled.isEmpty && !$0.stopping }
                if idle { _ = wake.wait(until: Date().addingTimeInterval(1)) }
                wake.unlock()
                continue
            }
            let events: [GenerationEvent]
            do {
                events = try engine.step()
            } catch {
                logger.error("engine step failed; aborting running requests", metadata: ["error": "\(error)"])
                for engineId in Array(callbacks.keys) { engine.cancel(engineId) }
                continue
            }
            for event in events {
                guard let callback = callbacks[event.requestId], let handle = engineIds[event.requestId] else { continue }
                callback(.generation(event.renumbered(handle.id)))
                if event.finish != nil {
                    callbacks[event.requestId] = nil
                    engineIds[event.requestId] = nil
                }
            }
            let capacity = maxRunning * max(engine.configuration.maxModelLength, 1)
            let usage = min(1, Double(engine.cachedPositions) / Double(capacity))
            let snapshot = state.withLock { state -> Snapshot in
                state.running = engine.activeCount
                state.kvCacheUsage = usage
                return Snapshot(running: state.running, waiting: state.waiting.count, kvCacheUsage: usage)
            }
            onStep?(engine.lastStep, snapshot)
        }
        finished.signal()
    }

    /// Moves queued requests into free running slots; collects cancellations.
    private func takeWork() -> (admitted: [Waiting], aborted: [Waiting], cancelled: [Int], stop: Bool) {
        state.withLock { state in
            let cancelled = state.cancelled
            state.cancelled.removeAll()
            let aborted = state.waiting.filter { cancelled.contains($0.handle.id) }
            state.waiting.removeAll { cancelled.contains($0.handle.id) }
            let free = max(0, maxRunning - engine.activeCount)
            let admitted = Array(state.waiting.prefix(free))
            state.waiting.removeFirst(admitted.count)
            let runningCancelled = cancelled.filter { id in !aborted.contains { $0.handle.id == id } }
            return (admitted, aborted, Array(runningCancelled), state.stopping && state.waiting.isEmpty)
        }
    }
}

extension GenerationEvent {
    static func abort(requestId: Int, promptTokens: Int) -> GenerationEvent {
        GenerationEvent(requestId: requestId, tokens: [], text: "", logprobs: [], finish: .abort, stopReason: nil,
                        stats: SpeculationStats(), promptTokens: promptTokens, generatedTokens: 0)
    }

    /// The same event under the scheduler's request id (every field carried over).
    func renumbered(_ id: Int) -> GenerationEvent {
        GenerationEvent(requestId: id, tokens: tokens, text: text, logprobs: logprobs, promptLogprobs: promptLogprobs,
                        finish: finish, stopReason: stopReason, stats: stats, promptTokens: promptTokens,
                        generatedTokens: generatedTokens, capturedStates: capturedStates)
    }
}
