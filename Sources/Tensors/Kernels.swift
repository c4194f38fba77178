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
            var i = 0
            let gr = UnsafeRawPointer(g), ur = UnsafeRawPointer(u), or = UnsafeMutableRawPointer(o)
            while i + 16 <= inner {
                let gv = gr.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
                let uv = ur.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
                let sig = 1 / (1 + exp16(-gv))
                or.storeBytes(of: gv * sig * uv, toByteOffset: i * 4, as: SIMD16<Float>.self)
                i += 16
            }
            while i < inner {
                let gv = g[i]
                o[i] = gv / (1 + Foundation.exp(-gv)) * u[i]
                i += 1
            }
        }
    }

    /// In-place softmax of `count` values; returns the sum of exponentials before normalising.
    @discardableResult
    public static func softmax(_ x: UnsafeMutablePointer<Float>, count: Int) -> Float {
        var maxValue = -Float.infinity
        for i in 0..<count where x[i] > maxValue { maxValue = x[i] }
        if maxValue == -.infinity { return 0 }
        var sum: Float = 0
        var i = 0
        let raw = UnsafeMutableRawPointer(x)
        var acc = SIMD16<Float>(repeating: 0)
        let m = SIMD16<Float>(repeating: maxValue)
        while i + 16 <= count {
            let v = exp16(raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self) - m)
            raw.storeBytes(of: v, toByteOffset: i * 4, as: SIMD16<Float>.self)
            acc += v
            i += 16
        }
        sum = acc.sum()
        while i < count {
            let v = Foundation.exp(x[i] - maxValue)
            x[i] = v
            sum += v
            i += 1
        }
        let inv = 1 / sum
        for j in 0..<count { x[j] *= inv }
        return sum
    }

    /// The index of the largest value (the first one on ties, as `torch.argmax`).
    @inline(__always)
    public static func argmax(_ x: UnsafePointer<Float>, count: Int) -> Int {
        var best = 0
        var bestValue = -Float.infinity
        for i in 0..<count where x[i] > bestValue {
            bestValue = x[i]
            best = i
        }
        return best
    }

    /// `e^x` for 16 lanes, accurate to about 2 ulp over the float range (Cody–Waite reduction
    /// and a degree-6 polynomial). Inputs below -87.3 give 0, above 88.7 give +inf.
    @inline(__always)
    public static func exp16(_ x: SIMD16<Float>) -> SIMD16<Float> {
        let clamped = x.clamped(lowerBound: SIMD16(repeating: -87.33654), upperBound: SIMD16(repeating: 88.72283))
        let log2e = SIMD16<Float>(repeating: 1.44269504088896341)
        let n = (clamped * log2e).rounded(.toNearestOrEven)
        // r = x - n·ln2, with ln2 split in two for precision.
        var r = clamped - n * SIMD16(repeating: 0.693359375)
        r = r - n * SIMD16(repeating: -2.12194440e-4)
        var p = SIMD16<Float>(repeating: 1.9875691500e-4)
        p = p * r + SIMD16(repeating: 1.3981999507e-3)
        p = p * r + SIMD16(repeating: 8.3334519073e-3)
        p = p * r + SIMD16(repeating: 4.1665795894e-2)
        p = p * r + SIMD16(repeating: 1.6666665459e-1)
        p = p * r + SIMD16(repeating: 5.0000001201e-1)
        let r2 = r * r
        let poly = p * r2 + r + SIMD16(repeating: 1)
        // Scale by 2^n through the exponent bits.
        let bits = (SIMD16<Int32>(truncatingIfNeeded: SIMD16<Int32>(n)) &+ 127) &<< 23
        let scale = unsafeBitCast(bits, to: SIMD16<Float>.self)
        var result = poly * scale
        result.replace(with: SIMD16(repeating: 0), where: x .< SIMD16(repeating: -87.33654))
        result.replace(with: SIMD16(repeating: .infinity), where: x .> SIMD16(repeating: 88.72283))
        return result
    }
}
