import Foundation
import Engine
import Models
import Tensors
import Testing

/// Shows each token as `[id]`, so stop strings can be tested without a tokenizer.
struct BracketTextStream: TextStream {
    mutating func append(_ token: Int) -> String { "[\(token)]" }
    mutating func finish() -> String { "" }
}

enum TinyModels {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    static let pool = ThreadPool(threadCount: 2)

    static func verifier() throws -> TransformerModel {
        try TransformerModel.load(from: root.appendingPathComponent("tiny-llama"))
    }

    static func draft(for verifier: TransformerModel) throws -> Eagle3DraftModel {
        let folder = root.appendingPathComponent("tiny-eagle3")
        let config = try Eagle3DraftConfig(folder: folder, verifierLayerCount: verifier.config.layerCount)
        return try Eagle3DraftModel.load(folder: folder, config: config, verifier: verifier)
    }

    /// The tiny draft with its head cut to one row that maps to `token`: it always proposes
    /// `token`. Random tiny drafts almost never agree with the random verifier; this one agrees
    /// whenever the verifier likes `token`, so both acceptance and rejection get exercised.
    static func constantDraft(proposing token: Int, verifier: TransformerModel) throws -> Eagle3DraftModel {
        let base = try draft(for: verifier)
        var config = base.config
        config.draftVocabSize = 1
        let head = Linear(weight: Tensor(shape: [1, base.hiddenSize], values: Array(repeating: 0.01, count: base.hiddenSize)))
        return Eagle3DraftModel(config: config, embedding: base.embedding, fc: base.fc, inputNorm: base.inputNorm,
                                fcNorms: base.fcNorms, hiddenNorm: base.hiddenNorm, layers: base.layers,
                                finalNorm: base.finalNorm, head: head, draftToTarget: [token])
    }

    /// The token that occurs most often in `outputs`.
    static func mostFrequent(_ outputs: [[Int]]) -> Int {
        var counts: [Int: Int] = [:]
        for token in outputs.joined() { counts[token, default: 0] += 1 }
        return counts.max { $0.value < $1.value || ($0.value == $1.value && $0.key > $1.key) }?.key ?? 0
    }

    static func engine(verifier: TransformerModel, draft: Eagle3DraftModel?, speculativeTokens: Int? = nil,
                       maxSpeculativeTokens: Int = 5, eos: Set<Int> = [], draftRestartRows: Int = 64) -> SpeculativeEngine {
        SpeculativeEngine(
            verifier: verifier, draft: draft,
            configuration: .init(maxSpeculativeTokens: maxSpeculativeTokens, speculativeTokens: speculativeTokens,
                                 prefillChunk: 32, maxBatchTokens: 256, maxModelLength: 256, eosTokenIds: eos,
                                 draftRestartRows: draftRestartRows),
            pool: pool, makeTextStream: { _ in BracketTextStream() })
    }

    /// Runs requests to completion and returns each one's tokens, text and final event.
    static func run(_ engine: SpeculativeEngine, _ requests: [GenerationRequest]) throws -> [(tokens: [Int], text: String, last: GenerationEvent)] {
        var ids: [Int] = []
        for request in requests { ids.append(try engine.add(request)) }
        var tokens: [Int: [Int]] = [:], text: [Int: String] = [:], last: [Int: GenerationEvent] = [:]
        var steps = 0
        while engine.hasWork {
            for event in try engine.step() {
                tokens[event.requestId, default: []] += event.tokens
                text[event.requestId, default: ""] += event.text
                if event.finish != nil { last[event.requestId] = event }
            }
            steps += 1
            if steps > 10_000 { break }
        }
        return try ids.map { id in (tokens[id] ?? [], text[id] ?? "", try #require(last[id])) }
    }

    /// Deterministic prompts of various lengths over the tiny vocabulary.
    static func prompts(_ count: Int) -> [[Int]] {
        (0..<count).map { index in
            let length = [3, 12, 40, 7, 25, 1, 60, 18][index % 8]
            return (0..<length).map { ($0 * (31 + index * 7) + index * 13 + 5) % 384 }
        }
    }
}
