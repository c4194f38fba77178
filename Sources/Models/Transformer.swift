import Foundation
import Checkpoints
import Tensors

/// A decoder-only transformer of the Llama family: llama, mistral, qwen2 (q/k/v biases) and
/// qwen3 (q/k norms). RMSNorm, RoPE, grouped-query attention, SwiGLU, tied or untied head.
///
/// `forward` takes a packed batch of sequences of different lengths (prefill chunks, multi-token
/// verification chunks and single tokens together), runs every matrix product once over all
/// rows, and can hand back the residual stream entering any layers (EAGLE-3's auxiliary hidden
/// states). A model is not re-entrant: one forward at a time (the engine loop owns it).
public final class TransformerModel: @unchecked Sendable {
    public let config: ModelConfig
    public let embedding: Tensor
    public private(set) var layers: [DecoderLayerWeights]
    public let finalNorm: Tensor
    /// The output head `[vocab, hidden]`: `lm_head.weight`, or the embedding when tied.
    public private(set) var head: Linear
    public let rope: RotaryEmbedding
    let shape: AttentionShape

    private let workspace = LayerWorkspace()
    private let residual = Scratch()
    private let logitsScratch = Scratch()
    private let auxScratch = Scratch()
    private let lock = NSLock()

    /// Whether a token's results must not depend on what else shares its batch (the default;
    /// greedy speculative decoding is lossless only then). Data generation, which needs no such
    /// guarantee, turns it off: every matrix product of a batch is then one GEMM call.
    public var batchInvariant = true
    /// With `batchInvariant` off: bf16 operands in the GEMM calls (`BFloat16Product`), as the
    /// Python reference ran its verifier in bfloat16 to make training data. Ignored otherwise, so
    /// serving always computes in float32.
    public var gemmPrecision = MatmulPrecision.float32

    /// Packs every layer's and the head's weights once as bfloat16 for `gemmPrecision` bf16 (data
    /// generation: 1.2-1.4x faster products than packing per call; +50% weight memory). Call it
    /// before any forward; a no-op on CPUs without AVX-512 BF16 or when already packed.
    public func packBFloat16Weights() {
        layers = layers.map { $0.mappingLinears { $0.packingBFloat16() } }
        head = head.packingBFloat16()
    }

    public init(config: ModelConfig, embedding: Tensor, layers: [DecoderLayerWeights], finalNorm: Tensor,
                head: Linear) {
        self.config = config
        self.embedding = embedding
        self.layers = layers
        self.finalNorm = finalNorm
        self.head = head
        rope = RotaryEmbedding(headDim: config.headDim, theta: config.ropeTheta, scaling: config.ropeScaling,
                               maxPositions: config.maxPositions)
        shape = AttentionShape(headCount: config.headCount, kvHeadCount: config.kvHeadCount,
                               headDim: config.headDim, rmsNormEps: config.rmsNormEps,
                               slidingWindow: config.slidingWindow)
    }

    /// A cache for one sequence of up to `capacity` positions (default: the model's context).
    public func makeCache(capacity: Int? = nil) throws -> KVCache {
        try KVCache(layerCount: config.layerCount, kvHeadCount: config.kvHeadCount, headDim: config.headDim,
                    capacity: min(capacity ?? config.maxPositions, config.maxPositions))
    }

    /// Which rows of a sequence need logits.
    public enum LogitRows: Sendable, Equatable {
        case none
        case last
        case all
    }

    /// One sequence's part of a batch: new tokens appended at the end of its cache.
    public struct Request: Sendable {
        public let cache: KVCache
        public let tokens: [Int]
        public let logits: LogitRows
        public init(cache: KVCache, tokens: [Int], logits: LogitRows) {
            self.cache = cache
            self.tokens = tokens
            self.logits = logits
        }
    }

    /// The results of a forward pass. The pointers stay valid until the next `forward` call.
    public struct Output {
        /// `[logitRowCount, vocab]` logits, sequence by sequence in request order.
        public let logits: UnsafeMutablePointer<Float>
        /// For each request, its first row in `logits` and how many rows it has.
        public let logitRanges: [Range<Int>]
        /// `[rows, auxLayers.count · hidden]`: for every packed row, the residual stream entering
        /// each requested layer, concatenated in the order asked (nil when none were asked).
        public let auxiliary: UnsafeMutablePointer<Float>?
        /// For each request, its packed rows (for `auxiliary`).
        public let rowRanges: [Range<Int>]
        public let vocabularySize: Int
        public let auxiliaryWidth: Int

        /// Logits of row `row` of request `request`.
        public func logits(request: Int, row: Int) -> UnsafeMutablePointer<Float> {
            logits + (logitRanges[request].lowerBound + row) * vocabularySize
        }
    }

    public enum ForwardError: Error, CustomStringConvertible {
        case contextFull(needed: Int, capacity: Int)
        case tokenOutOfRange(Int, vocabulary: Int)
        case invalidAuxiliaryLayer(Int, layers: Int)

