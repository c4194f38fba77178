/// A weight matrix kept as bfloat16: the upper 16 bits of each float32 value.
///
/// Only made from matrices whose values are all exact bfloat16s (a draft trained and stored in
/// bf16, say), so nothing is rounded: the streaming kernel widens the halves back exactly and
/// gives bit-for-bit the float32 result while reading half the bytes.
public final class BFloat16Weights: @unchecked Sendable {
    public let base: UnsafeMutablePointer<UInt16>
    public let count: Int

    /// The bfloat16 halves of `tensor`, or nil when some value has low bits set (it would round).
    public init?(exactly tensor: Tensor) {
        let source = tensor.base
        let count = tensor.count
        for index in 0..<count where BFloat16.exactly(source[index]) == nil { return nil }
        self.count = count
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 2, alignment: 64)
        base = raw.bindMemory(to: UInt16.self, capacity: max(count, 1))
        for index in 0..<count { base[index] = UInt16(truncatingIfNeeded: source[index].bitPattern >> 16) }  // exact, checked above
    }

    deinit { base.deallocate() }

    /// Element `index` widened to float32.
    public subscript(index: Int) -> Float { BFloat16.widen(base[index]) }
}
