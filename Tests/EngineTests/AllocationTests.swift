import AllocationCounter
import Engine
import Models
import Testing

/// Emits no text: the test counts the engine's bookkeeping, not the text it hands out (a
/// String over 15 bytes is a heap allocation, and is the request's output).
private struct SilentTextStream: TextStream {
    mutating func append(_ token: Int) -> String { "" }
    mutating func finish() -> String { "" }
}

/// The decode loop's bookkeeping reuses its arrays from step to step. Adaptive speculation is
/// not checked here: its plans follow measured pass times, and the steps where a request's
/// probe is due, the confidence gate opens, or queued draft features grow to their window
/// allocate a few times (measured: 6 in 20 steps in one run of three, none in two).
@Suite struct AllocationTests {
    /// Decode steps counted after the warm-up, and the warm-up: prefill (the 40-token prompt
    /// takes two chunks) and enough decode steps for every array to reach its largest size.
    static let countedSteps = 20
    static let warmUpSteps = 8

    /// Runs three requests through `warmUpSteps` steps, then counts the allocations of the next
    /// `countedSteps` on this thread (the pool's workers run allocation-free C loops and are not
    /// counted). Returns the count and the tokens the counted steps emitted.
    static func countedAllocations(_ engine: SpeculativeEngine) throws -> (allocations: UInt64, tokens: [Int]) {
        for prompt in TinyModels.prompts(3) { try engine.add(GenerationRequest(prompt: prompt, maxTokens: 200)) }
        for _ in 0..<warmUpSteps { _ = try engine.step() }
        var tokens = [Int](repeating: 0, count: 3)
        speculators_count_allocations(1)
        let before = speculators_counted_allocations()
        for _ in 0..<countedSteps {
            for event in try engine.step() where event.requestId < 3 { tokens[event.requestId] += event.tokens.count }
        }
        let allocations = speculators_counted_allocations() - before
        speculators_count_allocations(0)
        return (allocations, tokens)
    }

    static func engine(draft: Eagle3DraftModel?, verifier: TransformerModel, speculativeTokens: Int?) -> SpeculativeEngine {
        SpeculativeEngine(
            verifier: verifier, draft: draft,
            configuration: .init(maxSpeculativeTokens: 3, speculativeTokens: speculativeTokens, prefillChunk: 32,
                                 maxBatchTokens: 256, maxModelLength: 256, eosTokenIds: []),
            pool: TinyModels.pool, makeTextStream: { _ in SilentTextStream() })
    }

    @Test("Once warmed up, a decode step allocates nothing on the engine's thread: plain, and with three drafts verified per request",
          .enabled(if: speculators_allocation_counting_available() != 0, "a sanitizer build does not count allocations"))
    func decodeStepsAllocateNothing() throws {
        let verifier = try TinyModels.verifier()
        // The counter sees this thread's allocations: a loop that allocates is counted.
        speculators_count_allocations(1)
        let start = speculators_counted_allocations()
        for size in 1...3 { _ = [Int](repeating: size, count: size * 100) }
        #expect(speculators_counted_allocations() - start >= 3)
        speculators_count_allocations(0)

        let plain = try Self.countedAllocations(Self.engine(draft: nil, verifier: verifier, speculativeTokens: nil))
        #expect(plain.allocations == 0, "plain decoding: \(plain.allocations) allocations in \(Self.countedSteps) steps")
        #expect(plain.tokens == [Self.countedSteps, Self.countedSteps, Self.countedSteps])

        // A draft that always proposes a token the verifier often picks: steps accept none,
        // some or all three drafts.
        let plainTokens = try TinyModels.run(TinyModels.engine(verifier: verifier, draft: nil),
                                             TinyModels.prompts(3).map { GenerationRequest(prompt: $0, maxTokens: 40) })
        let draft = try TinyModels.constantDraft(proposing: TinyModels.mostFrequent(plainTokens.map(\.tokens)),
                                                 verifier: verifier)
        let speculative = try Self.countedAllocations(Self.engine(draft: draft, verifier: verifier, speculativeTokens: 3))
        #expect(speculative.allocations == 0, "k = 3: \(speculative.allocations) allocations in \(Self.countedSteps) steps")
        #expect(speculative.tokens.allSatisfy { $0 >= Self.countedSteps })
        #expect(speculative.tokens.reduce(0, +) > 3 * Self.countedSteps, "some drafts were accepted")
    }
}
