import Engine
import Foundation
import Models
import Tensors

/// One finished generation: the tokens exactly as emitted (the end-of-turn token included when the model
/// stopped by itself) and whether it stopped by itself rather than at the token limit.
public struct Completion: Sendable, Equatable {
    public var tokens: [Int]
    public var stopped: Bool
    /// With `captureLayers`: the captured layers' outputs for every position of prompt + tokens
    /// (see `GenerationEvent.capturedStates`); otherwise empty.
    public var states: [Float] = []
}

/// Generates with the verifier alone (no draft) through the engine's continuous batching: up to
/// `batchSize` requests run together and a finished one is replaced at once by the next prompt, so the
/// verifier's matrix products always see a full batch. Greedy requests give exactly what plain greedy
/// decoding gives, whatever else is in the batch.
public final class ResponseGenerator {
    public let verifier: TransformerModel
    public let batchSize: Int
    private let engine: SpeculativeEngine

    /// `eosTokenIds` end a response (the end-of-turn token is kept in it). `captureLayers` makes
    /// every completion carry the verifier's outputs at those layers (ids as for
    /// `TransformerModel.forward`) for all its positions, recorded while generating.
    public init(verifier: TransformerModel, eosTokenIds: Set<Int>, pool: ThreadPool, batchSize: Int,
                prefillChunk: Int = 256, maxBatchTokens: Int = 512, captureLayers: [Int] = []) {
        self.verifier = verifier
        self.batchSize = max(1, batchSize)
        engine = SpeculativeEngine(
            verifier: verifier, draft: nil,
            configuration: .init(maxSpeculativeTokens: 0, speculativeTokens: 0, prefillChunk: prefillChunk,
                                 maxBatchTokens: max(maxBatchTokens, prefillChunk), maxModelLength: verifier.config.maxPositions,
                                 eosTokenIds: eosTokenIds, captureLayers: captureLayers),
            pool: pool, makeTextStream: { _ in SilentTextStream() })
    }

    /// Generates a response for every prompt (results in prompt order). `sampling(i)` gives prompt i's
    /// sampling parameters (seeded per prompt, so a result never depends on the batch it ran in).
    /// `onProgress(responsesFinished, tokensGenerated)` is called after every engine step, for progress reports.
    public func generate(_ prompts: [[Int]], maxTokens: Int, sampling: (Int) -> SamplingParameters,
                         onProgress: (Int, Int) -> Void = { _, _ in }) throws -> [Completion] {
        var results = [Completion?](repeating: nil, count: prompts.count)
        var outputs: [Int: [Int]] = [:]
        var indexOfRequest: [Int: Int] = [:]
        var next = 0
        var generated = 0
        var finished = 0
        func admit() throws {
            while engine.activeCount < batchSize, next < prompts.count {
                let request = GenerationRequest(prompt: prompts[next], sampling: sampling(next), maxTokens: maxTokens,
                                                speculativeTokens: 0)
                let id = try engine.add(request)
                indexOfRequest[id] = next
                outputs[id] = []
                next += 1
            }
        }
        try admit()
        while engine.hasWork {
            for event in try engine.step() {
                outputs[event.requestId, default: []] += event.tokens
                generated += event.tokens.count
                guard let finish = event.finish, let index = indexOfRequest[event.requestId] else { continue }
                results[index] = Completion(tokens: outputs[event.requestId] ?? [], stopped: finish == .stop,
                                            states: event.capturedStates ?? [])
                outputs[event.requestId] = nil
                finished += 1
            }
            onProgress(finished, generated)
            try admit()
        }
        return results.map { $0 ?? Completion(tokens: [], stopped: false) }
    }
}

/// The engine wants text for stop strings; data generation needs none.
struct SilentTextStream: TextStream {
    mutating func append(_ token: Int) -> String { "" }
    mutating func finish() -> String { "" }
}
