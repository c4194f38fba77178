import Foundation
import Models
import Tensors

/// Measures training throughput on synthetic data of a given shape (no verifier needed):
/// random weights, random features, documents of `documentLength` tokens packed into batches of
/// `tokensPerBatch` rows. Reports token passes per second with TTT steps counted once.
public enum TrainerBenchmark {
    public struct Result: Sendable {
        public let tokensPerSecond: Double
        public let secondsPerBatch: Double
        public let batches: Int
        public let tokensPerBatch: Int
        /// Process CPU seconds spent in the timed batches (all threads, spinning included).
        public let cpuSeconds: Double
        /// Tokens per second if every thread had a core to itself: tokens / (CPU seconds / threads).
        /// On a shared machine this is the fair figure; spin-waiting makes it conservative.
        public let tokensPerSecondPerCoreShare: Double
    }

    /// CPU time of the whole process.
    static func processCPUSeconds() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }

    public static func run(layer: ModelConfig, draftVocabSize: Int, auxiliaryLayers: Int = 3, tokensPerBatch: Int = 1024,
                           documentLength: Int = 512, supervisedFraction: Double = 0.7, batches: Int = 5,
                           tttSteps: Int = 3, optimizer kind: OptimizerKind = .adamw,
                           precision: MatmulPrecision = .float32, pool: ThreadPool, log: (String) -> Void = { _ in }) throws -> Result {
        let h = layer.hiddenSize
        let config = Eagle3DraftConfig(layer: layer, draftVocabSize: draftVocabSize,
                                       auxiliaryLayerIds: Array(0..<auxiliaryLayers), normBeforeResidual: true,
                                       normBeforeFC: true, normOutput: true, speculativeTokens: tttSteps)
        var random = TrainingRandom(seed: 1)
        func randomTensor(_ shape: [Int], std: Double) -> Tensor {
            let t = Tensor(zeros: shape)
            for i in 0..<t.count { t.base[i] = Float(random.normal() * std) }
            return t
        }
        let embedding = randomTensor([layer.vocabSize, h], std: 1)
        let head = randomTensor([draftVocabSize, h], std: 1 / Double(h).squareRoot())
        let verifierHead = randomTensor([draftVocabSize, h], std: 1 / Double(h).squareRoot())
        let norm = Tensor(shape: [h], values: Array(repeating: 1, count: h))
        let verifier = TransformerModel(config: layer, embedding: embedding, layers: [], finalNorm: norm,
                                        head: Linear(weight: randomTensor([layer.vocabSize, h], std: 0.05)))
        var draft = try TrainableDraft.fresh(config: config, verifier: verifier,
                                             draftToTarget: Array(0..<draftVocabSize), seed: 2)
        draft.frozen.lmHead = head
        draft.frozen.verifierHead = verifierHead
        let pass = try DraftTrainingPass(draft: draft, options: TTTOptions(steps: tttSteps, precision: precision), pool: pool)
        let gradients = draft.weights.zeros()
        let optimizer: any DraftOptimizer = kind == .adamw
            ? AdamWOptimizer(parameters: draft.weights)
            : try MuonOptimizer(parameters: draft.weights, rowSplits: MuonOptimizer.rowSplits(for: draft), adamWeightDecay: 0.01)

        let width = config.featureWidth
        let features = FloatBuffer(count: tokensPerBatch * width)
        for i in 0..<features.count { features.base[i] = Float(random.normal()) }
        let last = FloatBuffer(count: tokensPerBatch * h)
        for i in 0..<last.count { last.base[i] = Float(random.normal()) }
        var documents: [Range<Int>] = []
        var positions: [Int] = []
        var start = 0
        while start < tokensPerBatch {
            let end = min(tokensPerBatch, start + documentLength)
            documents.append(start..<end)
            positions += (1...(end - start)).map { $0 }
            start = end
        }
        let tokens = (0..<tokensPerBatch).map { _ in Int(random.next() % UInt64(layer.vocabSize)) }
        let mask = (0..<tokensPerBatch).map { _ in random.uniform() < supervisedFraction }
        let batch = try TrainingBatch(tokens: tokens, features: features, lastHidden: last, lossMask: mask,
                                      documents: documents, positions: positions, featureWidth: width, hiddenSize: h)
        // Warm-up (allocates the scratch buffers).
        _ = try pass.run(batch, gradients: gradients)
        let started = Date()
        let cpuStarted = processCPUSeconds()
        for index in 0..<batches {
            gradients.zeroAll()
            let metrics = try pass.run(batch, gradients: gradients)
            gradients.clipGlobalNorm(1)
            optimizer.step(parameters: draft.weights, gradients: gradients, learningRate: 1e-4, pool: pool)
            let elapsed = Date().timeIntervalSince(started)
            log(String(format: "batch %d/%d loss %.4f  %.0f tokens/s", index + 1, batches, metrics.loss,
                       Double((index + 1) * tokensPerBatch) / elapsed))
        }
        let seconds = Date().timeIntervalSince(started)
        let cpu = processCPUSeconds() - cpuStarted
        let passes = Double(batches * tokensPerBatch)
        return Result(tokensPerSecond: passes / seconds, secondsPerBatch: seconds / Double(batches),
                      batches: batches, tokensPerBatch: tokensPerBatch, cpuSeconds: cpu,
                      tokensPerSecondPerCoreShare: passes / (cpu / Double(pool.threadCount)))
    }
}
