import Tensors

/// Conversions between float32 and the 16-bit float formats stored in checkpoints.
///
/// Both file formats are little-endian, as is every machine this runs on (x86-64, arm64), so raw bytes are
/// loaded as native integers.
enum HalfPrecision {
    /// float16 bit pattern → float32, for all 65536 patterns. A table lookup is exact (it was filled with
    /// Swift's own exact conversion) and, on x86-64 without F16C, much faster than the library call.
    nonisolated(unsafe) static let f16Table: UnsafePointer<Float> = {
        let table = UnsafeMutablePointer<Float>.allocate(capacity: 65536)
        for bits in 0..<65536 { table[bits] = Float(Float16(bitPattern: UInt16(bits))) }
        return UnsafePointer(table)
    }()

    @inline(__always)
    static func f16ToF32(_ bits: UInt16) -> Float { f16Table[Int(bits)] }

    /// float32 → float16 bits, rounding to nearest even (IEEE conversion).
    @inline(__always)
    static func f32ToF16(_ value: Float) -> UInt16 { Float16(value).bitPattern }

    /// Converts `count` elements of a plain float type at `source` to float32 at `destination`.
    /// The source may be unaligned (safetensors gives no alignment guarantee).
    static func convert(_ dataType: TensorDataType, from source: UnsafeRawPointer, count: Int,
                        to destination: UnsafeMutablePointer<Float>) {
        switch dataType {
        case .f32:
            UnsafeMutableRawPointer(destination).copyMemory(from: source, byteCount: count * 4)
        case .bf16:
            for i in 0..<count {
                destination[i] = BFloat16.widen(source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
            }
        case .f16:
            let table = f16Table
            for i in 0..<count {
                destination[i] = table[Int(source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))]
            }
        case .f64:
            for i in 0..<count {
                destination[i] = Float(source.loadUnaligned(fromByteOffset: 8 * i, as: Double.self))
            }
        default:
            destination.update(repeating: .nan, count: count)  // not a plain float type; callers check first
        }
    }
}
