import Foundation

/// Precomputed rotary position tables in the "rotate-half" (NeoX / Hugging Face) layout.
///
/// Frequencies and angles are computed in float32 exactly as transformers does
/// (`inv_freq = 1 / theta^(2j/d)`, `angle = float(pos) · inv_freq`), because at long positions
/// a double-precision angle would differ from the reference by more than our tolerance.
public struct RotaryEmbedding: Sendable {
    public let headDim: Int
    public let maxPositions: Int
    /// `[maxPositions, headDim/2]` cosines and sines.
    let cosTable: [Float]
    let sinTable: [Float]

    public init(headDim: Int, theta: Float, scaling: RopeScaling, maxPositions: Int) {
        self.headDim = headDim
        self.maxPositions = maxPositions
        let half = headDim / 2
        var inverse = (0..<half).map { j -> Float in
            let exponent = Float(2 * j) / Float(headDim)
            return 1 / Float(Foundation.pow(Double(theta), Double(exponent)))
        }
        switch scaling {
        case .none: break
        case let .linear(factor):
            inverse = inverse.map { $0 / factor }
        case let .llama3(factor, low, high, original):
            let lowWavelength = Float(original) / low
            let highWavelength = Float(original) / high
            inverse = inverse.map { frequency in
                let wavelength = 2 * Float.pi / frequency
                if wavelength > lowWavelength { return frequency / factor }
                if wavelength < highWavelength { return frequency }
                let smooth = (Float(original) / wavelength - low) / (high - low)
                return (1 - smooth) * frequency / factor + smooth * frequency
            }
        }
        var cosines = [Float](repeating: 0, count: maxPositions * half)
        var sines = [Float](repeating: 0, count: maxPositions * half)
        for position in 0..<maxPositions {
            for j in 0..<half {
                let angle = Float(position) * inverse[j]
                cosines[position * half + j] = Float(Foundation.cos(Double(angle)))
                sines[position * half + j] = Float(Foundation.sin(Double(angle)))
            }
        }
        cosTable = cosines
        sinTable = sines
    }

    /// Rotates `heads` consecutive head vectors at `x` (each `headDim` wide) to `position`.
    @inline(__always)
    public func apply(_ x: UnsafeMutablePointer<Float>, heads: Int, position: Int) {
        let half = headDim / 2
        cosTable.withUnsafeBufferPointer { cosines in
            sinTable.withUnsafeBufferPointer { sines in
                guard let c0 = cosines.baseAddress, let s0 = sines.baseAddress else { return }
                let c = c0 + position * half, s = s0 + position * half
                for head in 0..<heads {
                    let v = x + head * headDim
                    for j in 0..<half {
                        let a = v[j], b = v[j + half]
                        v[j] = a * c[j] - b * s[j]
                        v[j + half] = b * c[j] + a * s[j]
                    }
                }
            }
        }
    }
}
