import Foundation

/// The element-wise and row-wise kernels of a transformer, written over raw pointers so the
/// optimiser can vectorise them and no call allocates.
public enum Kernels {
    /// `out[r] = w ⊙ x[r] / sqrt(mean(x[r]²) + eps)` for each of `rows` rows of width `dim`
    /// (computed in float32, as the reference does). `out` may alias `x`.
    public static func rmsNorm(
        _ x: UnsafePointer<Float>, weight: UnsafePointer<Float>?, eps: Float, rows: Int, dim: Int,
        ldInput: Int? = nil, into out: UnsafeMutablePointer<Float>, ldOutput: Int? = nil
    ) {
        let ldx = ldInput ?? dim, ldo = ldOutput ?? dim
        for r in 0..<rows {
            let xr = x + r * ldx, o = out + r * ldo
            let scale = inverseRMS(xr, dim: dim, eps: eps)
            if let weight {
                for i in 0..<dim { o[i] = weight[i] * (xr[i] * scale) }
            } else {
                for i in 0..<dim { o[i] = xr[i] * scale }
            }
        }
    }

    /// `1 / sqrt(mean(x²) + eps)` over `dim` values.
    @inline(__always)
    public static func inverseRMS(_ x: UnsafePointer<Float>, dim: Int, eps: Float) -> Float {
        var acc = SIMD16<Float>(repeating: 0)
        var i = 0
        let raw = UnsafeRawPointer(x)
        while i + 16 <= dim {
            let v = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
            acc += v * v
            i += 16
        }
        var sum = acc.sum()
        while i < dim { sum += x[i] * x[i]; i += 1 }
        return 1 / (sum / Float(dim) + eps).squareRoot()
    }

    /// `y += x` over `count` values.
    @inline(__always)
    public static func add(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { y[i] += x[i] }
    }

    /// SwiGLU: for each row, `out[i] = silu(gateUp[i]) · gateUp[inner + i]` where `gateUp` holds
    /// the gate projection followed by the up projection (`2·inner` values per row).
    public static func siluMultiply(
        _ gateUp: UnsafePointer<Float>, rows: Int, inner: Int, into out: UnsafeMutablePointer<Float>
    ) {
        for r in 0..<rows {
            let g = gateUp + r * 2 * inner, u = g + inner, o = out + r * inner
            for i in 0..<inner {
                let x = g[i]
                o[i] = x / (1 + exp(-x)) * u[i]
            }
        }
    }

    /// In-place softmax of `count` values; returns the sum of exponentials before normalising.
    ///
    /// The exponentials are computed in a loop of their own, which the optimiser vectorises
    /// (each lane runs the same operations as the scalar `exp`, so the values are the same); the
    /// sum then runs in index order. Fused with the sum, the loop stayed scalar and softmax was
    /// the largest cost of attention in a verification pass.
    @discardableResult
    public static func softmax(_ x: UnsafeMutablePointer<Float>, count: Int) -> Float {
        let maxValue = maximum(x, count: count)
        if maxValue == -.infinity { return 0 }
        for i in 0..<count { x[i] = exp(x[i] - maxValue) }
        var sum: Float = 0
        for i in 0..<count { sum += x[i] }
        let inverse = 1 / sum
        for i in 0..<count { x[i] *= inverse }
        return sum
    }

