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
    /// The bookkeeping of a forward, kept between calls so that its arrays keep their storage:
    /// a decode step allocates nothing once they have grown to the batch. The ranges are handed
    /// out in `Output`; a caller that drops its output before the next forward (the engine
    /// does) leaves them unshared, so they are overwritten in place.
    private var layout = BatchLayout()
    private var positions: [Int] = []
    private var selectedRows: [Int] = []
    private var logitRanges: [Range<Int>] = []
    private var rowRanges: [Range<Int>] = []
    private var screenedSlots: [Int] = []
    private var plainSlots: [Int] = []

    /// Whether a token's results must not depend on what else shares its batch (the default;
    /// greedy speculative decoding is lossless only then). Data generation, which needs no such
    /// guarantee, turns it off, so that its bfloat16 products (`gemmPrecision`) take all rows of a
    /// batch in one call. Float32 rows go through the batch-invariant kernel either way.
    public var batchInvariant = true
    /// With `batchInvariant` off: bf16 operands in the GEMM calls (`BFloat16Product`), as the
    /// Python reference ran its verifier in bfloat16 to make training data. Ignored otherwise, so
    /// serving always computes in float32.
    public var gemmPrecision = MatmulPrecision.float32
    /// The head screened in bfloat16 for rows that only need their argmax (`Request.argmaxOnly`),
    /// once `enableArgmaxScreening()` made it; nil: every row gets the whole float32 head.
    public private(set) var screenedHead: ScreenedArgmaxHead?
    private let screenScratch = Scratch()
    private let screenInputScratch = Scratch()

    /// Packs every layer's and the head's weights once as bfloat16 for `gemmPrecision` bf16 (data
    /// generation: 1.2-1.4x faster products than packing per call; +50% weight memory). Call it
    /// before any forward; a no-op on CPUs without AVX-512 BF16 or when already packed.
    public func packBFloat16Weights() {
        layers = layers.map { $0.mappingLinears { $0.packingBFloat16() } }
        head = head.packingBFloat16()
    }

    /// Builds `screenedHead` (a bfloat16 copy of the head: half its float32 memory again), so
    /// that greedy rows read half the head's bytes for the same argmax (with a head computed from
    /// quantised blocks, only passes of at least `screenedRowsWithQuantizedHead` greedy rows are
    /// screened). Returns whether screening is available (not on CPUs without AVX-512 BF16).
    /// Call it before serving.
    @discardableResult
    public func enableArgmaxScreening() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        // A head with a bias (none of the supported families has one) is not screened.
        if screenedHead == nil, head.bias == nil, let weight = head.weight { screenedHead = ScreenedArgmaxHead(weight: weight) }
        return screenedHead != nil
    }

    /// The fewest greedy rows screened when the head computes from quantised blocks. Those blocks
    /// (SmolLM2's Q8_0 head: 32 MB) read fewer bytes than the bfloat16 screen (57 MB), but cost
    /// dequantisation arithmetic per row group, which the screen's `vdpbf16ps` products do not:
    /// with quantised layers (`bench verifier`, 3 runs), 1/2/4-row passes were 2-7% slower
    /// screened, 8 rows 1-4% faster, 8 sequences × 1/2/4 rows 3%/4%/6-7% faster; with memory in
    /// its slow state (36 GB/s), 8 rows were 2% slower and 16/32 rows still 2%/6% faster.
    static let screenedRowsWithQuantizedHead = 8

    /// Drops `screenedHead`: every row gets the float32 head again (benchmarks compare both).
    public func disableArgmaxScreening() {
        lock.lock()
        defer { lock.unlock() }
        screenedHead = nil
    }

    /// The checkpoint's Q4_1 and Q8_0 blocks of each layer's four matrices and of the head, once
    /// `loadQuantizedWeights(from:)` found them (nil where a matrix has none).
    private var quantizedBlocks: (layers: [[QuantizedWeights?]], head: QuantizedWeights?)?

    /// Whether float32 rows are computed from the quantised blocks (`useQuantizedWeights`).
    public private(set) var usesQuantizedWeights = false

    /// Matrices (fused projections counted once, the head included) with quantised blocks.
    public var quantizedMatrixCount: Int {
        guard let blocks = quantizedBlocks else { return 0 }
        return blocks.layers.reduce(0) { $0 + $1.compactMap { $0 }.count } + (blocks.head == nil ? 0 : 1)
    }

    /// Stores the blocks `loadQuantizedWeights(from:)` read, in `qkv, output, gateUp, down` order per layer.
    func setQuantizedBlocks(layers: [[QuantizedWeights?]], head: QuantizedWeights?) {
        quantizedBlocks = (layers, head)
    }

    /// Computes float32 rows from the quantised blocks (`enabled`) or from the float32 weights.
    /// Results are bit-identical either way (`QuantizedWeights`); only the bytes read differ.
    /// Without blocks (`quantizedMatrixCount` 0), or disabling with layers that have only blocks
    /// (`hasBlocksOnlyLayers`), this changes nothing. Not while a forward runs.
    public func useQuantizedWeights(_ enabled: Bool) {
        guard let blocks = quantizedBlocks, enabled || !hasBlocksOnlyLayers else { return }
        layers = zip(layers, blocks.layers).map { layer, parts in
            var layer = layer
            layer.qkv = layer.qkv.usingQuantized(enabled ? parts[0] : nil)
            layer.output = layer.output.usingQuantized(enabled ? parts[1] : nil)
            layer.gateUp = layer.gateUp.usingQuantized(enabled ? parts[2] : nil)
            layer.down = layer.down.usingQuantized(enabled ? parts[3] : nil)
            return layer
        }
        head = head.usingQuantized(enabled ? blocks.head : nil)
        usesQuantizedWeights = enabled && quantizedMatrixCount > 0
    }

    /// Whether some layer matrices were read as quantised blocks alone, with no float32 weights
    /// (`load(config:weights:blocksOnly:)`).
    public var hasBlocksOnlyLayers: Bool {
        layers.contains { [$0.qkv, $0.output, $0.gateUp, $0.down].contains { $0.weight == nil } }
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
        /// Only the argmax of these logit rows will be read (greedy, no log-probabilities). With
        /// `screenedHead` the rows then hold exact float32 logits for the tokens that can be the
        /// largest and `-infinity` for the others (`ScreenedArgmaxHead`).
        public let argmaxOnly: Bool
        public init(cache: KVCache, tokens: [Int], logits: LogitRows, argmaxOnly: Bool = false) {
            self.cache = cache
            self.tokens = tokens
            self.logits = logits
            self.argmaxOnly = argmaxOnly
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
        /// Logit rows that went through `screenedHead`, and the candidates they kept in all.
        public var screenedRows = 0
        public var screenedCandidates = 0

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
        for id in auxiliaryLayers where id < 0 || id > config.layerCount {
            throw ForwardError.invalidAuxiliaryLayer(id, layers: config.layerCount)
        }
        layout.pack(count: requests.count, cache: { requests[$0].cache }, rowCount: { requests[$0].tokens.count },
                    batchInvariant: batchInvariant, gemmPrecision: gemmPrecision)
        let layout = layout
        let rows = layout.rowCount
        layout.positions(into: &positions)
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
        layout.selectRows(count: requests.count, wanted: { requests[$0].logits }, rows: &selectedRows,
                          ranges: &logitRanges)
        let selectedCount = selectedRows.count
        let vocab = head.outFeatures
        let logits = logitsScratch.pointer(max(selectedCount, 1) * vocab)
        var screening = (rows: 0, candidates: 0)
        if selectedCount > 0 {
            let headInput = workspace.projected.pointer(selectedCount * hidden)
            for slot in 0..<selectedCount {
                Kernels.rmsNorm(x + selectedRows[slot] * hidden, weight: finalNorm.base, eps: config.rmsNormEps, rows: 1,
                                dim: hidden, into: headInput + slot * hidden)
            }
            screening = computeHead(headInput, rows: selectedCount, into: logits, requests: requests,
                                    gemmPrecision: layout.gemmPrecision, pool: pool)
        }
        layout.rowRanges(count: requests.count, into: &rowRanges)
        var output = Output(logits: logits, logitRanges: logitRanges, auxiliary: aux, rowRanges: rowRanges,
                            vocabularySize: vocab, auxiliaryWidth: auxWidth)
        output.screenedRows = screening.rows
        output.screenedCandidates = screening.candidates
        return output
    }

    /// The head over the selected rows: `screenedHead` for the rows of `argmaxOnly` requests
    /// (batch-invariant models only: their candidates are the invariant path's logits), the
    /// float32 head for the rest. Logit rows always take the batch-invariant path: greedy choices
    /// must not depend on how many sequences were verified together. Mixed batches gather each
    /// kind into one product, so the head's weights are streamed once per kind.
    private func computeHead(
        _ input: UnsafeMutablePointer<Float>, rows: Int, into logits: UnsafeMutablePointer<Float>, requests: [Request],
        gemmPrecision: MatmulPrecision, pool: ThreadPool
    ) -> (rows: Int, candidates: Int) {
        let hidden = config.hiddenSize, vocab = head.outFeatures
        func exact(_ x: UnsafeMutablePointer<Float>, _ count: Int, _ y: UnsafeMutablePointer<Float>) {
            head.apply(x, rows: count, into: y, pool: pool, invariantRows: batchInvariant ? count : 0,
                       gemmPrecision: gemmPrecision)
        }
        guard batchInvariant, let screen = screenedHead else {
            exact(input, rows, logits)
            return (0, 0)
        }
        screenedSlots.removeAll(keepingCapacity: true)
        plainSlots.removeAll(keepingCapacity: true)
        for (request, range) in zip(requests, logitRanges) {
            if request.argmaxOnly { screenedSlots.append(contentsOf: range) } else { plainSlots.append(contentsOf: range) }
        }
        let screenedCount = screenedSlots.count
        if head.quantized != nil, screenedCount < Self.screenedRowsWithQuantizedHead {
            exact(input, rows, logits)
            return (0, 0)
        }
        if plainSlots.isEmpty {
            return (rows, screen.apply(input, rows: rows, ldx: hidden, into: logits, ldy: vocab, pool: pool))
        }
        if screenedSlots.isEmpty {
            exact(input, rows, logits)
            return (0, 0)
        }
        // Mixed: each kind's rows gathered, computed together, and put back in place.
        var candidates = 0
        for pass in 0..<2 {
            let isScreened = pass == 0
            let slots = isScreened ? screenedSlots : plainSlots
            let x = screenInputScratch.pointer(slots.count * hidden), y = screenScratch.pointer(slots.count * vocab)
            for (index, slot) in slots.enumerated() { (x + index * hidden).update(from: input + slot * hidden, count: hidden) }
            if isScreened {
                candidates = screen.apply(x, rows: slots.count, ldx: hidden, into: y, ldy: vocab, pool: pool)
            } else {
                exact(x, slots.count, y)
            }
            for (index, slot) in slots.enumerated() { (logits + slot * vocab).update(from: y + index * vocab, count: vocab) }
        }
        return (screenedCount, candidates)
    }

    /// The residual stream after the final layer for the last forward's rows is not kept; use
    /// auxiliary layer id `layerCount` to get it.
    public var lastLayerId: Int { config.layerCount }
}
