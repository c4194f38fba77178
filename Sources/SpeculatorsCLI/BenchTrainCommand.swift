import ArgumentParser
import Foundation
import Models
import Tensors
import Training

/// `speculators bench train`: trainer throughput on SmolLM2-135M draft shapes (hidden 576, 9
/// heads / 3 KV heads, intermediate 1536, draft vocabulary 8192) with synthetic data, in token
/// passes per second (TTT steps counted once). By default float32 and bfloat16 matrix products
/// are timed in alternating runs of one process, and the ratio of their medians is printed.
struct BenchTrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train", abstract: "EAGLE-3 training throughput on SmolLM2-sized draft shapes.")

    @Option(help: "Worker threads.") var threads = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: "Packed tokens per batch.") var tokensPerBatch = 1024
    @Option(help: "Batches to time.") var batches = 4
    @Option(help: "Optimizer: adamw or muon (its Newton-Schulz iterations cost about a third of a 1024-token step).")
    var optimizer = "adamw"
    @Option(help: "Matrix-product precision: f32, bf16, or both (alternating runs, with the ratio).")
    var matmulPrecision = "both"
    @Option(help: "Runs per precision (medians are reported).") var rounds = 3

    func validate() throws {
        try requireOption((1...1024).contains(threads), "--threads must be between 1 and 1024, got \(threads)")
        try requireOption(tokensPerBatch >= 1, "--tokens-per-batch must be at least 1, got \(tokensPerBatch)")
        try requireOption(batches >= 1, "--batches must be at least 1, got \(batches)")
        try requireOption(rounds >= 1, "--rounds must be at least 1, got \(rounds)")
        _ = try optimizerKind()
        _ = try precisions()
    }

    /// `--matmul-precision`, parsed.
    func precisions() throws -> [MatmulPrecision] {
        if matmulPrecision == "both" { return [.float32, .bfloat16] }
        guard let precision = MatmulPrecision(rawValue: matmulPrecision) else {
            throw ValidationError("--matmul-precision must be f32, bf16 or both, not '\(matmulPrecision)'")
        }
        return [precision]
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
        let pool = ThreadPool(threadCount: threads)
        let kinds = try precisions()
        if kinds.contains(.bfloat16) && !BFloat16Product.isSupported {
            report("bench train: this CPU has no AVX-512 BF16; bf16 runs use float32 products")
        }
        var rates: [MatmulPrecision: [Double]] = [:]
        for round in 1...rounds {
            for precision in kinds {
                let result = try TrainerBenchmark.run(layer: layer, draftVocabSize: 8192, tokensPerBatch: tokensPerBatch,
                                                      documentLength: 400, batches: batches, optimizer: try optimizerKind(),
                                                      precision: precision, pool: pool) { _ in }
                rates[precision, default: []].append(result.tokensPerSecond)
                report(String(format: "run %d %@: %.0f token passes/s (%.2f s per %d-token batch, %.1f CPU s)", round,
                              precision.rawValue, result.tokensPerSecond, result.secondsPerBatch, tokensPerBatch, result.cpuSeconds))
            }
        }
        func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
        for precision in kinds {
            report(String(format: "trainer throughput %@: %.0f token passes/s wall-clock (median of %d), %d threads, %@",
                          precision.rawValue, median(rates[precision] ?? [0]), rounds, threads, optimizer))
        }
        if let f32 = rates[.float32], let bf16 = rates[.bfloat16] {
            report(String(format: "bf16 / f32 matrix products: %.2fx", median(bf16) / median(f32)))
        }
    }
}
