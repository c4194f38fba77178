import CMatmul

/// The precision of a matrix product in training or data generation (serving is always float32).
public enum MatmulPrecision: String, Codable, Sendable, CaseIterable {
    /// float32 operands and sums (OpenBLAS SGEMM).
    case float32 = "f32"
    /// Operands rounded to bfloat16, sums in float32 (`BFloat16Product`), as PyTorch's bf16
    /// autocast trains; on CPUs without AVX-512 BF16 it runs as float32.
    case bfloat16 = "bf16"

    /// What actually runs on this CPU.
    public var effective: MatmulPrecision { self == .bfloat16 && !BFloat16Product.isSupported ? .float32 : self }
}

/// `C = beta·C + A·B` with A and B rounded to bfloat16 and the sums kept in float32, on AVX-512
/// BF16 (`vdpbf16ps`: two products per lane per instruction, twice the multiply-adds of a
/// float32 FMA on the same cores). Measured against OpenBLAS SGEMM on this machine's EPYC, one
/// thread, training shapes (1024 rows, 288-4096 columns, 576-1536 deep, plain and transposed):
/// 1.6-2.0x. Single-threaded like `BLAS`: callers split the output over their pool.
/// Deterministic: the result depends on the operands and the shape only.
public enum BFloat16Product {
    /// Whether this CPU has the instructions (checked once).
    public static let isSupported: Bool = speculators_bf16_gemm_supported() != 0

    /// `c[i, j] = beta · c[i, j] + Σ_p A(i, p) · B(p, j)` for `i < m`, `j < n`, `p < k`, where
    /// `A(i, p) = a[i·aRow + p·aColumn]` and `B(p, j) = b[p·bRow + j·bColumn]` (either may be a
    /// transposed view) and `c` is row-major with leading dimension `ldc`. With `beta` 0, `c` is
    /// not read. Only call it when `isSupported`.
    @inline(__always)
    public static func multiply(m: Int, n: Int, k: Int,
                                a: UnsafePointer<Float>, aRow: Int, aColumn: Int,
                                b: UnsafePointer<Float>, bRow: Int, bColumn: Int,
                                beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        speculators_bf16_gemm(m, n, k, a, aRow, aColumn, b, bRow, bColumn, beta, c, ldc)
    }
}

/// A weight matrix `[out, in]` packed once as bfloat16 for `Linear`'s batched rows with bf16
/// precision: the products then read 2 bytes per weight instead of converting 4 on every call.
/// Measured on one core (128 rows, SmolLM2 shapes): 1.2-1.4x faster than packing per call, with
/// identical results. Data generation packs every layer; serving packs only the output head
/// (`ScreenedArgmaxHead`).
public final class BFloat16PackedWeights: @unchecked Sendable {
    public let outFeatures: Int
    public let inFeatures: Int
    private let words: UnsafeMutablePointer<UInt32>
    private let pairs: Int

    /// Packs `weight` (`[out, in]`); nil on a CPU without AVX-512 BF16.
    public init?(weight: Tensor) {
        guard BFloat16Product.isSupported, weight.shape.count == 2 else { return nil }
        outFeatures = weight.shape[0]
        inFeatures = weight.shape[1]
        pairs = (inFeatures + 1) / 2
        let count = speculators_bf16_packed_words(inFeatures, outFeatures)
        // 64-byte aligned: the kernel loads each panel row with aligned 512-bit loads.
        words = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 4, alignment: 64)
            .bindMemory(to: UInt32.self, capacity: max(count, 1))
        speculators_bf16_pack(inFeatures, outFeatures, weight.base, 1, inFeatures, words)
    }

    deinit { UnsafeMutableRawPointer(words).deallocate() }

    /// Bytes of the packed matrix (what a product streams).
    public var packedBytes: Int { speculators_bf16_packed_words(inFeatures, outFeatures) * 4 }

    /// Output columns `columns` (whose start must be a multiple of 32, the panel width) of
    /// `y[rows, out] = x[rows, in] · Wᵀ`.
    @inline(__always)
    public func multiply(_ x: UnsafePointer<Float>, rows: Int, ldx: Int, columns: Range<Int>,
                         into y: UnsafeMutablePointer<Float>, ldy: Int) {
        precondition(columns.lowerBound % 32 == 0, "packed columns start on a 32-column panel")
        speculators_bf16_gemm_packed(rows, columns.count, inFeatures, x, ldx, 1, words + (columns.lowerBound / 32) * pairs * 32,
                                     pairs, 0, y + columns.lowerBound, ldy)
    }

    /// The same product for a few rows (decode and verification steps) without blocking k
    /// (`speculators_bf16_gemm_packed_rows`): each packed panel is read once, front to back.
    @inline(__always)
    public func multiplyRows(_ x: UnsafePointer<Float>, rows: Int, ldx: Int, columns: Range<Int>,
                             into y: UnsafeMutablePointer<Float>, ldy: Int) {
        precondition(columns.lowerBound % 32 == 0, "packed columns start on a 32-column panel")
        speculators_bf16_gemm_packed_rows(rows, columns.count, inFeatures, x, ldx, words + (columns.lowerBound / 32) * pairs * 32,
                                          pairs, y + columns.lowerBound, ldy)
    }
}
