import Foundation
import Tensors

/// Muon as the Python library uses it (`training.md` §10, `torch.optim.Muon`): the library's default
/// optimizer for EAGLE-3 drafts.
///
/// Every weight matrix (fc, q/k/v/o, gate/up/down: each projection on its own, although we store
/// q/k/v and gate/up stacked) keeps a momentum buffer; its Nesterov update is orthogonalised by
/// five Newton–Schulz iterations and applied with the learning rate scaled by
/// `0.2·√max(rows, cols)` (`match_rms_adamw`, so the update's RMS is AdamW's). The other trainable
/// tensors (the RMSNorm weights) go to AdamW at the base learning rate.
///
/// The iterations run in float32 (torch runs them in bfloat16), one matrix per pool thread.
public final class MuonOptimizer: DraftOptimizer, @unchecked Sendable {
    /// One matrix Muon orthogonalises: rows `rows` of the named tensor (all its columns).
    struct Block {
        var tensorIndex: Int
        var rows: Range<Int>
        var columns: Int
        /// Work buffers: the iterate and its next value (`rows × columns`), the Gram matrix and
        /// its polynomial (`m × m`, `m = min(rows, columns)`).
        var x: FloatBuffer
        var y: FloatBuffer
        var gram: FloatBuffer
        var polynomial: FloatBuffer

        var cost: Int { let m = min(rows.count, columns); return m * m * max(rows.count, columns) }
    }

    public var name: String { "muon" }
    /// Muon's learning rate as a multiple of the base one (the library's `--muon-lr` default: 10 × `--lr`).
    public var learningRateScale = 10.0
    public var momentum: Float = 0.95
    public var weightDecay = 0.1
    public var newtonSchulzSteps = 5
    public static let coefficients: (a: Float, b: Float, c: Float) = (3.4445, -4.7750, 2.0315)
    public static let epsilon: Float = 1e-7

    /// Momentum buffers, shaped like the parameters for the matrices (empty for the vectors).
    public let buffers: DraftTrainables
    /// The optimizer of everything that is not a matrix.
    public let adamW: AdamWOptimizer
    private let blocks: [Block]
    private let matrixNames: [String]

    public var stepCount: Int {
        get { adamW.stepCount }
        set { adamW.stepCount = newValue }
    }

    /// `rowSplits[name]`: how a stacked tensor divides into the library's separate matrices
    /// (row counts adding up to its rows); other 2-D tensors are one matrix each.
    public init(parameters: DraftTrainables, rowSplits: [String: [Int]], adamWeightDecay: Double) throws {
        let named = parameters.named
        var blocks: [Block] = [], names: [String] = []
        for (index, entry) in named.enumerated() where entry.tensor.shape.count == 2 {
            let rows = entry.tensor.shape[0], columns = entry.tensor.shape[1]
            let split = rowSplits[entry.name] ?? [rows]
            guard split.reduce(0, +) == rows, split.allSatisfy({ $0 > 0 }) else {
                throw TrainingError.invalidDraft("\(entry.name): row split \(split) does not add up to its \(rows) rows")
            }
            var start = 0
            for count in split {
                let m = min(count, columns)
                blocks.append(Block(tensorIndex: index, rows: start..<(start + count), columns: columns,
                                    x: FloatBuffer(count: count * columns), y: FloatBuffer(count: count * columns),
                                    gram: FloatBuffer(count: m * m), polynomial: FloatBuffer(count: m * m)))
                start += count
            }
            names.append(entry.name)
        }
        // Largest first: the pool's threads claim blocks in order, which balances them well.
        self.blocks = blocks.sorted { $0.cost > $1.cost }
        matrixNames = names
        buffers = parameters.zeros(skipping: Set(parameters.named.map(\.name)).subtracting(names))
        adamW = AdamWOptimizer(parameters: parameters, weightDecay: adamWeightDecay, excluding: Set(names))
    }

