import Foundation
import Models

extension SpeculativeEngine {
    /// Measures the verifier and the draft on synthetic batches of 1 to `maxRows` rows (powers
    /// of two, the median of three passes each) so that the planner knows from the first step
    /// what speculating costs at any batch size. Without it the costs are learnt from the passes
    /// the engine happens to run, which at first are all plain decoding. Takes well under a
    /// second for SmolLM2; the server runs it once at start, `bench spec` once per draft.
    public func calibrateCosts(maxRows: Int = 64) throws {
        let vocab = verifier.config.vocabSize
        let sizes = sequence(first: 1) { $0 * 2 }.prefix { $0 <= min(maxRows, configuration.maxBatchTokens) }
        let lanes = 8, context = 32
        let prefix = (0..<lanes).map { lane in (0..<context).map { (lane * 131 + $0 * 7919 + 11) % vocab } }
        func tokens(_ lane: Int, _ count: Int) -> [Int] { (0..<count).map { (lane * 31 + $0 * 104_729 + 5) % vocab } }
        /// The median of three timed runs of `body`, each after `before` (untimed).
        func timed(before: () throws -> Void = {}, _ body: () throws -> Void) rethrows -> Double {
            var samples: [Double] = []
            for _ in 0..<3 {
                try before()
                let start = DispatchTime.now().uptimeNanoseconds
                try body()
                samples.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            }
            return samples.sorted()[1]
        }

        let auxiliaryLayers = draft?.config.auxiliaryLayerIds ?? []
        let caches = try (0..<lanes).map { lane -> KVCache in
            let cache = try verifier.makeCache(capacity: context + maxRows)
            _ = try verifier.forward([.init(cache: cache, tokens: prefix[lane], logits: .none)], pool: pool)
            return cache
        }
        for rows in sizes {
            let used = min(rows, lanes)
            let seconds = try timed {
                let requests = (0..<used).map {
                    TransformerModel.Request(cache: caches[$0], tokens: tokens($0, rows / used), logits: .all)
                }
                _ = try verifier.forward(requests, auxiliaryLayers: auxiliaryLayers, pool: pool)
                for cache in caches { cache.truncate(to: context) }
            }
            costs.verify.observe(rows: rows, seconds: seconds)
        }
        costs.coversBatches = true

        guard let draft else { return }
        func evict() throws {
            _ = try verifier.forward([.init(cache: caches[0], tokens: tokens(0, 1), logits: .last)], pool: pool)
            caches[0].truncate(to: context)
        }
        let features = [Float](repeating: 0.01, count: maxRows * max(draft.config.featureWidth, draft.hiddenSize))
        let draftCaches = try (0..<lanes).map { _ in try draft.makeCache(capacity: maxRows + 1) }
        try features.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            for rows in sizes {
                let used = min(rows, lanes)
                func requests() -> [Eagle3DraftModel.Request] {
                    (0..<used).map { Eagle3DraftModel.Request(cache: draftCaches[$0], tokens: tokens($0, rows / used), logits: .last) }
                }
                // In a real step a verifier pass (hundreds of MB) runs between draft passes and
                // evicts the draft's weights from the caches: measured back to back, a one-row
                // draft pass read them from L3 and looked 2-3 times cheaper than it is.
                let context = try timed(before: evict) {
                    _ = try draft.forward(requests(), hidden: .verifierFeatures(base), pool: pool)
                    for cache in draftCaches { cache.truncate(to: 0) }
                }
                costs.draftContext.observe(rows: rows, seconds: context)
                let chain = try timed(before: evict) {
                    _ = try draft.forward(requests(), hidden: .draftHidden(base), pool: pool)
                    for cache in draftCaches { cache.truncate(to: 0) }
                }
                costs.draftChain.observe(rows: rows, seconds: chain)
            }
        }
    }
}
