import Foundation
import Models
import Tensors

/// The building blocks of the hand-written backward pass: matrix products split over our pool
/// (BLAS itself stays single-threaded) and RMSNorm/SwiGLU forward and backward.
///
/// The products of the draft's layers and head and of the target head run in
/// `TTTOptions.precision`: float32, or bfloat16 operands with float32 sums (`BFloat16Product`),
/// which is what the Python library's bf16 autocast does and 1.6-2x faster here.
///
/// Conventions: weights are `[out, in]` as in PyTorch, activations are row-major `[rows, width]`,
/// and every gradient routine *accumulates* (`+=`) so that contributions from several TTT steps
/// and several uses of a tensor simply add up.
enum TrainingKernels {
    /// `y[rows, out] = x[rows, in] · Wᵀ` (overwrites `y`). Split over output features.
    static func linear(_ x: UnsafePointer<Float>, rows: Int, ldx: Int, weight: Tensor,
                       into y: UnsafeMutablePointer<Float>, ldy: Int, precision: MatmulPrecision = .float32,
                       pool: ThreadPool) {
        guard rows > 0 else { return }
        let n = weight.shape[0], k = weight.shape[1]
        let w = UnsafePointer(weight.base)
        let half = precision.effective == .bfloat16
        pool.parallelRanges(n, alignment: half ? 32 : 16) { range in
            if half {
                BFloat16Product.multiply(m: rows, n: range.count, k: k, a: x, aRow: ldx, aColumn: 1,
                                         b: w + range.lowerBound * k, bRow: 1, bColumn: k, c: y + range.lowerBound, ldc: ldy)
            } else {
                BLAS.gemmTransposedB(m: rows, n: range.count, k: k, a: x, lda: ldx, b: w + range.lowerBound * k, ldb: k,
                                     c: y + range.lowerBound, ldc: ldy)
            }
        }
    }

    /// `dx[rows, in] (+)= dy[rows, out] · W`. Split over input features.
    static func linearInputGradient(_ dy: UnsafePointer<Float>, rows: Int, lddy: Int, weight: Tensor,
                                    into dx: UnsafeMutablePointer<Float>, lddx: Int, accumulate: Bool,
                                    precision: MatmulPrecision = .float32, pool: ThreadPool) {
        guard rows > 0 else { return }
        let n = weight.shape[0], k = weight.shape[1]
        let w = UnsafePointer(weight.base)
        let half = precision.effective == .bfloat16
        pool.parallelRanges(k, alignment: half ? 32 : 16) { range in
            if half {
                BFloat16Product.multiply(m: rows, n: range.count, k: n, a: dy, aRow: lddy, aColumn: 1,
                                         b: w + range.lowerBound, bRow: k, bColumn: 1, beta: accumulate ? 1 : 0,
                                         c: dx + range.lowerBound, ldc: lddx)
            } else {
                BLAS.gemm(m: rows, n: range.count, k: n, a: dy, lda: lddy, b: w + range.lowerBound, ldb: k,
                          beta: accumulate ? 1 : 0, c: dx + range.lowerBound, ldc: lddx)
            }
        }
    }

    /// `dW[out, in] += dy[rows, out]ᵀ · x[rows, in]`. Split over output features (rows of `dW`).
    static func linearWeightGradient(_ dy: UnsafePointer<Float>, rows: Int, lddy: Int, x: UnsafePointer<Float>, ldx: Int,
                                     into gradient: Tensor, precision: MatmulPrecision = .float32, pool: ThreadPool) {
        guard rows > 0 else { return }
        let n = gradient.shape[0], k = gradient.shape[1]
        let g = gradient.base
        let half = precision.effective == .bfloat16
        pool.parallelRanges(n, alignment: 16) { range in
            if half {
                BFloat16Product.multiply(m: range.count, n: k, k: rows, a: dy + range.lowerBound, aRow: 1, aColumn: lddy,
                                         b: x, bRow: ldx, bColumn: 1, beta: 1, c: g + range.lowerBound * k, ldc: k)
            } else {
                BLAS.gemmTransposedA(m: range.count, n: k, k: rows, a: dy + range.lowerBound, lda: lddy, b: x, ldb: ldx,
                                     beta: 1, c: g + range.lowerBound * k, ldc: k)
            }
        }
    }

    /// RMSNorm forward that also records `1/rms` of every row for the backward pass.
    static func rmsNorm(_ x: UnsafePointer<Float>, ldx: Int, weight: UnsafePointer<Float>, eps: Float, rows: Int, dim: Int,
                        into y: UnsafeMutablePointer<Float>, ldy: Int, inverseRMS: UnsafeMutablePointer<Float>,
                        pool: ThreadPool) {
        pool.parallelRanges(rows) { range in
            for r in range {
                let xr = x + r * ldx, yr = y + r * ldy
                let scale = Kernels.inverseRMS(xr, dim: dim, eps: eps)
                inverseRMS[r] = scale
                for i in 0..<dim { yr[i] = weight[i] * (xr[i] * scale) }
            }
        }
    }

