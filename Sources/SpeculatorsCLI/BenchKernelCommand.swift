import ArgumentParser
import Foundation
import Models
import Tensors

/// `speculators bench kernel`: the verifier's matrix products alone (every layer's projections
/// and the head, the weights a decode step streams), for batches of rows as decoding,
/// verification and batched speculation use them. Separates the kernel from attention and the
/// rest of a forward pass, so a kernel change can be measured before and after. With
/// `--speculator`, the draft's products instead (fc, its layers and its head, in bfloat16 when
/// the checkpoint's weights are exact bfloat16 values, as the engine runs them).
struct BenchKernelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernel", abstract: "Time of the verifier's matrix products for 1 to 32 rows.")

    @OptionGroup var models: ModelOptions
    @Option(help: "Row counts, comma-separated.") var rows = "1,2,4,8,16,32"
    @Option(help: "Rounds (the sizes take turns; medians are reported).") var rounds = 7
    @Flag(help: "Use a small matrix that stays in cache instead of the model's weights (arithmetic ceiling).")
    var cached = false
    @Option(help: "Kernel variants to compare, taking turns in every round: avx512, avx2, portable (comma-separated; default: the best this CPU runs).")
    var instructionSets: String?

    func validate() throws {
        try requireOption(rounds >= 1, "--rounds must be at least 1, got \(rounds)")
        _ = try integerList(rows, option: "--rows", minimum: 1)
        _ = try variants()
    }

    /// The variants to measure, in the order given.
    func variants() throws -> [SmallBatchProduct.InstructionSet] {
        guard let instructionSets else { return [.best] }
        return try instructionSets.split(separator: ",").map { name in
            guard let isa = SmallBatchProduct.InstructionSet(named: String(name.trimmingCharacters(in: .whitespaces))) else {
                throw ValidationError("--instruction-sets: unknown variant '\(name)' (known: avx512, avx2, portable)")
            }
            return isa
        }
    }

    func run() throws {
        let bundle = try models.loadBundle()
        let model = bundle.verifier
        let draft = try models.loadDraft(for: bundle)
        let pool = ThreadPool(threadCount: models.threads)
        let rowCounts = try integerList(rows, option: "--rows", minimum: 1)
        guard let widest = rowCounts.max() else { throw ValidationError("--rows needs at least one positive count") }
        var linears: [Linear]
        if let draft {
            linears = [draft.fc] + draft.layers.flatMap { [$0.qkv, $0.output, $0.gateUp, $0.down] } + [draft.head]
        } else {
            linears = model.layers.flatMap { [$0.qkv, $0.output, $0.gateUp, $0.down] } + [model.head]
        }
        if cached {
            // One matrix applied many times: the kernel's arithmetic ceiling without memory
            // traffic. Its rows fill about 60% of each worker's L2 (512 x 576 for SmolLM2 on
            // cores with 1 MiB; 256 rows where L2 is 512 KiB, as on Zen 3, whose 512 rows ran
            // from L3). Fewer rows measure the per-call cost instead (128 rows, 8 input rows:
            // 243 against 367 GFLOP/s on Zen 5).
            let hidden = model.config.hiddenSize
            let rows = Self.cachedMatrixRows(inFeatures: hidden, threads: pool.threadCount)
            let small = Linear(weight: Tensor(shape: [rows, hidden], values: (0..<(rows * hidden)).map { Float($0 % 17) / 17 }))
            linears = Array(repeating: small, count: 250 * 512 / rows)
        }
        let maxIn = linears.map(\.inFeatures).max() ?? 0, maxOut = linears.map(\.outFeatures).max() ?? 0
        var input = [Float](repeating: 0, count: widest * maxIn)
        for i in input.indices { input[i] = Float((i * 7919) % 1000) / 1000 - 0.5 }
        var output = [Float](repeating: 0, count: widest * maxOut)
        let parameters = linears.reduce(0) { $0 + $1.outFeatures * $1.inFeatures }

        func pass(_ m: Int) {
            input.withUnsafeBufferPointer { x in
                output.withUnsafeMutableBufferPointer { y in
                    guard let xBase = x.baseAddress, let yBase = y.baseAddress else { return }
                    for linear in linears {
                        linear.apply(xBase, rows: m, into: yBase, pool: pool, invariantRows: m)
                    }
                }
            }
        }
        let isas = try variants()
        defer { SmallBatchProduct.limitInstructionSet(to: .avx512) }
        for isa in isas {
            SmallBatchProduct.limitInstructionSet(to: isa)
            for m in rowCounts { pass(m) }
        }
        // Sizes and variants take turns in every round, so each ratio compares the same moments
        // of a machine whose speed drifts.
        var times: [SmallBatchProduct.InstructionSet: [Int: [Double]]] = [:]
        for _ in 0..<rounds {
            for isa in isas {
                SmallBatchProduct.limitInstructionSet(to: isa)
                for m in rowCounts {
                    let start = DispatchTime.now().uptimeNanoseconds
                    pass(m)
                    times[isa, default: [:]][m, default: []].append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
                }
            }
        }
        let what = cached ? "one \(linears[0].outFeatures) x \(linears[0].inFeatures) matrix held in cache, \(linears.count) times"
            : draft.map { "the draft's fc, \($0.layers.count) layer\($0.layers.count == 1 ? "" : "s") + head" }
            ?? "\(model.layers.count) layers + head"
        // Bytes a pass streams per weight: float32, bfloat16 copies (drafts), or quantised blocks
        // (`--quantized-weights`), averaged over the matrices.
        let streamed = linears.reduce(0.0) { total, linear in
            total + Double(linear.quantized?.packedBytes ?? linear.outFeatures * linear.inFeatures * (linear.halfWeight == nil ? 4 : 2))
        }
        let bytesPerWeight = cached ? 4.0 : streamed / Double(parameters)
        for isa in isas {
            SmallBatchProduct.limitInstructionSet(to: isa)
            print("matrix products of \(what), \(String(format: "%.1f", Double(parameters) / 1e6))M weights (\(String(format: "%.3g", bytesPerWeight)) bytes each\(model.usesQuantizedWeights && draft == nil ? ", quantized blocks" : "")), \(pool.threadCount) threads, batch-invariant kernel (\(SmallBatchProduct.instructionSet))")
            let costs = times[isa] ?? [:]
            let one = median(costs[rowCounts[0]] ?? [1])
            for m in rowCounts {
                let t = median(costs[m] ?? [])
                print(String(format: "%3d rows: %7.2f ms = %5.2fx %d row%@, %6.1f GFLOP/s, %5.1f GB/s of weights",
                             m, t * 1000, t / one, rowCounts[0], rowCounts[0] == 1 ? "" : "s",
                             2 * Double(parameters) * Double(m) / t / 1e9, bytesPerWeight * Double(parameters) / t / 1e9))
            }
        }
    }

    /// Rows of the `--cached` matrix: about 60% of the L2 of each of `threads` cores (the
    /// per-core size Linux reports; 1 MiB when it reports none), in multiples of 64, 64 to 512.
    static func cachedMatrixRows(inFeatures: Int, threads: Int) -> Int {
        let reported = sysconf(Int32(_SC_LEVEL2_CACHE_SIZE))
        let l2 = reported > 0 ? reported : 1 << 20
        let rows = Int(Double(l2) * 0.6) * max(threads, 1) / max(inFeatures * 4, 1)
        return min(512, max(64, rows / 64 * 64))
    }
}