        public var description: String {
            switch self {
            case let .contextFull(needed, capacity):
                return "the sequence needs \(needed) positions but its cache holds \(capacity)"
            case let .tokenOutOfRange(token, vocabulary):
                return "token id \(token) is outside the vocabulary (0..<\(vocabulary))"
            case let .invalidAuxiliaryLayer(id, layers):
                return "auxiliary layer id \(id) is outside 0...\(layers)"
            }
        }
    }

    /// Appends every request's tokens to its cache and computes the requested logits and
    /// auxiliary hidden states (ids as in EAGLE-3: `k` = the residual stream entering layer `k`,
    /// `layerCount` = the last layer's output before the final norm).
    public func forward(_ requests: [Request], auxiliaryLayers: [Int] = [], pool: ThreadPool) throws -> Output {
        lock.lock()
        defer { lock.unlock() }
        let hidden = config.hiddenSize
        for request in requests {
            if request.cache.length + request.tokens.count > request.cache.capacity {
                throw ForwardError.contextFull(needed: request.cache.length + request.tokens.count,
                                               capacity: request.cache.capacity)
            }
            for token in request.tokens where token < 0 || token >= config.vocabSize {
                throw ForwardError.tokenOutOfRange(token, vocabulary: config.vocabSize)
            }
        }
        let layout = BatchLayout(caches: requests.map(\.cache), rowCounts: requests.map(\.tokens.count),
                                 batchInvariant: batchInvariant, gemmPrecision: gemmPrecision)
        for id in auxiliaryLayers where id < 0 || id > config.layerCount {
            throw ForwardError.invalidAuxiliaryLayer(id, layers: config.layerCount)
        }
        let rows = layout.rowCount
        let positions = layout.positions
        let x = residual.pointer(max(rows, 1) * hidden)

        for (segmentIndex, segment) in layout.segments.enumerated() {
            let tokens = requests[layout.requestOfSegment[segmentIndex]].tokens
            for (i, token) in tokens.enumerated() {
                (x + (segment.rowStart + i) * hidden).update(from: embedding.base + token * hidden, count: hidden)
            }
        }

        let auxWidth = auxiliaryLayers.count * hidden
        let aux: UnsafeMutablePointer<Float>? = auxiliaryLayers.isEmpty ? nil : auxScratch.pointer(max(rows, 1) * auxWidth)
        func capture(_ layerId: Int) {
            guard let aux else { return }
            for (slot, id) in auxiliaryLayers.enumerated() where id == layerId {
                for r in 0..<rows {
                    (aux + r * auxWidth + slot * hidden).update(from: x + r * hidden, count: hidden)
                }
            }
        }

        let normed = workspace.normed.pointer(max(rows, 1) * hidden)
        for (index, layer) in layers.enumerated() {
            capture(index)
            Kernels.rmsNorm(x, weight: layer.inputNorm.base, eps: config.rmsNormEps, rows: rows, dim: hidden, into: normed)
            DecoderLayer.forward(layer, layerIndex: index, shape: shape, rope: rope, input: normed,
                                 inputWidth: hidden, residual: x, hidden: hidden, layout: layout,
                                 positions: positions, workspace: workspace, pool: pool)
        }
        capture(layers.count)
        for request in requests { request.cache.commit(request.tokens.count) }

        // Final norm and head, only on the rows that need logits.
        let (selected, logitRanges) = layout.selectRows(requests.map(\.logits))
        let vocab = head.outFeatures
        let logits = logitsScratch.pointer(max(selected.count, 1) * vocab)
        if !selected.isEmpty {
            let headInput = workspace.projected.pointer(selected.count * hidden)
            for (slot, source) in selected.enumerated() {
                Kernels.rmsNorm(x + source * hidden, weight: finalNorm.base, eps: config.rmsNormEps, rows: 1,
                                dim: hidden, into: headInput + slot * hidden)
            }
            // Logits rows always take the batch-invariant path: greedy choices must not depend on
            // how many sequences were verified together.
            head.apply(headInput, rows: selected.count, into: logits, pool: pool,
                       invariantRows: batchInvariant ? selected.count : 0, gemmPrecision: layout.gemmPrecision)
        }
        let rowRanges = requests.indices.map { index -> Range<Int> in
            let segment = layout.segments[layout.segmentOfRequest[index]]
            return segment.rowStart..<(segment.rowStart + segment.rowCount)
        }
        return Output(logits: logits, logitRanges: logitRanges, auxiliary: aux, rowRanges: rowRanges,
                      vocabularySize: vocab, auxiliaryWidth: auxWidth)
    }

    /// The residual stream after the final layer for the last forward's rows is not kept; use
    /// auxiliary layer id `layerCount` to get it.
    public var lastLayerId: Int { config.layerCount }
}