    /// RMSNorm backward: `dx += ∂L/∂x` and `dw += ∂L/∂w` given `dy` and the forward's `x` and `1/rms`.
    ///
    /// `dx_i = s·w_i·dy_i − s³·x_i/dim · Σ_j w_j·dy_j·x_j` with `s = 1/rms`; `dw_i = Σ_rows dy_i·x_i·s`.
    /// The weight gradient is summed per thread and then reduced, so the result does not depend
    /// on scheduling beyond float summation order within a fixed split.
    static func rmsNormBackward(_ dy: UnsafePointer<Float>, lddy: Int, x: UnsafePointer<Float>, ldx: Int,
                                weight: UnsafePointer<Float>, inverseRMS: UnsafePointer<Float>, rows: Int, dim: Int,
                                dx: UnsafeMutablePointer<Float>?, lddx: Int, dw: UnsafeMutablePointer<Float>,
                                partials: Scratch, pool: ThreadPool) {
        let parts = ThreadPool.split(rows, into: pool.threadCount)
        let partial = partials.pointer(max(parts.count, 1) * dim)
        partial.update(repeating: 0, count: max(parts.count, 1) * dim)
        pool.parallelFor(parts.count) { p in
            let acc = partial + p * dim
            for r in parts[p] {
                let dyr = dy + r * lddy, xr = x + r * ldx
                let s = inverseRMS[r]
                var dot: Float = 0
                for i in 0..<dim {
                    dot += weight[i] * dyr[i] * xr[i]
                    acc[i] += dyr[i] * xr[i] * s
                }
                if let dx {
                    let dxr = dx + r * lddx
                    let c = s * s * s * dot / Float(dim)
                    for i in 0..<dim { dxr[i] += s * weight[i] * dyr[i] - c * xr[i] }
                }
            }
        }
        for p in 0..<parts.count {
            let acc = partial + p * dim
            for i in 0..<dim { dw[i] += acc[i] }
        }
    }

    /// SwiGLU backward: from `d(act)` with `act = silu(gate)·up`, writes `d(gate)` and `d(up)` into
    /// `dGateUp` (same `[gate | up]` layout as the forward's `gateUp`).
    static func siluMultiplyBackward(_ gateUp: UnsafePointer<Float>, dActivated: UnsafePointer<Float>, rows: Int, inner: Int,
                                     into dGateUp: UnsafeMutablePointer<Float>, pool: ThreadPool) {
        pool.parallelRanges(rows) { range in
            for r in range {
                let g = gateUp + r * 2 * inner, u = g + inner
                let da = dActivated + r * inner
                let dg = dGateUp + r * 2 * inner, du = dg + inner
                for i in 0..<inner {
                    let sig = 1 / (1 + Kernels.exp(-g[i]))
                    let silu = g[i] * sig
                    du[i] = da[i] * silu
                    dg[i] = da[i] * u[i] * sig * (1 + g[i] * (1 - sig))
                }
            }
        }
    }
}

/// Rotary tables read out of `RotaryEmbedding` itself (so training rotates exactly as inference
/// does), plus the inverse rotation the backward pass needs.
struct RotaryTables: Sendable {
    let half: Int
    let positions: Int
    let cosines: [Float]
    let sines: [Float]

    init(_ rope: RotaryEmbedding) {
        let half = rope.headDim / 2
        self.half = half
        positions = rope.maxPositions
        var cosines = [Float](repeating: 0, count: positions * half)
        var sines = [Float](repeating: 0, count: positions * half)
        var probe = [Float](repeating: 0, count: rope.headDim)
        for position in 0..<positions {
            for j in 0..<half { probe[j] = 1; probe[j + half] = 0 }
            probe.withUnsafeMutableBufferPointer { buffer in
                if let base = buffer.baseAddress { rope.apply(base, heads: 1, position: position) }
            }
            for j in 0..<half {
                cosines[position * half + j] = probe[j]
                sines[position * half + j] = probe[j + half]
            }
        }
        self.cosines = cosines
        self.sines = sines
    }

    /// Rotates `heads` head vectors to `position` (`inverse`: the transpose, for gradients).
    @inline(__always)
    func rotate(_ x: UnsafeMutablePointer<Float>, heads: Int, position: Int, inverse: Bool) {
        let half = self.half
        let sign: Float = inverse ? -1 : 1
        cosines.withUnsafeBufferPointer { cb in
            sines.withUnsafeBufferPointer { sb in
                guard let c0 = cb.baseAddress, let s0 = sb.baseAddress else { return }
                let c = c0 + position * half, s = s0 + position * half
                for head in 0..<heads {
                    let v = x + head * 2 * half
                    for j in 0..<half {
                        let a = v[j], b = v[j + half], sj = sign * s[j]
                        v[j] = a * c[j] - b * sj
                        v[j + half] = b * c[j] + a * sj
                    }
                }
            }
        }
    }
}