    /// `scores[j] = scale · (query · keys[j])` for `count` key rows of `dim` floats, `dim` apart
    /// (attention's scores of one query over a cache).
    ///
    /// Every dot product is accumulated exactly as `attentionDot` does (8-float chunks in order
    /// into one vector, its horizontal sum, then the scalar tail), so the scores are the same as
    /// one dot at a time. Four keys run side by side: one dot is a chain of dependent
    /// multiply-adds, and four independent chains keep the FMA units busy.
    public static func scaledDots(
        query: UnsafePointer<Float>, keys: UnsafePointer<Float>, count: Int, dim: Int, scale: Float,
        into scores: UnsafeMutablePointer<Float>
    ) {
        typealias V = SIMD8<Float>
        let q = UnsafeRawPointer(query)
        let vectorEnd = dim & ~7
        var j = 0
        while j + 4 <= count {
            let k0 = UnsafeRawPointer(keys + j * dim), k1 = k0 + dim * 4, k2 = k1 + dim * 4, k3 = k2 + dim * 4
            var a0 = V(), a1 = V(), a2 = V(), a3 = V()
            var i = 0
            while i < vectorEnd {
                let o = i * 4
                let x = q.loadUnaligned(fromByteOffset: o, as: V.self)
                a0 = a0.addingProduct(x, k0.loadUnaligned(fromByteOffset: o, as: V.self))
                a1 = a1.addingProduct(x, k1.loadUnaligned(fromByteOffset: o, as: V.self))
                a2 = a2.addingProduct(x, k2.loadUnaligned(fromByteOffset: o, as: V.self))
                a3 = a3.addingProduct(x, k3.loadUnaligned(fromByteOffset: o, as: V.self))
                i += 8
            }
            var s0 = a0.sum(), s1 = a1.sum(), s2 = a2.sum(), s3 = a3.sum()
            let row = keys + j * dim
            while i < dim {
                s0 += query[i] * row[i]
                s1 += query[i] * row[dim + i]
                s2 += query[i] * row[2 * dim + i]
                s3 += query[i] * row[3 * dim + i]
                i += 1
            }
            scores[j] = s0 * scale
            scores[j + 1] = s1 * scale
            scores[j + 2] = s2 * scale
            scores[j + 3] = s3 * scale
            j += 4
        }
        while j < count {
            scores[j] = attentionDot(query, keys + j * dim, dim) * scale
            j += 1
        }
    }

