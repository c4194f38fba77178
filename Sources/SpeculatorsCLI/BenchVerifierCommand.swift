import ArgumentParser
import Foundation
import Models
import Tensors

/// `speculators bench verifier`: prefill and decode speed, the cost of multi-token verification
/// passes, and decode speed against this machine's measured memory bandwidth, all in one run.
struct BenchVerifierCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verifier", abstract: "Prefill/decode tokens per second and 1/2/4/8-token pass costs.")

    @OptionGroup var models: ModelOptions
    @Option(help: "Prompt length for the prefill measurement.") var promptTokens = 512
    @Option(help: "Tokens decoded per decode run.") var decodeTokens = 128
    @Option(help: "Repetitions (the median is reported).") var runs = 5
    @Option(help: "Sequences in the batched verification measurement (0 skips it).") var batchSequences = 8

    func validate() throws {
        try requireOption(models.speculator == nil, "bench verifier measures the verifier alone; --speculator is not used here (bench spec and bench kernel take one)")
        try requireOption(promptTokens >= 1, "--prompt-tokens must be at least 1, got \(promptTokens)")
        try requireOption(decodeTokens >= 1, "--decode-tokens must be at least 1, got \(decodeTokens)")
        try requireOption(runs >= 1, "--runs must be at least 1, got \(runs)")
        try requireOption(batchSequences >= 0, "--batch-sequences must be 0 or more, got \(batchSequences)")
    }

    func run() throws {
        let bundle = try models.loadBundle()
        let model = bundle.verifier
        let pool = ThreadPool(threadCount: models.threads)
        let vocab = model.config.vocabSize
        let prompt = (0..<promptTokens).map { ($0 * 7919 + 13) % vocab }
        // Decode and the verification passes run on a token sequence of their own, long enough
        // for every pass below whatever --prompt-tokens is.
        let context = (0..<(264 + batchSequences)).map { ($0 * 7919 + 13) % vocab }
        let weightBytes = Double(readBytesPerToken(model, fromBlocks: false))

        report("model: \(bundle.path.path) (\(model.config.architecture.rawValue), \(model.config.layerCount) layers, f32 weights \(String(format: "%.0f", weightBytes / 1e6)) MB read per token)")
        report("threads: \(pool.threadCount), BLAS kernel: \(BLAS.coreName), matrix-product kernel: \(SmallBatchProduct.instructionSet)")
        if let advice = BLAS.pinnedCoreAdvice { report("note: \(advice)") }
        // Warm up: page in the weights and grow the scratch buffers.
        _ = try model.forward([.init(cache: try model.makeCache(capacity: promptTokens + 8), tokens: prompt, logits: .last)], pool: pool)

        let probe = MemoryBandwidth()

        // The forms a greedy row can be computed in, measured taking turns in the same run: the
        // whole float32 head; the bfloat16-screened head (`ScreenedArgmaxHead`, what the engine
        // does for greedy rows); and, for a GGUF verifier, its quantised blocks dequantised exactly
        // on the fly (`--quantized-weights`). All give the same tokens.
        var forms: [WeightForm] = [.float32]
        if model.enableArgmaxScreening() { forms.append(.screened) }
        if try bundle.loadQuantizedWeights() > 0 {
            forms.append(.quantized)
            if forms.contains(.screened) { forms.append(.quantizedScreened) }
        }
        func select(_ form: WeightForm) { model.useQuantizedWeights(form.quantized) }
        var formBytes: [WeightForm: Double] = [.float32: weightBytes]
        formBytes[.screened] = weightBytes - Double(model.head.outFeatures * model.head.inFeatures) * 4 + Double(model.screenedHead?.packedBytes ?? 0)
        if forms.contains(.quantized) {
            select(.quantized)
            formBytes[.quantized] = Double(readBytesPerToken(model, fromBlocks: true))
            formBytes[.quantizedScreened] = (formBytes[.quantized] ?? 0) - Double(model.head.quantized?.packedBytes ?? 0)
                + Double(model.screenedHead?.packedBytes ?? 0)
            select(.float32)
        }

        // Prefill, with the float32 weights and (taking turns) the quantised blocks.
        var prefill: [WeightForm: [Double]] = [:]
        for _ in 0..<max(1, runs / 2) {
            for form in forms where !form.argmaxOnly {
                select(form)
                let cache = try model.makeCache(capacity: promptTokens + 8)
                let start = now()
                _ = try model.forward([.init(cache: cache, tokens: prompt, logits: .last)], pool: pool)
                prefill[form, default: []].append(now() - start)
            }
        }

        // The machine's memory speed drifts by tens of percent within minutes, so each decode run
        // is compared with the bandwidth measured just before and just after it (best of three
        // passes each, averaged), and the median of those per-run ratios is reported.
        var decode: [WeightForm: [Double]] = [:], bandwidths: [Double] = [], fractions: [WeightForm: [Double]] = [:]
        var candidates = 0
        for _ in 0..<runs {
            for form in forms {
                select(form)
                let cache = try model.makeCache(capacity: decodeTokens + 32)
                var output = try model.forward([.init(cache: cache, tokens: Array(context.prefix(16)), logits: .last,
                                                      argmaxOnly: form.argmaxOnly)], pool: pool)
                let before = probe.measure(pool: pool, repetitions: 3)
                let start = now()
                for _ in 0..<decodeTokens {
                    let token = Kernels.argmax(output.logits(request: 0, row: 0), count: vocab)
                    output = try model.forward([.init(cache: cache, tokens: [token], logits: .last, argmaxOnly: form.argmaxOnly)],
                                               pool: pool)
                    candidates += output.screenedCandidates
                }
                let seconds = (now() - start) / Double(decodeTokens)
                let around = (before + probe.measure(pool: pool, repetitions: 3)) / 2
                decode[form, default: []].append(seconds)
                bandwidths.append(around)
                fractions[form, default: []].append((formBytes[form] ?? weightBytes) / seconds / around)
            }
        }

        // Verification passes of m tokens after a 256-token context, rolled back after each.
        let cache = try model.makeCache(capacity: 300)
        _ = try model.forward([.init(cache: cache, tokens: Array(context.prefix(256)), logits: .none)], pool: pool)
        // The sizes take turns (1, 2, 4, 8, 1, 2, ...), so each ratio compares the same moments of
        // a shared machine whose speed drifts; the medians of many turns are reported.
        var passTimes: [WeightForm: [Int: [Double]]] = [:]
        for _ in 0..<(runs * 6) {
            for m in [1, 2, 4, 8] {
                for form in forms {
                    select(form)
                    let start = now()
                    _ = try model.forward([.init(cache: cache, tokens: Array(context[256..<(256 + m)]), logits: .all,
                                                 argmaxOnly: form.argmaxOnly)], pool: pool)
                    passTimes[form, default: [:]][m, default: []].append(now() - start)
                    cache.truncate(to: 256)
                }
            }
        }
        let passCost = passTimes.mapValues { $0.mapValues { median($0) } }

        // The same for a batch: `batchSequences` sequences each verifying m rows in one pass, which
        // is what a step of batched speculative decoding costs against plain batched decoding.
        let batchCaches = try (0..<batchSequences).map { s -> KVCache in
            let cache = try model.makeCache(capacity: 300)
            _ = try model.forward([.init(cache: cache, tokens: Array(context[s..<(s + 128)]), logits: .none)], pool: pool)
            return cache
        }
        var batchTimes: [WeightForm: [Int: [Double]]] = [:]
        for _ in 0..<(runs * 3) where batchSequences > 0 {
            for m in [1, 2, 4] {
                for form in forms {
                    select(form)
                    let requests = batchCaches.enumerated().map { s, cache in
                        TransformerModel.Request(cache: cache, tokens: Array(context[(200 + s)..<(200 + s + m)]), logits: .all,
                                                 argmaxOnly: form.argmaxOnly)
                    }
                    let start = now()
                    _ = try model.forward(requests, pool: pool)
                    batchTimes[form, default: [:]][m, default: []].append(now() - start)
                    for cache in batchCaches { cache.truncate(to: 128) }
                }
            }
        }
        let batchCost = batchTimes.mapValues { $0.mapValues { median($0) } }
        select(.float32)

        let bandwidth = median(bandwidths)
        report(String(format: "memory bandwidth (%d threads, around each decode run, median): %.1f GB/s -> f32 decode ceiling %.1f tok/s",
                     pool.threadCount, bandwidth / 1e9, bandwidth / weightBytes))
        for form in forms where !form.argmaxOnly {
            let times = prefill[form] ?? [1]
            report(String(format: "prefill %d tokens, %@: %.1f tok/s (median of %d)", promptTokens,
                         form.quantized ? form.label : "float32 weights", Double(promptTokens) / median(times), times.count))
        }
        for form in forms {
            let time = median(decode[form] ?? [1]), bytes = formBytes[form] ?? weightBytes
            let ratios = fractions[form] ?? []
            report(String(format: "decode %d tokens, %@: %.1f tok/s (median of %d) = %.0f%% of the f32 decode ceiling; %.0f MB read per token at %.1f GB/s = %.0f%% of the bandwidth measured around each run (median; runs %@)",
                         decodeTokens, form.label, 1 / time, runs, 100 / time / (bandwidth / weightBytes),
                         bytes / 1e6, bytes / time / 1e9, 100 * median(ratios),
                         ratios.map { String(format: "%.0f%%", 100 * $0) }.joined(separator: " ")))
        }
        if forms.contains(.screened) {
            report(String(format: "screened head: %.1f candidate tokens per row on average (exact float32 logits for those only)",
                         Double(candidates) / Double(runs * decodeTokens)))
        }
        for form in forms {
            let costs = passCost[form] ?? [:]
            let one = costs[1] ?? 1
            report(String(format: "verification passes, %@: ", form.label) + [1, 2, 4, 8].map { m in
                String(format: "%d token%@ %.2f ms = %.2fx", m, m == 1 ? "" : "s", (costs[m] ?? 0) * 1000, (costs[m] ?? 0) / one)
            }.joined(separator: ", "))
        }
        for form in forms {
            guard let costs = batchCost[form], let batchOne = costs[1] else { continue }
            for m in [1, 2, 4] {
                let cost = costs[m] ?? 0
                report(String(format: "batch of %d sequences x %d row%@ (%d rows), %@: %.2f ms = %.2fx the 1-row batch, %.0f rows/s",
                             batchSequences, m, m == 1 ? "" : "s", m * batchSequences, form.label, cost * 1000, cost / batchOne,
                             Double(m * batchSequences) / cost))
            }
        }
    }

    /// How a measured pass computes: the float32 weights with the whole head, with the screened
    /// head for greedy rows, or from the checkpoint's quantised blocks.
    enum WeightForm: Hashable {
        case float32, screened, quantized, quantizedScreened
        var argmaxOnly: Bool { self == .screened || self == .quantizedScreened }
        var quantized: Bool { self == .quantized || self == .quantizedScreened }
        var label: String {
            switch self {
            case .float32: return "float32 head"
            case .screened: return "greedy, screened head"
            case .quantized: return "quantized weights (exact)"
            case .quantizedScreened: return "quantized weights, greedy, screened head"
            }
        }
    }

    /// Bytes one decode step streams: every layer's matrices and the head, as float32 or (with
    /// `fromBlocks`) from their quantised blocks where they have them.
    func readBytesPerToken(_ model: TransformerModel, fromBlocks: Bool) -> Int {
        func bytes(_ linear: Linear) -> Int {
            (fromBlocks ? linear.quantized?.packedBytes : nil) ?? linear.outFeatures * linear.inFeatures * 4
        }
        return model.layers.reduce(bytes(model.head)) { total, layer in
            total + bytes(layer.qkv) + bytes(layer.output) + bytes(layer.gateUp) + bytes(layer.down)
        }
    }
}
