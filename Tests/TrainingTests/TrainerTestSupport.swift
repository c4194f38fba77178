import Foundation
import Models
import Tensors
import Testing
import Training

/// Fixtures beside this file (see Fixtures/README.md) and tiny training data made in-test.
enum TrainerFixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    static func folder(_ name: String) -> URL { root.appendingPathComponent(name) }
    static let pool = ThreadPool(threadCount: 2)

    static func verifier() throws -> TransformerModel { try TransformerModel.load(from: folder("tiny-llama")) }

    /// A draft config over the tiny-llama verifier (H 64, 4 heads, 2 kv heads, vocab 384).
    static func draftConfig(verifier: TransformerModel, layers: Int = 1, draftVocab: Int = 96, normBeforeResidual: Bool = true,
                            normBeforeFC: Bool = false, fcNorm: Bool = false, normOutput: Bool = false,
                            window: Int? = nil) -> Eagle3DraftConfig {
        var layer = verifier.config
        layer.layerCount = layers
        layer.slidingWindow = window
        layer.tieWordEmbeddings = false
        return Eagle3DraftConfig(layer: layer, draftVocabSize: draftVocab, auxiliaryLayerIds: [1, 2, 3],
                                 normBeforeResidual: normBeforeResidual, normBeforeFC: normBeforeFC, fcNorm: fcNorm,
                                 normOutput: normOutput, speculativeTokens: 3)
    }

    /// Draft ids → verifier ids: every fourth id.
    static func mapping(_ count: Int) -> [Int] { (0..<count).map { $0 * 4 } }

    /// Conversations of random tokens run through the verifier: features at aux ids [1, 2, 3],
    /// last hidden at id 4, the loss mask off on the first `prompt` tokens.
    static func samples(verifier: TransformerModel, lengths: [Int], prompt: Int = 2, seed: UInt64 = 7,
                        tokens fixed: [[Int]]? = nil) throws -> [TrainingSample] {
        var random = TrainingRandom(seed: seed)
        var result: [TrainingSample] = []
        for (index, length) in lengths.enumerated() {
            let tokens = fixed?[index] ?? (0..<length).map { _ in Int(random.next() % 384) }
            let output = try verifier.forward([.init(cache: try verifier.makeCache(capacity: 64), tokens: tokens, logits: .none)],
                                              auxiliaryLayers: [1, 2, 3, 4], pool: pool)
            guard let aux = output.auxiliary else { throw TrainingError.invalidBatch("no auxiliary states") }
            var features: [Float] = [], last: [Float] = []
            let h = verifier.config.hiddenSize
            for t in 0..<tokens.count {
                let row = aux + t * output.auxiliaryWidth
                features += Array(UnsafeBufferPointer(start: row, count: 3 * h))
                last += Array(UnsafeBufferPointer(start: row + 3 * h, count: h))
            }
            let mask = (0..<tokens.count).map { $0 >= prompt }
            result.append(TrainingSample(tokens: tokens, features: features, lastHidden: last, lossMask: mask))
        }
        return result
    }
}

/// |a − b| ≤ absolute + relative·|b| for every element; reports the worst one.
func expectClose(_ actual: [Float], _ expected: [Float], absolute: Float, relative: Float, _ what: String,
                 sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(actual.count == expected.count, "\(what): \(actual.count) values, expected \(expected.count)",
            sourceLocation: sourceLocation)
    var worst: Float = 0, worstIndex = -1
    for (index, (a, b)) in zip(actual, expected).enumerated() {
        let excess = abs(a - b) - (absolute + relative * abs(b))
        if excess > worst || a.isNaN { worst = max(excess, worst); worstIndex = index }
    }
    #expect(worstIndex < 0, "\(what): index \(worstIndex) is \(worstIndex < 0 ? 0 : actual[worstIndex]), expected \(worstIndex < 0 ? 0 : expected[worstIndex])",
            sourceLocation: sourceLocation)
}

/// Float view of a JSON array.
func floats(_ value: Any?) -> [Float] { (value as? [Any])?.compactMap { ($0 as? NSNumber)?.floatValue } ?? [] }