    /// One attention score's dot product, in the order `scaledDots` sums four at a time. (Decode
    /// attention uses these only for head widths `AttentionKernel` does not take.)
    @inline(__always)
    public static func attentionDot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ k: Int) -> Float {
        typealias V = SIMD8<Float>
        let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
        var accumulator = V()
        var i = 0
        while i + 8 <= k {
            accumulator = accumulator.addingProduct(ra.loadUnaligned(fromByteOffset: i * 4, as: V.self),
                                                    rb.loadUnaligned(fromByteOffset: i * 4, as: V.self))
            i += 8
        }
        var sum = accumulator.sum()
        while i < k { sum += a[i] * b[i]; i += 1 }
        return sum
    }

    /// The largest of `count` values, ignoring NaNs; `-infinity` when there is none. Eight lanes
    /// at a time (the maximum does not depend on the order it is taken in).
    @inline(__always)
    public static func maximum(_ x: UnsafePointer<Float>, count: Int) -> Float {
        typealias V = SIMD8<Float>
        let raw = UnsafeRawPointer(x)
        var lanes = V(repeating: -.infinity)
        var i = 0
        while i + 8 <= count {
            let v = raw.loadUnaligned(fromByteOffset: i * 4, as: V.self)
            lanes.replace(with: v, where: v .> lanes)
            i += 8
        }
        var maxValue = -Float.infinity
        for lane in 0..<8 where lanes[lane] > maxValue { maxValue = lanes[lane] }
        while i < count {
            if x[i] > maxValue { maxValue = x[i] }
            i += 1
        }
        return maxValue
    }

    /// `out[c] = Σ_j weights[j] · rows[j][c]` for `count` rows of `width` floats (attention's
    /// weighted sum of values), in a fixed order: every output column sums its rows in index
    /// order, 8 lanes at a time, then the scalar tail columns.
    ///
    /// Up to eight column vectors (a 64-wide head) are accumulated together: one multiply-add
    /// chain waits 4 cycles per step, and eight independent chains keep both FMA units busy
    /// (four, as before, left half of them idle: 1.4-1.5x slower for 300-1000 keys). The order of each column's sum is the same either way.
    public static func weightedSum(
        of rows: UnsafePointer<Float>, weights: UnsafePointer<Float>, count: Int, width: Int,
        into out: UnsafeMutablePointer<Float>
    ) {
        typealias V = SIMD8<Float>
        let vectorWidth = width & ~7
        let destination = UnsafeMutableRawPointer(out)
        let stride = width * 4
        var column = 0
        while column + 64 <= vectorWidth {
            var a0 = V(), a1 = V(), a2 = V(), a3 = V(), a4 = V(), a5 = V(), a6 = V(), a7 = V()
            var row = UnsafeRawPointer(rows + column)
            for j in 0..<count {
                let w = V(repeating: weights[j])
                a0 = a0.addingProduct(w, row.loadUnaligned(as: V.self))
                a1 = a1.addingProduct(w, row.loadUnaligned(fromByteOffset: 32, as: V.self))
                a2 = a2.addingProduct(w, row.loadUnaligned(fromByteOffset: 64, as: V.self))
                a3 = a3.addingProduct(w, row.loadUnaligned(fromByteOffset: 96, as: V.self))
                a4 = a4.addingProduct(w, row.loadUnaligned(fromByteOffset: 128, as: V.self))
                a5 = a5.addingProduct(w, row.loadUnaligned(fromByteOffset: 160, as: V.self))
                a6 = a6.addingProduct(w, row.loadUnaligned(fromByteOffset: 192, as: V.self))
                a7 = a7.addingProduct(w, row.loadUnaligned(fromByteOffset: 224, as: V.self))
                row += stride
            }
            let base = column * 4
            destination.storeBytes(of: a0, toByteOffset: base, as: V.self)
            destination.storeBytes(of: a1, toByteOffset: base + 32, as: V.self)
            destination.storeBytes(of: a2, toByteOffset: base + 64, as: V.self)
            destination.storeBytes(of: a3, toByteOffset: base + 96, as: V.self)
            destination.storeBytes(of: a4, toByteOffset: base + 128, as: V.self)
            destination.storeBytes(of: a5, toByteOffset: base + 160, as: V.self)
            destination.storeBytes(of: a6, toByteOffset: base + 192, as: V.self)
            destination.storeBytes(of: a7, toByteOffset: base + 224, as: V.self)
            column += 64
        }
        while column + 32 <= vectorWidth {
            var a0 = V(), a1 = V(), a2 = V(), a3 = V()
            var row = UnsafeRawPointer(rows + column)
            for j in 0..<count {
                let w = V(repeating: weights[j])
                a0 = a0.addingProduct(w, row.loadUnaligned(as: V.self))
                a1 = a1.addingProduct(w, row.loadUnaligned(fromByteOffset: 32, as: V.self))
                a2 = a2.addingProduct(w, row.loadUnaligned(fromByteOffset: 64, as: V.self))
                a3 = a3.addingProduct(w, row.loadUnaligned(fromByteOffset: 96, as: V.self))
                row += stride
            }
            destination.storeBytes(of: a0, toByteOffset: column * 4, as: V.self)
            destination.storeBytes(of: a1, toByteOffset: column * 4 + 32, as: V.self)
            destination.storeBytes(of: a2, toByteOffset: column * 4 + 64, as: V.self)
            destination.storeBytes(of: a3, toByteOffset: column * 4 + 96, as: V.self)
            column += 32
        }
        while column < vectorWidth {
            var accumulator = V()
            var row = UnsafeRawPointer(rows + column)
            for j in 0..<count {
                accumulator = accumulator.addingProduct(V(repeating: weights[j]), row.loadUnaligned(as: V.self))
                row += stride
            }
            destination.storeBytes(of: accumulator, toByteOffset: column * 4, as: V.self)
            column += 8
        }
        while column < width {
            var sum: Float = 0
            for j in 0..<count { sum += weights[j] * rows[j * width + column] }
            out[column] = sum
            column += 1
        }
    }

    /// The index of the largest value (the first one on ties, as `torch.argmax`).
    /// NaNs are never chosen; 0 when every value is -infinity or NaN. The maximum is taken 8
    /// lanes at a time, then its first index: a vocabulary-wide row (49152 logits) costs a few
    /// microseconds instead of a branch per logit.
    @inline(__always)
    public static func argmax(_ x: UnsafePointer<Float>, count: Int) -> Int {
        let best = maximum(x, count: count)
        if best == -.infinity { return 0 }
        var i = 0
        while x[i] != best { i += 1 }
        return i
    }

    /// The indices of the `k` largest of `count` values, largest first, ties by lower index
    /// (log-probability alternatives). A few are kept in a sorted list as the values go by; many
    /// (up to all, `logprobs: -1`) take one sort, since the list's insertions grow as `count · k`.
    public static func largest(_ x: UnsafePointer<Float>, count: Int, k: Int) -> [Int] {
        let k = min(k, count)
        guard k > 0 else { return [] }
        if k > 64 {
            return Array((0..<count).sorted { x[$0] > x[$1] || (x[$0] == x[$1] && $0 < $1) }.prefix(k))
        }
        var best: [Int] = []
        best.reserveCapacity(k + 1)
        for i in 0..<count {
            let value = x[i]
            guard best.count < k || value > x[best[best.count - 1]] else { continue }
            best.insert(i, at: best.firstIndex { value > x[$0] } ?? best.count)
            if best.count > k { best.removeLast() }
        }
        return best
    }

    /// The largest softmax probability of `count` logits, `1 / Σ exp(x_i - max)`, without writing
    /// the distribution: how sure a draft is of its greedy token (the engine's confidence gate).
    /// 0 when every value is -infinity or NaN.
    public static func topProbability(_ x: UnsafePointer<Float>, count: Int) -> Float {
        let top = maximum(x, count: count)
        guard top.isFinite else { return 0 }
        let raw = UnsafeRawPointer(x)
        let shift = SIMD16<Float>(repeating: top)
        var lanes = SIMD16<Float>()
        var i = 0
        while i + 16 <= count {
            lanes += exp(raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self) - shift)
            i += 16
        }
        var sum = lanes.sum()
        while i < count {
            sum += exp(x[i] - top)
            i += 1
        }
        return sum > 0 ? 1 / sum : 0
    }

    /// `exp` on sixteen lanes: the same reduction and polynomial as the scalar version below, so
    /// each lane equals it, with only lane-wise arithmetic, compares and bit operations (for
    /// loops that also sum, which the optimiser leaves scalar around the scalar version).
    @inlinable @inline(__always)
    public static func exp(_ x: SIMD16<Float>) -> SIMD16<Float> {
        typealias V = SIMD16<Float>
        var clamped = x
        clamped.replace(with: -87.33654, where: x .< -87.33654)
        clamped.replace(with: 88.72283, where: x .> 88.72283)
        let shifted = clamped * 1.44269504088896341 + 12_582_912
        let n = shifted - 12_582_912
        var r = clamped - n * 0.693359375
        r = r - n * -2.12194440e-4
        var p = V(repeating: 1.9875691500e-4)
        p = p * r + 1.3981999507e-3
        p = p * r + 8.3334519073e-3
        p = p * r + 4.1665795894e-2
        p = p * r + 1.6666665459e-1
        p = p * r + 5.0000001201e-1
        let polynomial = p * (r * r) + r + 1
        let exponent = (unsafeBitCast(shifted, to: SIMD16<UInt32>.self) &- 0x4B40_0000 &+ 127) &<< 23
        var result = polynomial * unsafeBitCast(exponent, to: V.self)
        result.replace(with: .infinity, where: x .> 88.72283)
        result.replace(with: 0, where: x .< -87.33654)
        return result
    }

    /// `e^x` within 1 ulp over the float range (Cody–Waite reduction, degree-6 polynomial, the
    /// power of two built from the exponent bits), several times faster than the C library's
    /// `expf`. Inputs below -87.3 (and -inf) give 0, above 88.7 give +inf.
    ///
    /// Swift's generic SIMD operations (`rounded`, `clamped`, lane conversions) compile to
    /// per-lane loops, so this is written for scalars, where every step is one instruction.
    /// Inlinable, so loops in other modules (the trainer's softmax, SiLU and losses) vectorise it.
    @inlinable @inline(__always)
    public static func exp(_ x: Float) -> Float {
        let clamped = Swift.min(Swift.max(x, -87.33654), 88.72283)
        // Adding 1.5·2^23 rounds to the nearest integer and leaves it in the low mantissa bits.
        let shifted = clamped * 1.44269504088896341 + 12_582_912
        let n = shifted - 12_582_912
        var r = clamped - n * 0.693359375
        r = r - n * -2.12194440e-4
        var p: Float = 1.9875691500e-4
        p = p * r + 1.3981999507e-3
        p = p * r + 8.3334519073e-3
        p = p * r + 4.1665795894e-2
        p = p * r + 1.6666665459e-1
        p = p * r + 5.0000001201e-1
        let polynomial = p * (r * r) + r + 1
        let exponent = (shifted.bitPattern &- 0x4B40_0000 &+ 127) << 23
        if x > 88.72283 { return .infinity }
        if x < -87.33654 { return 0 }
        return polynomial * Float(bitPattern: exponent)
    }
}
