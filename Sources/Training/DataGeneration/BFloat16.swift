/// float32 → bfloat16 conversion for the stored hidden states.
enum BFloat16 {
    /// Rounds to nearest, ties to even (PyTorch's `.to(torch.bfloat16)`); NaN stays a quiet NaN.
    @inline(__always)
    static func bits(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        if value.isNaN { return UInt16(truncatingIfNeeded: bits >> 16) | 0x0040 }
        return UInt16(truncatingIfNeeded: (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) >> 16)
    }

    /// The float32 value of bfloat16 `bits` (exact).
    @inline(__always)
    static func value(_ bits: UInt16) -> Float { Float(bitPattern: UInt32(bits) << 16) }
}
