/// A fixed-size, 64-byte aligned buffer of `Float`s.
///
/// Every activation, weight and cache in the engine lives in one of these: the alignment keeps
/// BLAS and our own SIMD loops on their fast paths, and a class gives one owner per allocation
/// so the hot path never copies or reallocates.
public final class FloatBuffer: @unchecked Sendable {
    public let base: UnsafeMutablePointer<Float>
    public let count: Int

    /// A zero-filled buffer of `count` floats.
    public init(count: Int) {
        precondition(count >= 0, "FloatBuffer count must be non-negative")
        self.count = count
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * MemoryLayout<Float>.stride, alignment: 64)
        base = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        base.initialize(repeating: 0, count: max(count, 1))
    }

    /// A buffer holding a copy of `values`.
    public convenience init(_ values: [Float]) {
        self.init(count: values.count)
        values.withUnsafeBufferPointer { source in
            if let start = source.baseAddress { base.update(from: start, count: values.count) }
        }
    }

    deinit { base.deallocate() }

    public subscript(index: Int) -> Float {
        get { base[index] }
        set { base[index] = newValue }
    }

    /// The contents as an array (for tests and serialisation, never the hot path).
    public var array: [Float] { Array(UnsafeBufferPointer(start: base, count: count)) }

    /// Sets every element to zero.
    public func zero() { base.update(repeating: 0, count: count) }
}

/// A dense row-major float32 tensor: a shape over a `FloatBuffer`.
///
/// Weights are stored as PyTorch does, `[out_features, in_features]`, so a linear layer is
/// `x · Wᵀ`.
public struct Tensor: @unchecked Sendable {
    public let shape: [Int]
    public let buffer: FloatBuffer

    public init(shape: [Int], buffer: FloatBuffer) {
        precondition(shape.reduce(1, *) == buffer.count, "Tensor shape \(shape) does not match \(buffer.count) elements")
        self.shape = shape
        self.buffer = buffer
    }

    /// A zero-filled tensor.
    public init(zeros shape: [Int]) {
        self.init(shape: shape, buffer: FloatBuffer(count: shape.reduce(1, *)))
    }

    public init(shape: [Int], values: [Float]) {
        self.init(shape: shape, buffer: FloatBuffer(values))
    }

    public var count: Int { buffer.count }
    public var base: UnsafeMutablePointer<Float> { buffer.base }
    public var array: [Float] { buffer.array }

    /// Rows of a 2-D tensor (the first dimension).
    public var rows: Int { shape.first ?? 1 }
    /// Columns of a 2-D tensor (the product of all but the first dimension).
    public var columns: Int { shape.count <= 1 ? (shape.first ?? 1) : shape.dropFirst().reduce(1, *) }
}
