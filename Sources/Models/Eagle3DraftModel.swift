import Foundation
import Checkpoints
import Tensors

/// The numbers an EAGLE-3 draft needs from its `config.json` (speculators format).
public struct Eagle3DraftConfig: Sendable, Equatable {
    /// `transformer_layer_config`: the draft layers' shape; `layerCount` is the draft's depth and
    /// `vocabSize` the verifier's vocabulary.
    public var layer: ModelConfig
    public var draftVocabSize: Int
    /// Verifier layer ids whose entering residual streams feed `fc` (resolved, never empty).
    public var auxiliaryLayerIds: [Int]
    /// Width of each verifier hidden state (`target_hidden_size`, else the draft's hidden size).
    public var targetHiddenSize: Int
    public var normBeforeResidual: Bool
    public var normBeforeFC: Bool
    public var fcNorm: Bool
    public var normOutput: Bool
    /// Draft tokens per step of the default proposal method.
    public var speculativeTokens: Int

    public init(layer: ModelConfig, draftVocabSize: Int, auxiliaryLayerIds: [Int], targetHiddenSize: Int? = nil,
                normBeforeResidual: Bool = true, normBeforeFC: Bool = false, fcNorm: Bool = false,
                normOutput: Bool = false, speculativeTokens: Int = 3) {
        self.layer = layer
        self.draftVocabSize = draftVocabSize
        self.auxiliaryLayerIds = auxiliaryLayerIds
        self.targetHiddenSize = targetHiddenSize ?? layer.hiddenSize
        self.normBeforeResidual = normBeforeResidual
        self.normBeforeFC = normBeforeFC
        self.fcNorm = fcNorm
        self.normOutput = normOutput
        self.speculativeTokens = speculativeTokens
    }

    /// `fc` input width: one verifier hidden state per auxiliary layer.
    public var featureWidth: Int { auxiliaryLayerIds.count * targetHiddenSize }
}

/// An EAGLE-3 draft: `fc` over verifier features, a first decoder layer that attends over
/// `[norm(embedding), norm(hidden)]`, optional further layers, and a head over the draft vocabulary
/// whose ids map to verifier ids through `d2t`.
///
/// Like the verifier, `forward` runs a packed batch: the context pass of several sequences
/// (rows fed from verifier features through `fc`) or one chain step of several sequences (rows
/// fed from the draft's own previous output). Not re-entrant.
public final class Eagle3DraftModel: @unchecked Sendable {
    public let config: Eagle3DraftConfig
    public let embedding: Tensor
    public let fc: Linear
    public let inputNorm: Tensor?
    public let fcNorms: [Tensor]
    public let hiddenNorm: Tensor
    public let layers: [DecoderLayerWeights]
    public let finalNorm: Tensor
    public let head: Linear
    /// Verifier token id of each draft id (`i + d2t[i]`, or `i` without a mapping).
    public let draftToTarget: [Int]
    public let rope: RotaryEmbedding
    let shape: AttentionShape

    private let workspace = LayerWorkspace()
    private let features = Scratch()
    private let inputCopy = Scratch()
    private let residual = Scratch()
    private let layerInput = Scratch()
    private let selectedHidden = Scratch()
    private let nextHidden = Scratch()
    private let logitsScratch = Scratch()
    private let lock = NSLock()
    /// A forward's bookkeeping, kept so that its arrays keep their storage between calls (see
    /// `TransformerModel`): proposals, confidences and ranges go out in `Output` and are
    /// overwritten in place by the next forward once the caller has dropped it.
    private var layout = BatchLayout()
    private var positions: [Int] = []
    private var selectedRows: [Int] = []
    private var selectedRanges: [Range<Int>] = []
    private var proposals: [Int] = []
    private var confidences: [Float] = []

