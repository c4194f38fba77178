import Engine
import Models
import Testing

/// Datagen records the verifier's hidden states while it generates, instead of running every finished
/// sequence through the verifier again; these states must be the ones a single forward would give.
@Suite("Recording hidden states while generating") struct StateCaptureTests {
    static func engine(_ verifier: TransformerModel, layers: [Int], maxModelLength: Int = 256) -> SpeculativeEngine {
        SpeculativeEngine(
            verifier: verifier, draft: nil,
            configuration: .init(maxSpeculativeTokens: 0, prefillChunk: 32, maxBatchTokens: 256, maxModelLength: maxModelLength,
                                 eosTokenIds: [], captureLayers: layers),
            pool: TinyModels.pool, makeTextStream: { _ in BracketTextStream() })
    }

    /// Largest difference relative to `1 + |reference|` between the handed-over states and one forward
    /// over prompt + output (chunked prefill and one-row decode steps sum in another order).
    static func worstDifference(_ verifier: TransformerModel, layers: [Int], tokens: [Int], states: [Float]) throws -> Float {
        let cache = try verifier.makeCache(capacity: tokens.count)
        let reference = try verifier.forward([.init(cache: cache, tokens: tokens, logits: .none)], auxiliaryLayers: layers,
                                             pool: TinyModels.pool)
        let expected = try #require(reference.auxiliary)
        var worst: Float = 0
        for i in 0..<states.count { worst = max(worst, abs(states[i] - expected[i]) / (1 + abs(expected[i]))) }
        return worst
    }

    @Test("Finished requests hand over every position's states, as one forward over prompt and output gives them")
    func statesOfEveryPosition() throws {
        let verifier = try TinyModels.verifier()
        let layers = [1, 2, verifier.config.layerCount]
        let prompts = TinyModels.prompts(6)  // 3 to 60 tokens: several prefill chunks of 32 among them
        let requests = prompts.enumerated().map { GenerationRequest(prompt: $1, sampling: .greedy, maxTokens: 5 + 3 * $0) }
        let results = try TinyModels.run(Self.engine(verifier, layers: layers), requests)
        let width = layers.count * verifier.config.hiddenSize
        for (prompt, result) in zip(prompts, results) {
            let states = try #require(result.last.capturedStates)
            let tokens = prompt + result.tokens
            try #require(states.count == tokens.count * width, "\(states.count / width) positions recorded for \(tokens.count) tokens")
            #expect(try Self.worstDifference(verifier, layers: layers, tokens: tokens, states: states) < 1e-4)
        }
        // The output itself is plain greedy decoding.
        let plain = try TinyModels.run(TinyModels.engine(verifier: verifier, draft: nil), requests)
        #expect(results.map(\.tokens) == plain.map(\.tokens))
    }

    @Test("A request that fills the context still hands over its final position")
    func fullContext() throws {
        let verifier = try TinyModels.verifier()
        let layers = [verifier.config.layerCount]
        let prompt = TinyModels.prompts(3)[2]  // 40 tokens
        let results = try TinyModels.run(Self.engine(verifier, layers: layers, maxModelLength: 48),
                                         [GenerationRequest(prompt: prompt, sampling: .greedy, maxTokens: 100)])
        let result = try #require(results.first)
        #expect(result.last.finish == .length && prompt.count + result.tokens.count == 48)
        let states = try #require(result.last.capturedStates)
        #expect(states.count == 48 * verifier.config.hiddenSize)
        #expect(try Self.worstDifference(verifier, layers: layers, tokens: prompt + result.tokens, states: states) < 1e-4)
    }

    @Test("Engines without capture layers, and engines with a draft, hand over no states")
    func noCapture() throws {
        let verifier = try TinyModels.verifier()
        let request = GenerationRequest(prompt: TinyModels.prompts(1)[0], sampling: .greedy, maxTokens: 4)
        let plain = try TinyModels.run(TinyModels.engine(verifier: verifier, draft: nil), [request])
        #expect(plain.first?.last.capturedStates == nil)
        let drafting = SpeculativeEngine(
            verifier: verifier, draft: try TinyModels.draft(for: verifier),
            configuration: .init(maxModelLength: 256, eosTokenIds: [], captureLayers: [1]),
            pool: TinyModels.pool, makeTextStream: { _ in BracketTextStream() })
        #expect(drafting.configuration.captureLayers.isEmpty)
        #expect(try TinyModels.run(drafting, [request]).first?.last.capturedStates == nil)
    }
}
