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
        let weightBytes = Double(weightFloatsReadPerToken(model)) * 4

        report("model: \(bundle.path.path) (\(model.config.architecture.rawValue), \(model.config.layerCount) layers, f32 weights \(String(format: "%.0f", weightBytes / 1e6)) MB read per token)")
        report("threads: \(pool.threadCount), BLAS kernel: \(BLAS.coreName), matrix-product kernel: \(SmallBatchProduct.instructionSet)")
        if let advice = BLAS.pinnedCoreAdvice { report("note: \(advice)") }
        // Warm up: page in the weights and grow the scratch buffers.
        _ = try model.forward([.init(cache: try model.makeCache(capacity: promptTokens + 8), tokens: prompt, logits: .last)], pool: pool)

        let probe = MemoryBandwidth()

        var prefill: [Double] = []
        for _ in 0..<max(1, runs / 2) {
            let cache = try model.makeCache(capacity: promptTokens + 8)
            let start = now()
            _ = try model.forward([.init(cache: cache, tokens: prompt, logits: .last)], pool: pool)
            prefill.append(now() - start)
        }

        // Greedy rows can take their argmax from the bfloat16-screened head (`ScreenedArgmaxHead`,
        // what the engine does): decode and the passes are measured with it and with the whole
        // float32 head, taking turns in the same run.
        let screening = model.enableArgmaxScreening()
        let heads = screening ? [false, true] : [false]
        func label(_ screened: Bool) -> String { screened ? "greedy, screened head" : "float32 head" }
        let screenedBytes = weightBytes - Double(model.head.weight.count) * 4 + Double(model.screenedHead?.packedBytes ?? 0)

        // The machine's memory speed drifts by tens of percent within minutes, so each decode run
        // is compared with the bandwidth measured just before and just after it (best of three
        // passes each, averaged), and the median of those per-run ratios is reported.
        var decode: [Bool: [Double]] = [:], bandwidths: [Double] = [], fractions: [Bool: [Double]] = [:]
        var candidates = 0
        for _ in 0..<runs {
            for screened in heads {
                let cache = try model.makeCache(capacity: decodeTokens + 32)
                var output = try model.forward([.init(cache: cache, tokens: Array(context.prefix(16)), logits: .last,
                                                      argmaxOnly: screened)], pool: pool)
                let before = probe.measure(pool: pool, repetitions: 3)
                let start = now()
                for _ in 0..<decodeTokens {
                    let token = Kernels.argmax(output.logits(request: 0, row: 0), count: vocab)
                    output = try model.forward([.init(cache: cache, tokens: [token], logits: .last, argmaxOnly: screened)],
                                               pool: pool)
                    candidates += output.screenedCandidates
                }
                let seconds = (now() - start) / Double(decodeTokens)
                let around = (before + probe.measure(pool: pool, repetitions: 3)) / 2
                decode[screened, default: []].append(seconds)
                bandwidths.append(around)
                fractions[screened, default: []].append((screened ? screenedBytes : weightBytes) / seconds / around)
            }
        }

        // Verification passes of m tokens after a 256-token context, rolled back after each.
        let cache = try model.makeCache(capacity: 300)
        _ = try model.forward([.init(cache: cache, tokens: Array(context.prefix(256)), logits: .none)], pool: pool)
        // The sizes take turns (1, 2, 4, 8, 1, 2, ...), so each ratio compares the same moments of
        // a shared machine whose speed drifts; the medians of many turns are reported.
        var passTimes: [Bool: [Int: [Double]]] = [:]
        for _ in 0..<(runs * 6) {
            for m in [1, 2, 4, 8] {
                for screened in heads {
                    let start = now()
                    _ = try model.forward([.init(cache: cache, tokens: Array(context[256..<(256 + m)]), logits: .all,
                                                 argmaxOnly: screened)], pool: pool)
                    passTimes[screened, default: [:]][m, default: []].append(now() - start)
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
        var batchTimes: [Bool: [Int: [Double]]] = [:]
        for _ in 0..<(runs * 3) where batchSequences > 0 {
            for m in [1, 2, 4] {
                for screened in heads {
                    let requests = batchCaches.enumerated().map { s, cache in
                        TransformerModel.Request(cache: cache, tokens: Array(context[(200 + s)..<(200 + s + m)]), logits: .all,
                                                 argmaxOnly: screened)
                    }
                    let start = now()
                    _ = try model.forward(requests, pool: pool)
                    batchTimes[screened, default: [:]][m, default: []].append(now() - start)
                    for cache in batchCaches { cache.truncate(to: 128) }
                }
            }
        }
        let batchCost = batchTimes.mapValues { $0.mapValues { median($0) } }

        let prefillRate = Double(promptTokens) / median(prefill)
        let bandwidth = median(bandwidths)
        report(String(format: "memory bandwidth (%d threads, around each decode run, median): %.1f GB/s -> f32 decode ceiling %.1f tok/s",
                     pool.threadCount, bandwidth / 1e9, bandwidth / weightBytes))
        report(String(format: "prefill %d tokens: %.1f tok/s (median of %d)", promptTokens, prefillRate, prefill.count))
        for screened in heads {
            let time = median(decode[screened] ?? [1]), bytes = screened ? screenedBytes : weightBytes
            let ratios = fractions[screened] ?? []
            report(String(format: "decode %d tokens, %@: %.1f tok/s (median of %d) = %.0f%% of the f32 decode ceiling; %.0f MB read per token at %.1f GB/s = %.0f%% of the bandwidth measured around each run (median; runs %@)",
                         decodeTokens, label(screened), 1 / time, runs, 100 / time / (bandwidth / weightBytes),
                         bytes / 1e6, bytes / time / 1e9, 100 * median(ratios),
                         ratios.map { String(format: "%.0f%%", 100 * $0) }.joined(separator: " ")))
        }
        if screening {
            report(String(format: "screened head: %.1f candidate tokens per row on average (exact float32 logits for those only)",
                         Double(candidates) / Double(runs * decodeTokens)))
        }
        for screened in heads {
            let costs = passCost[screened] ?? [:]
            let one = costs[1] ?? 1
            report(String(format: "verification passes, %@: ", label(screened)) + [1, 2, 4, 8].map { m in
                String(format: "%d token%@ %.2f ms = %.2fx", m, m == 1 ? "" : "s", (costs[m] ?? 0) * 1000, (costs[m] ?? 0) / one)
            }.joined(separator: ", "))
        }
        for screened in heads {
            guard let costs = batchCost[screened], let batchOne = costs[1] else { continue }
            for m in [1, 2, 4] {
                let cost = costs[m] ?? 0
                report(String(format: "batch of %d sequences x %d row%@ (%d rows), %@: %.2f ms = %.2fx the 1-row batch, %.0f rows/s",
                             batchSequences, m, m == 1 ? "" : "s", m * batchSequences, label(screened), cost * 1000, cost / batchOne,
                             Double(m * batchSequences) / cost))
            }
        }
    }

    /// Floats of weights one decode step streams from memory (every layer, the head).
    func weightFloatsReadPerToken(_ model: TransformerModel) -> Int {
        var total = model.head.weight.count
        for layer in model.layers {
            total += layer.qkv.weight.count + layer.output.weight.count + layer.gateUp.weight.count + layer.down.weight.count
        }
        return total
    }
}
