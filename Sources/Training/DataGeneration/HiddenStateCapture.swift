import Foundation
import Models
import Tensors

/// Captures the verifier's hidden states for finished rows: one prefill forward per row (several rows per
/// call, up to `batchTokens` tokens), asking for the residual streams entering the aux layers and the last
/// layer's pre-norm output (id `layerCount`), no logits.
public final class HiddenStateCapture {
    public let verifier: TransformerModel
    public let auxLayerIds: [Int]
    public let batchTokens: Int
    let pool: ThreadPool

    public init(verifier: TransformerModel, auxLayerIds: [Int], pool: ThreadPool, batchTokens: Int = 2048) throws {
        let layers = verifier.config.layerCount
        guard !auxLayerIds.isEmpty, auxLayerIds.allSatisfy({ $0 >= 0 && $0 < layers }) else {
            throw DataGenerationError.invalidSetting("aux layer ids \(auxLayerIds) must be non-empty and in 0..<\(layers)")
        }
        guard auxLayerIds == auxLayerIds.sorted(), Set(auxLayerIds).count == auxLayerIds.count else {
            throw DataGenerationError.invalidSetting("aux layer ids \(auxLayerIds) must be increasing and distinct")
        }
        self.verifier = verifier
        self.auxLayerIds = auxLayerIds
        self.pool = pool
        self.batchTokens = max(1, batchTokens)
    }

    /// Runs the rows through the verifier and appends them with their states to `shard`.
    public func capture(_ rows: [TrainingRow], into shard: inout ShardBuilder) throws {
        let ids = auxLayerIds + [verifier.config.layerCount]
        var start = 0
        while start < rows.count {
            var end = start + 1
            var tokens = rows[start].inputIds.count
            while end < rows.count, tokens + rows[end].inputIds.count <= batchTokens {
                tokens += rows[end].inputIds.count
                end += 1
            }
            let batch = Array(rows[start..<end])
            let requests = try batch.map { row in
                TransformerModel.Request(cache: try verifier.makeCache(capacity: max(1, row.inputIds.count)),
                                         tokens: row.inputIds, logits: .none)
            }
            let output = try verifier.forward(requests, auxiliaryLayers: ids, pool: pool)
            guard let states = output.auxiliary else {
                throw DataGenerationError.invalidSetting("the verifier returned no auxiliary hidden states")
            }
            for (index, row) in batch.enumerated() {
                let first = output.rowRanges[index].lowerBound
                shard.append(row, states: states + first * output.auxiliaryWidth, pool: pool)
            }
            start = end
        }
    }
}
