/// A reusable buffer that grows to the largest size asked of it and never shrinks.
///
/// Forward passes take their temporaries from these, so steady-state decoding allocates nothing.
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
