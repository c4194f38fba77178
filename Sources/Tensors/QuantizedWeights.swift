import CMatmul

/// A weight matrix kept in the GGUF blocks it was stored in (Q4_1 or Q8_0), for products that
/// dequantise it exactly on the fly.
///
/// Every Q4_1 weight is `d·q + m` and every Q8_0 weight `d·q`, with half-precision `d` and `m` and
/// a small integer `q`; `d·q` is exact in float32, so each weight is one correctly rounded float32
/// operation, and the kernel (`quantized_batch.c`) computes the very values the loader's float32
/// dequantisation stores. It then accumulates exactly as `SmallBatchProduct` does, so every output
/// has the float32 product's bits, whatever the batch, while a pass reads 0.75 (Q4_1) or 1.125
/// (Q8_0) bytes per weight instead of 4.
///
/// The blocks are repacked once with their scales widened to float32 (24 and 36 bytes per 32
/// weights instead of 20 and 34), so the kernel broadcasts them straight from memory.
public final class QuantizedWeights: @unchecked Sendable {
    /// The block formats whose weights are exact float32 operations.
    public enum Format: Int32, Sendable, CaseIterable {
        case q4_1 = 0
        case q8_0 = 1

        public var name: String { self == .q4_1 ? "Q4_1" : "Q8_0" }
        /// Bytes per block of 32 weights as a GGUF file stores it.
        public var storedBlockBytes: Int { speculators_quantized_stored_block_bytes(rawValue) }
        /// Bytes per block as the kernel reads it.
        public var packedBlockBytes: Int { speculators_quantized_packed_block_bytes(rawValue) }
    }

    /// Weights per block.
    public static let blockSize = 32

    public let format: Format
    /// Output features (matrix rows).
    public let rows: Int
    /// Input features; a multiple of `blockSize`.
    public let columns: Int
    private let packed: UnsafeMutableRawPointer

    /// Bytes the packed matrix occupies (what a pass streams).
    public var packedBytes: Int { rows * rowBytes }
    private var rowBytes: Int { columns / Self.blockSize * format.packedBlockBytes }

    /// Packs `rows` stored rows of `columns` weights each (`columns / 32` blocks per row,
    /// contiguous), writing stored row `r` as row `rowOrder(r)` (default: in place). Nil when
    /// `columns` is not a positive multiple of 32 or `rows` is not positive.
    public init?(format: Format, rows: Int, columns: Int, stored: UnsafeRawPointer,
                 rowOrder: ((Int) -> Int)? = nil) {
        guard rows > 0, columns > 0, columns % Self.blockSize == 0 else { return nil }
        self.format = format
        self.rows = rows
        self.columns = columns
        let blocksPerRow = columns / Self.blockSize
        let storedRow = blocksPerRow * format.storedBlockBytes, packedRow = blocksPerRow * format.packedBlockBytes
        packed = UnsafeMutableRawPointer.allocate(byteCount: rows * packedRow, alignment: 64)
        for row in 0..<rows {
            let target = rowOrder?(row) ?? row
            speculators_quantized_pack(format.rawValue, stored + row * storedRow, blocksPerRow, packed + target * packedRow)
        }
    }

    private init(format: Format, rows: Int, columns: Int, packed: UnsafeMutableRawPointer) {
        self.format = format
        self.rows = rows
        self.columns = columns
        self.packed = packed
    }

    deinit { packed.deallocate() }

    /// The matrices one above the other (fused projections), or nil unless all share a format and
    /// a width.
    public static func stacking(_ parts: [QuantizedWeights]) -> QuantizedWeights? {
        guard let first = parts.first,
              parts.allSatisfy({ $0.format == first.format && $0.columns == first.columns }) else { return nil }
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
        precondition(row >= 0 && row < rows, "row \(row) out of 0..<\(rows)")
        return [Float](unsafeUninitializedCapacity: columns) { buffer, count in
            speculators_quantized_dequantize(format.rawValue, packed + row * rowBytes, columns / Self.blockSize,
                                             buffer.baseAddress)
            count = columns
        }
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
        speculators_quantized_batch_using(isa.rawValue, x, rows, ldx, packed, format.rawValue, columns,
                                          range.lowerBound, range.upperBound, output, ldy)
    }
}