    public init(config: Eagle3DraftConfig, embedding: Tensor, fc: Linear, inputNorm: Tensor?, fcNorms: [Tensor],
                hiddenNorm: Tensor, layers: [DecoderLayerWeights], finalNorm: Tensor, head: Linear,
                draftToTarget: [Int]) {
        self.config = config
        self.embedding = embedding
        self.fc = fc
        self.inputNorm = inputNorm
        self.fcNorms = fcNorms
        self.hiddenNorm = hiddenNorm
        self.layers = layers
        self.finalNorm = finalNorm
        self.head = head
        self.draftToTarget = draftToTarget
        let layer = config.layer
        rope = RotaryEmbedding(headDim: layer.headDim, theta: layer.ropeTheta, scaling: layer.ropeScaling,
                               maxPositions: layer.maxPositions)
        shape = AttentionShape(headCount: layer.headCount, kvHeadCount: layer.kvHeadCount, headDim: layer.headDim,
                               rmsNormEps: layer.rmsNormEps, slidingWindow: layer.slidingWindow)
    }

    public var hiddenSize: Int { config.layer.hiddenSize }

    /// A draft cache for one sequence.
    public func makeCache(capacity: Int) throws -> KVCache {
        try KVCache(layerCount: config.layer.layerCount, kvHeadCount: config.layer.kvHeadCount,
                    headDim: config.layer.headDim, capacity: min(capacity, config.layer.maxPositions))
    }

    /// Where the hidden input of each packed row comes from.
    public enum HiddenInput {
        /// `[rows, featureWidth]` concatenated verifier states: passed through `fc` (context pass).
        case verifierFeatures(UnsafePointer<Float>)
        /// `[rows, hidden]` outputs of the previous draft step (chain steps): used as they are.
        case draftHidden(UnsafePointer<Float>)
    }

    public struct Request: Sendable {
        public let cache: KVCache
        /// Verifier token ids (the draft embeds target ids).
        public let tokens: [Int]
        public let logits: TransformerModel.LogitRows
        public init(cache: KVCache, tokens: [Int], logits: TransformerModel.LogitRows) {
            self.cache = cache
            self.tokens = tokens
            self.logits = logits
        }
    }

    /// Results valid until the next `forward`.
    public struct Output {
        /// `[selectedRows, draftVocab]` draft-vocabulary logits.
        public let logits: UnsafeMutablePointer<Float>
        /// `[selectedRows, hidden]`: what the next chain step takes as its hidden input
        /// (pre-norm layer output, or post-norm with `norm_output`).
        public let nextHidden: UnsafeMutablePointer<Float>
        /// Greedy proposal of each selected row, as a verifier token id.
        public let proposedTokens: [Int]
        /// The draft's probability of each proposal (its softmax maximum): how likely the
        /// verifier is to accept it, once calibrated (`ConfidenceCalibration` in the engine).
        public let confidences: [Float]
        /// Per request, its selected rows.
        public let selectedRanges: [Range<Int>]
        public let draftVocabularySize: Int
    }

