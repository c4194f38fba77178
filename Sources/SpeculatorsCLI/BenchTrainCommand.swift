import ArgumentParser
import Foundation
import Models
import Tensors
import Training

/// `speculators bench train`: trainer throughput on SmolLM2-135M draft shapes (hidden 576, 9
/// heads / 3 KV heads, intermediate 1536, draft vocabulary 8192) with synthetic data, in token
/// passes per second (TTT steps counted once).
struct BenchTrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train", abstract: "EAGLE-3 training throughput on SmolLM2-sized draft shapes.")

    @Option(help: "Worker threads.") var threads = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: "Packed tokens per batch.") var tokensPerBatch = 1024
    @Option(help: "Batches to time.") var batches = 4
    @Option(help: "Optimizer: adamw or muon (its Newton-Schulz iterations cost about a third of a 1024-token step).")
    var optimizer = "adamw"

    func validate() throws {
        try requireOption(threads >= 1, "--threads must be at least 1, got \(threads)")
        try requireOption(tokensPerBatch >= 1, "--tokens-per-batch must be at least 1, got \(tokensPerBatch)")
        try requireOption(batches >= 1, "--batches must be at least 1, got \(batches)")
        _ = try optimizerKind()
    }

    /// `--optimizer`, parsed once for `validate()` and `run()` (a usage error names the option).
    func optimizerKind() throws -> OptimizerKind {
        guard let kind = OptimizerKind(rawValue: optimizer) else {
            throw ValidationError("--optimizer must be adamw or muon, not '\(optimizer)'")
        }
        return kind
    }

    func run() throws {
        BLAS.configure()
        let layer = ModelConfig(architecture: .llama, vocabSize: 49152, hiddenSize: 576, intermediateSize: 1536, layerCount: 1,
                                headCount: 9, kvHeadCount: 3, headDim: 64, rmsNormEps: 1e-5, ropeTheta: 100000,
                                maxPositions: 8192, tieWordEmbeddings: false, slidingWindow: 2048)
        let result = try TrainerBenchmark.run(layer: layer, draftVocabSize: 8192, tokensPerBatch: tokensPerBatch,
                                              documentLength: 400, batches: batches,
                                              optimizer: try optimizerKind(),
                                              pool: ThreadPool(threadCount: threads)) { report($0) }
        report(String(format: "trainer throughput: %.0f token passes/s wall-clock with %d threads and %@ (%.2f s per %d-token batch, %.1f CPU s)",
                      result.tokensPerSecond, threads, optimizer, result.secondsPerBatch, tokensPerBatch, result.cpuSeconds))
    }
}