    /// The library's split of a draft's stacked projections: q/k/v and gate/up.
    public static func rowSplits(for draft: TrainableDraft) -> [String: [Int]] {
        let layer = draft.config.layer
        var splits: [String: [Int]] = [:]
        for index in draft.weights.layers.indices {
            let p = "layers.\(index)."
            splits[p + "self_attn.qkv_proj.weight"] = [layer.headCount * layer.headDim, layer.kvHeadCount * layer.headDim,
                                                      layer.kvHeadCount * layer.headDim]
            splits[p + "mlp.gate_up_proj.weight"] = [layer.intermediateSize, layer.intermediateSize]
        }
        return splits
    }

    public var state: [(name: String, tensor: Tensor)] {
        let matrices = Set(matrixNames)
        return buffers.named.filter { matrices.contains($0.name) }.map { ("momentum_buffer." + $0.name, $0.tensor) }
            + adamW.state
    }

    public func step(parameters: DraftTrainables, gradients: DraftTrainables, learningRate lr: Double, pool: ThreadPool) {
        adamW.step(parameters: parameters, gradients: gradients, learningRate: lr, pool: pool)
        let muonRate = lr * learningRateScale
        let params = parameters.named, grads = gradients.named, moms = buffers.named
        let decay = Float(1 - muonRate * weightDecay)
        let blockList = blocks
        pool.parallelFor(blockList.count) { b in
            let block = blockList[b]
            let c = block.columns, offset = block.rows.lowerBound * c, count = block.rows.count * c
            let p = params[block.tensorIndex].tensor.base + offset
            let g = grads[block.tensorIndex].tensor.base + offset
            let buffer = moms[block.tensorIndex].tensor.base + offset
            let x = block.x.base
            // buf ← lerp(buf, g, 1 − μ); update ← lerp(g, buf, μ) (Nesterov).
            let mu = momentum
            var squares: Double = 0
            for i in 0..<count {
                buffer[i] += (1 - mu) * (g[i] - buffer[i])
                x[i] = g[i] + mu * (buffer[i] - g[i])
                squares += Double(x[i]) * Double(x[i])
            }
            let scale = 1 / max(Float(squares.squareRoot()), Self.epsilon)
            for i in 0..<count { x[i] *= scale }
            let orthogonal = Self.newtonSchulz(block, steps: newtonSchulzSteps)
            let rate = Float(muonRate * 0.2 * Double(max(block.rows.count, c)).squareRoot())
            for i in 0..<count { p[i] = p[i] * decay - rate * orthogonal[i] }
        }
    }

    /// Runs the quintic Newton–Schulz iteration on `block.x` (already scaled to unit Frobenius
    /// norm) and returns the buffer holding the result. For a wide matrix `X ← aX + (bA + cA²)X`
    /// with `A = XXᵀ`; for a tall one the same on `Xᵀ`, written without transposes as
    /// `X ← aX + X(bA + cA²)` with `A = XᵀX`.
    static func newtonSchulz(_ block: Block, steps: Int) -> UnsafeMutablePointer<Float> {
        let (a, b, c) = coefficients
        let r = block.rows.count, n = block.columns, m = min(r, n)
        var x = block.x.base, y = block.y.base
        let gram = block.gram.base, poly = block.polynomial.base
        for _ in 0..<steps {
            if r <= n {
                BLAS.gemmTransposedB(m: r, n: r, k: n, a: x, lda: n, b: x, ldb: n, c: gram, ldc: r)
            } else {
                BLAS.gemmTransposedA(m: n, n: n, k: r, a: x, lda: n, b: x, ldb: n, c: gram, ldc: n)
            }
            poly.update(from: gram, count: m * m)
            BLAS.gemm(m: m, n: m, k: m, alpha: c, a: gram, lda: m, b: gram, ldb: m, beta: b, c: poly, ldc: m)
            y.update(from: x, count: r * n)
            if r <= n {
                BLAS.gemm(m: r, n: n, k: r, a: poly, lda: r, b: x, ldb: n, beta: a, c: y, ldc: n)
            } else {
                BLAS.gemm(m: r, n: n, k: n, a: x, lda: n, b: poly, ldb: n, beta: a, c: y, ldc: n)
            }
            swap(&x, &y)
        }
        return x
    }
}
