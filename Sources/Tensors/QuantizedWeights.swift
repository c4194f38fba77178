import CMatmul

/// A weight matrix kept in the GGUF blocks it was stored in (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K,
/// Q5_K or Q6_K),
/// for products that dequantise it exactly on the fly.
///
/// In each of these formats a weight is a small integer times a half-precision scale, plus an
/// offset for some, and every step but one is exact in float32 (a half-precision number has 11
/// significant bits, the integers at most 8, and K-quants' sub-block scales 6 or 8): each weight
/// is one correctly rounded float32 operation. The kernel (`quantized_batch.c`) repeats it and so
/// computes the very values the loader's float32 dequantisation stores, then accumulates exactly
/// as `SmallBatchProduct` does: every output has the float32 product's bits, whatever the batch,
/// while a pass reads 0.75 (4-bit formats) to 1.25 (Q6_K) bytes per weight instead of 4.
///
/// The blocks are repacked once into blocks of 32 with float32 scales (and, for K-quants, the
/// exact products of their two levels of scales), so the kernel broadcasts them from memory.
public final class QuantizedWeights: @unchecked Sendable {
    /// The stored formats with an exact on-the-fly form.
    public enum Format: Int32, Sendable, CaseIterable {
        case q4_1 = 0
        case q8_0 = 1
        case q4_0 = 2
        case q4_K = 3
        case q6_K = 4
        case q5_0 = 5
        case q5_1 = 6
        case q5_K = 7

        public var name: String { ["Q4_1", "Q8_0", "Q4_0", "Q4_K", "Q6_K", "Q5_0", "Q5_1", "Q5_K"][Int(rawValue)] }
        /// Weights per stored block (32, or 256 for the K-quants).
        public var blockWeights: Int { speculators_quantized_block_weights(rawValue) }
        /// Bytes per stored block as a GGUF file stores it.
        public var storedBlockBytes: Int { speculators_quantized_stored_block_bytes(rawValue) }
        /// The packed form the kernel reads (formats of one form can be stacked).
        public var kind: Int32 { speculators_quantized_kind(rawValue) }
        /// Bytes per 32 weights as the kernel reads them.
        public var packedBlockBytes: Int { speculators_quantized_packed_block_bytes(kind) }
    }

    /// Weights per packed block.
    public static let blockSize = 32

    public let format: Format
    /// Output features (matrix rows).
    public let rows: Int
    /// Input features; a multiple of the format's `blockWeights`.
    public let columns: Int
    private let packed: UnsafeMutableRawPointer

    /// Bytes the packed matrix occupies (what a pass streams).
    public var packedBytes: Int { rows * rowBytes }
    private var rowBytes: Int { columns / Self.blockSize * format.packedBlockBytes }

    /// Packs `rows` stored rows of `columns` weights each (`columns / blockWeights` blocks per
    /// row, contiguous), writing stored row `r` as row `rowOrder(r)` (default: in place). Nil when
    /// `columns` is not a positive multiple of the format's block or `rows` is not positive.
    public init?(format: Format, rows: Int, columns: Int, stored: UnsafeRawPointer,
                 rowOrder: ((Int) -> Int)? = nil) {
        guard rows > 0, columns > 0, columns % format.blockWeights == 0 else { return nil }
        self.format = format
        self.rows = rows
        self.columns = columns
        let storedRow = columns / format.blockWeights * format.storedBlockBytes
        let packedRow = columns / Self.blockSize * format.packedBlockBytes
        packed = UnsafeMutableRawPointer.allocate(byteCount: rows * packedRow, alignment: 64)
        for row in 0..<rows {
            let target = rowOrder?(row) ?? row
            speculators_quantized_pack_row(format.rawValue, stored + row * storedRow, columns, packed + target * packedRow)
        }
    }

    private init(format: Format, rows: Int, columns: Int, packed: UnsafeMutableRawPointer) {
        self.format = format
        self.rows = rows
        self.columns = columns
        self.packed = packed
    }

    deinit { packed.deallocate() }

    /// The matrices one above the other (fused projections), or nil unless all share a packed
    /// form and a width (Q4_1 and Q4_K stack; Q4_K and Q6_K do not).
    public static func stacking(_ parts: [QuantizedWeights]) -> QuantizedWeights? {
        guard let first = parts.first,
              parts.allSatisfy({ $0.format.kind == first.format.kind && $0.columns == first.columns }) else { return nil }
        let rows = parts.reduce(0) { $0 + $1.rows }
        let packed = UnsafeMutableRawPointer.allocate(byteCount: rows * first.rowBytes, alignment: 64)
        var offset = 0
        for part in parts {
            (packed + offset).copyMemory(from: part.packed, byteCount: part.packedBytes)
            offset += part.packedBytes
        }
        return QuantizedWeights(format: first.format, rows: rows, columns: first.columns, packed: packed)
    }

    /// The float32 values of row `row`, as the kernel computes them.
    public func dequantizedRow(_ row: Int) -> [Float] {
        [Float](unsafeUninitializedCapacity: columns) { buffer, count in
            if let base = buffer.baseAddress { dequantizeRow(row, into: base) }
            count = columns
        }
    }

    /// Writes the `columns` float32 values of row `row`, as the kernel computes them, to `destination`.
    public func dequantizeRow(_ row: Int, into destination: UnsafeMutablePointer<Float>) {
        precondition(row >= 0 && row < rows, "row \(row) out of 0..<\(rows)")
        speculators_quantized_dequantize(format.kind, packed + row * rowBytes, columns / Self.blockSize, destination)
    }

    /// The most rows a pass should take from the blocks rather than from the float32 weights
    /// (the results are the same bits either way). With AVX-512 every pass gains. The AVX2
    /// variant, whose 16-lane accumulators take two registers each, loses to the float32 kernel
    /// from about six rows on (forced here: 4 and 8 rows took 8.43 and 16.4 ms, the float32 AVX2
    /// kernel 9.2 and 13.5-15.4).
    public static var fastestUpToRows: Int {
        SmallBatchProduct.InstructionSet.best == .avx512 ? Int.max : 4
    }

    /// `SmallBatchProduct.multiply` with these weights: output columns `columns` of `rows` input
    /// rows, bit for bit what the float32 product of the dequantised matrix gives.
    @inline(__always)
    public func multiply(
        _ x: UnsafePointer<Float>, rows: Int, ldx: Int, columns range: Range<Int>, output: UnsafeMutablePointer<Float>,
        ldy: Int, using isa: SmallBatchProduct.InstructionSet = .best
    ) {
        speculators_quantized_batch_using(isa.rawValue, x, rows, ldx, packed, format.kind, columns,
                                          range.lowerBound, range.upperBound, output, ldy)
    }

    /// The packed blocks the kernel reads (`multiply(blocks:...)`), alive as long as this object.
    var kernelBlocks: UnsafeRawPointer { UnsafeRawPointer(packed) }

    /// `multiply` on packed blocks given by pointer: for loops that must not touch the object's
    /// reference count from every worker (`Linear.apply`).
    static func multiply(blocks: UnsafeRawPointer, kind: Int32, columnsPerRow: Int, _ x: UnsafePointer<Float>, rows: Int,
                         ldx: Int, columns range: Range<Int>, output: UnsafeMutablePointer<Float>, ldy: Int) {
        speculators_quantized_batch_using(SmallBatchProduct.InstructionSet.best.rawValue, x, rows, ldx, blocks, kind,
                                          columnsPerRow, range.lowerBound, range.upperBound, output, ldy)
    }
}
