import Engine
import Foundation
import Synchronization
import Testing

/// The scheduler thread around the engine: requests in, events out, gauges after every step.
@Suite struct SchedulerTests {
    /// Collects what the scheduler reports, from its thread.
    final class Recorder: Sendable {
        let usages = Mutex<[Double]>([])
        let finished = Mutex<[Int: [Int]]>([:])
        let done = DispatchSemaphore(value: 0)
    }

    @Test func kvCacheUsageFollowsTheCachedPositionsAndReturnsToZero() throws {
        let verifier = try TinyModels.verifier()
        let engine = TinyModels.engine(verifier: verifier, draft: nil, speculativeTokens: 0)
        let scheduler = Scheduler(engine: engine, maxRunning: 2, maxWaiting: 4)
        let recorder = Recorder()
        scheduler.onStep = { _, snapshot in recorder.usages.withLock { $0.append(snapshot.kvCacheUsage) } }
        scheduler.start()
        let prompts = [[1, 2, 3, 4, 5], [6, 7, 8]]
        for (index, prompt) in prompts.enumerated() {
            try scheduler.submit(GenerationRequest(prompt: prompt, maxTokens: 6, ignoreEOS: true)) { update in
                guard case let .generation(event) = update else { return }
                recorder.finished.withLock { $0[index, default: []] += event.tokens }
                if event.finish != nil { recorder.done.signal() }
            }
        }
        for _ in prompts { #expect(recorder.done.wait(timeout: .now() + 60) == .success) }
        scheduler.shutdown(grace: .seconds(5))

        let usages = recorder.usages.withLock { $0 }
        // Two slots of 256 positions; at most 5 + 6 and 3 + 6 positions are ever cached.
        let capacity = 2.0 * 256
        #expect(usages.contains { $0 > 0 })
        #expect(usages.allSatisfy { $0 >= 0 && $0 <= (5 + 6 + 3 + 6) / capacity })
        #expect(usages.last == 0)
        #expect(scheduler.snapshot.kvCacheUsage == 0)
        #expect(recorder.finished.withLock { $0.values.map(\.count) } == [6, 6])
    }
}
