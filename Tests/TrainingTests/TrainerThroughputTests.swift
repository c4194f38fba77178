import Foundation
import Models
import Tensors
import Testing
import Training

/// Throughput on SmolLM2-135M shapes (hidden 576, 9 heads, 3 kv heads, intermediate 1536, draft
/// vocabulary 8192). A measurement, not a unit test: it runs only with TRAINER_BENCHMARK=1.
@Suite("Trainer throughput")
struct TrainerThroughputTests {
    @Test("Token passes per second on SmolLM2 shapes with two threads",
          .enabled(if: ProcessInfo.processInfo.environment["TRAINER_BENCHMARK"] == "1"))
    func smolLM2Shapes() throws {
        let layer = ModelConfig(architecture: .llama, vocabSize: 49152, hiddenSize: 576, intermediateSize: 1536, layerCount: 1,
                                headCount: 9, kvHeadCount: 3, headDim: 64, rmsNormEps: 1e-5, ropeTheta: 100000,
                                maxPositions: 8192, tieWordEmbeddings: false, slidingWindow: 2048)
        let result = try TrainerBenchmark.run(layer: layer, draftVocabSize: 8192, tokensPerBatch: 1024, documentLength: 400,
                                              batches: 4, pool: ThreadPool(threadCount: 2)) { print($0) }
        print("TRAINER THROUGHPUT: \(Int(result.tokensPerSecond)) tokens/s wall, \(result.secondsPerBatch) s per 1024-token batch, \(result.cpuSeconds) CPU s, \(Int(result.tokensPerSecondPerCoreShare)) tokens/s per full 2-core share")
        #expect(result.tokensPerSecond > 0)
    }
}
