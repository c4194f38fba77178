import Foundation
import Models

extension SpeculativeEngine {
    /// Measures the verifier and the draft on synthetic batches of 1 to `maxRows` rows (powers
    /// of two) so that the planner knows from the first step what speculating costs at any batch
    /// size. Without it the costs are learnt from the passes the engine happens to run, which at
    /// first are all plain decoding. The sizes take turns over five rounds (after one untimed
    /// round) and each size keeps its median: measured size by size, a moment of a shared machine
    /// once made a 1-row pass look 30% cheaper than the 2-row one next to it. Takes a few seconds
    /// for SmolLM2; the server runs it once at start, `bench spec` once per draft. `generate`
    /// measures up to 4 rows, with four 32-token contexts to prefill instead of eight: a third
    /// of a second.
    public func calibrateCosts(maxRows: Int = 64) throws {
        let vocab = verifier.config.vocabSize
        let sizes = Array(sequence(first: 1) { $0 * 2 }.prefix { $0 <= min(maxRows, configuration.maxBatchTokens) })
        let lanes = min(8, max(1, maxRows)), context = 32, rounds = 5
        let prefix = (0..<lanes).map { lane in (0..<context).map { (lane * 131 + $0 * 7919 + 11) % vocab } }
        func tokens(_ lane: Int, _ count: Int) -> [Int] { (0..<count).map { (lane * 31 + $0 * 104_729 + 5) % vocab } }
        /// Medians by size of `measure(size)` over `rounds` timed rounds in which the sizes take turns.
        func medians(_ sizes: [Int] = sizes, _ measure: (Int) throws -> Double) rethrows -> [Int: Double] {
            var samples: [Int: [Double]] = [:]
            for round in 0...rounds {
                for rows in sizes {
                    let seconds = try measure(rows)
                    if round > 0 { samples[rows, default: []].append(seconds) }
                }
            }
            return samples.mapValues { $0.sorted()[$0.count / 2] }
        }
        func timed(_ body: () throws -> Void) rethrows -> Double {
            let start = DispatchTime.now().uptimeNanoseconds
            try body()
            return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        }

        let auxiliaryLayers = draft?.config.auxiliaryLayerIds ?? []
        let caches = try (0..<lanes).map { lane -> KVCache in
            let cache = try verifier.makeCache(capacity: context + maxRows)
            _ = try verifier.forward([.init(cache: cache, tokens: prefix[lane], logits: .none)], pool: pool)
            return cache
        }
        let verify = try medians { rows in
            let used = min(rows, lanes)
            return try timed {
                let requests = (0..<used).map {
                    TransformerModel.Request(cache: caches[$0], tokens: tokens($0, rows / used), logits: .all,
                                             argmaxOnly: configuration.argmaxScreening)
                }
                _ = try verifier.forward(requests, auxiliaryLayers: auxiliaryLayers, pool: pool)
                for cache in caches { cache.truncate(to: context) }
            }
        }
        for (rows, seconds) in verify { costs.verify.observe(rows: rows, seconds: seconds) }
        costs.coversBatches = true

        guard let draft else { return }
        func evict() throws {
            _ = try verifier.forward([.init(cache: caches[0], tokens: tokens(0, 1), logits: .last)], pool: pool)
            caches[0].truncate(to: context)
        }
        // The draft's context pass also takes the features a request queued while it decoded
        // plainly (up to a probe interval's worth) when it drafts again, so its curve is measured
        // that far whatever the batch: extrapolated linearly from four rows, catching up 16 rows
        // looked twice its cost (1.98 against 0.88 ms) and kept a lone request from drafting.
        let contextSizes = Array(sequence(first: 1) { $0 * 2 }.prefix { $0 <= max(maxRows, AdaptiveSpeculation.maxProbeInterval) })
        let draftRows = contextSizes.last ?? maxRows
        let features = [Float](repeating: 0.01, count: draftRows * max(draft.config.featureWidth, draft.hiddenSize))
        let draftCaches = try (0..<lanes).map { _ in try draft.makeCache(capacity: draftRows + 1) }
        try features.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            func requests(_ rows: Int) -> [Eagle3DraftModel.Request] {
                let used = min(rows, lanes)
                return (0..<used).map {
                    Eagle3DraftModel.Request(cache: draftCaches[$0], tokens: tokens($0, rows / used), logits: .last)
                }
            }
            // In a real step a verifier pass (hundreds of MB) runs between draft passes and
            // evicts the draft's weights from the caches: measured back to back, a one-row
            // draft pass read them from L3 and looked 2-3 times cheaper than it is.
            let context = try medians(contextSizes) { rows in
                try evict()
                return try timed {
                    _ = try draft.forward(requests(rows), hidden: .verifierFeatures(base), pool: pool)
                    for cache in draftCaches { cache.truncate(to: 0) }
                }
            }
            let chain = try medians { rows in
                try evict()
                return try timed {
                    _ = try draft.forward(requests(rows), hidden: .draftHidden(base), pool: pool)
                    for cache in draftCaches { cache.truncate(to: 0) }
                }
            }
            for (rows, seconds) in context { costs.draftContext.observe(rows: rows, seconds: seconds) }
            for (rows, seconds) in chain { costs.draftChain.observe(rows: rows, seconds: seconds) }
        }
    }
}
