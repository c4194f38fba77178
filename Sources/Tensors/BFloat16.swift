/// bfloat16, the upper 16 bits of a float32: the one place its bits are converted.
///
/// Checkpoints read and write it, drafts are streamed in it (`BFloat16Weights`), datagen stores
/// hidden states in it. Widening is exact; narrowing rounds as PyTorch's `.to(torch.bfloat16)`.
public enum BFloat16 {
    /// The float32 value of bfloat16 `bits` (exact).
    @inlinable @inline(__always)
    public static func widen(_ bits: UInt16) -> Float { Float(bitPattern: UInt32(bits) << 16) }

    /// The bfloat16 nearest to `value`, ties to even; NaN stays a (quiet) NaN.
    @inlinable @inline(__always)
    public static func rounded(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        if value.isNaN { return UInt16(truncatingIfNeeded: bits >> 16) | 0x0040 }
        return UInt16(truncatingIfNeeded: (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) >> 16)
    }

    /// The value the AVX-512 BF16 kernels multiply for `value`: nearest bfloat16, ties to even,
    /// and zero for a float32 subnormal (as `vcvtneps2bf16` and `CMatmul`'s packer make it).
    @inlinable @inline(__always)
    public static func kernelRounded(_ value: Float) -> Float {
        if value.bitPattern & 0x7F80_0000 == 0 { return value.sign == .minus ? -0.0 : 0 }
        return widen(rounded(value))
    }

    /// The bits of `value` when it is exactly a bfloat16 (its low 16 bits are zero), else nil.
    @inlinable @inline(__always)
    public static func exactly(_ value: Float) -> UInt16? {
        value.bitPattern & 0xFFFF == 0 ? UInt16(truncatingIfNeeded: value.bitPattern >> 16) : nil
    }
}
