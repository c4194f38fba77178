/// A reusable buffer that grows to the largest size asked of it and never shrinks.
///
/// Forward passes take their temporaries from these, and their parallel loops take their values
/// through `ThreadPool.parallelFor(_:state:_:)`, so the layers allocate nothing in steady-state
/// decoding. The models and the engine keep their per-step lists too (`BatchLayout.pack`,
/// `SpeculativeEngine`'s step buffers), so a warmed-up decode step allocates nothing
/// (`AllocationTests`). Measured with a `malloc` probe over SmolLM2 generating 300 and 900
/// tokens: 203 allocations a token with closures in the loops, 22 with the loops' values on the
/// stack, none now but the text events hand out.
public final class Scratch: @unchecked Sendable {
    private var storage = FloatBuffer(count: 0)

    public init() {}

    /// At least `count` floats (contents unspecified).
    @inline(__always)
    public func pointer(_ count: Int) -> UnsafeMutablePointer<Float> {
        if storage.count < count { storage = FloatBuffer(count: count + count / 4 + 64) }
        return storage.base
    }
}