    public func forward(_ requests: [Request], hidden input: HiddenInput, pool: ThreadPool) throws -> Output {
        lock.lock()
        defer { lock.unlock() }
        let h = hiddenSize
        for request in requests {
            if request.cache.length + request.tokens.count > request.cache.capacity {
                throw TransformerModel.ForwardError.contextFull(needed: request.cache.length + request.tokens.count,
                                                                capacity: request.cache.capacity)
            }
            for token in request.tokens where token < 0 || token >= embedding.rows {
                throw TransformerModel.ForwardError.tokenOutOfRange(token, vocabulary: embedding.rows)
            }
        }
        layout.pack(count: requests.count, cache: { requests[$0].cache }, rowCount: { requests[$0].tokens.count })
        let layout = layout
        let rows = layout.rowCount
        layout.positions(into: &positions)
        let eps = config.layer.rmsNormEps

        // Hidden inputs arrive in request order; the layout packs short segments first.
        func reordered(_ pointer: UnsafePointer<Float>, width: Int) -> UnsafePointer<Float> {
            let copy = inputCopy.pointer(max(rows, 1) * width)
            var source = 0
            for (index, request) in requests.enumerated() {
                let segment = layout.segments[layout.segmentOfRequest[index]]
                (copy + segment.rowStart * width).update(from: pointer + source * width, count: request.tokens.count * width)
                source += request.tokens.count
            }
            return UnsafePointer(copy)
        }

        // The hidden input g of every row.
        let g: UnsafePointer<Float>
        switch input {
        case let .draftHidden(pointer):
            g = reordered(pointer, width: h)
        case let .verifierFeatures(unordered):
            let width = config.featureWidth
            let pointer = reordered(unordered, width: width)
            var fcInput = pointer
            if let inputNorm {
                let normed = features.pointer(rows * width)
                Kernels.rmsNorm(pointer, weight: inputNorm.base, eps: eps, rows: rows, dim: width, into: normed)
                fcInput = UnsafePointer(normed)
            } else if !fcNorms.isEmpty {
                let normed = features.pointer(rows * width)
                let chunk = config.targetHiddenSize
                for (index, norm) in fcNorms.enumerated() {
                    Kernels.rmsNorm(pointer + index * chunk, weight: norm.base, eps: eps, rows: rows, dim: chunk,
                                    ldInput: width, into: normed + index * chunk, ldOutput: width)
                }
                fcInput = UnsafePointer(normed)
            }
            let projected = workspace.projected.pointer(rows * h)
            fc.apply(fcInput, rows: rows, into: projected, pool: pool, invariantRows: layout.invariantRowCount,
                     gemmSegments: layout.gemmSegments)
            g = UnsafePointer(projected)
        }

        // Layer 0: attention over [norm(embedding), hidden_norm(g)].
        let x = residual.pointer(max(rows, 1) * h)
        let u = layerInput.pointer(max(rows, 1) * 2 * h)
        for (segmentIndex, segment) in layout.segments.enumerated() {
            for (i, token) in requests[layout.requestOfSegment[segmentIndex]].tokens.enumerated() {
                Kernels.rmsNorm(embedding.base + token * h, weight: layers[0].inputNorm.base, eps: eps, rows: 1,
                                dim: h, into: u + (segment.rowStart + i) * 2 * h)
            }
        }
        Kernels.rmsNorm(g, weight: hiddenNorm.base, eps: eps, rows: rows, dim: h, into: u + h, ldOutput: 2 * h)
        for r in 0..<rows {
            if config.normBeforeResidual {
                (x + r * h).update(from: u + r * 2 * h + h, count: h)
            } else {
                (x + r * h).update(from: g + r * h, count: h)
            }
        }
        DecoderLayer.forward(layers[0], layerIndex: 0, shape: shape, rope: rope, input: u, inputWidth: 2 * h,
                             residual: x, hidden: h, layout: layout, positions: positions, workspace: workspace,
                             pool: pool)
        for index in 1..<max(layers.count, 1) where index < layers.count {
            let normed = layerInput.pointer(rows * h)
            Kernels.rmsNorm(x, weight: layers[index].inputNorm.base, eps: eps, rows: rows, dim: h, into: normed)
            DecoderLayer.forward(layers[index], layerIndex: index, shape: shape, rope: rope, input: normed,
                                 inputWidth: h, residual: x, hidden: h, layout: layout, positions: positions,
                                 workspace: workspace, pool: pool)
        }
        for request in requests { request.cache.commit(request.tokens.count) }

        // Head on the selected rows.
        layout.selectRows(count: requests.count, wanted: { requests[$0].logits }, rows: &selectedRows,
                          ranges: &selectedRanges)
        let count = selectedRows.count
        let normed = selectedHidden.pointer(max(count, 1) * h)
        let next = nextHidden.pointer(max(count, 1) * h)
        for slot in 0..<count {
            let source = selectedRows[slot]
            Kernels.rmsNorm(x + source * h, weight: finalNorm.base, eps: eps, rows: 1, dim: h, into: normed + slot * h)
            (next + slot * h).update(from: config.normOutput ? normed + slot * h : x + source * h, count: h)
        }
        let vd = head.outFeatures
        let logits = logitsScratch.pointer(max(count, 1) * vd)
        proposals.removeAll(keepingCapacity: true)
        confidences.removeAll(keepingCapacity: true)
        if count > 0 {
            head.apply(normed, rows: count, into: logits, pool: pool, invariantRows: count)
            for slot in 0..<count {
                proposals.append(draftToTarget[Kernels.argmax(logits + slot * vd, count: vd)])
                confidences.append(Kernels.topProbability(logits + slot * vd, count: vd))
            }
        }
        return Output(logits: logits, nextHidden: next, proposedTokens: proposals, confidences: confidences,
                      selectedRanges: selectedRanges, draftVocabularySize: vd)
    }
}
