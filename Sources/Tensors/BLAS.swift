import CBLAS
#if canImport(Glibc)
import Glibc
#endif

/// Thin, typed wrappers over the OpenBLAS calls the engine uses.
///
/// OpenBLAS is always run single-threaded: parallelism comes from our own `ThreadPool`, which
/// splits each product into per-thread slices. Two thread pools on two cores would only fight.
public enum BLAS {
    /// Makes OpenBLAS single-threaded. Safe to call more than once.
    public static func configure() {
        openblas_set_num_threads(1)
    }

    /// Why OpenBLAS runs AVX2 kernels on a CPU with AVX-512, when `OPENBLAS_CORETYPE` pins them
    /// (this machine's environment sets it to Haswell). Prefill's attention runs on OpenBLAS, and
    /// with its SkylakeX kernels SmolLM2 prefills 512 tokens 12-16% faster on this Zen 5 EPYC
    /// (1211-1288 against 1085-1105 tokens/s, alternating runs). OpenBLAS reads the variable when
    /// it is loaded, so only the environment can change it; the benchmark says so.
    public static var pinnedCoreAdvice: String? {
        guard ["Haswell", "Zen"].contains(coreName), speculators_cpu_runs_skylakex_kernels() == 1,
              let pinned = getenv("OPENBLAS_CORETYPE") else { return nil }
        return "OPENBLAS_CORETYPE=\(String(cString: pinned)) pins OpenBLAS to AVX2 kernels on this AVX-512 CPU; "
            + "OPENBLAS_CORETYPE=SkylakeX prefills faster"
    }

    /// The OpenBLAS kernel family in use (for benchmark reports).
    public static var coreName: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }

    /// `c[m, n] = alpha · a[m, k] · b[n, k]ᵀ + beta · c` with explicit leading dimensions (row-major).
    @inline(__always)
    public static func gemmTransposedB(
        m: Int, n: Int, k: Int, alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        if m == 1 {
            // y = B · a: a matrix-vector product reads B once at full bandwidth.
            cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(n), Int32(k), alpha, b, Int32(ldb),
                        a, 1, beta, c, 1)
        } else {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(n), Int32(k), alpha,
                        a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
        }
    }

    /// `c[m, n] = alpha · a[m, k] · b[k, n] + beta · c` (row-major, no transposes).
    @inline(__always)
    public static func gemm(
        m: Int, n: Int, k: Int, alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(n), Int32(k), alpha,
                    a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// `c[m, n] = alpha · a[k, m]ᵀ · b[k, n] + beta · c` (row-major), used by gradients.
    @inline(__always)
    public static func gemmTransposedA(
        m: Int, n: Int, k: Int, alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(m), Int32(n), Int32(k), alpha,
                    a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
}

extension BLAS {
    /// `y[n] = alpha · a[m, n]ᵀ · x[m] + beta · y` (row-major `a` with leading dimension `lda`).
    @inline(__always)
    public static func gemvTransposed(
        m: Int, n: Int, alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
        x: UnsafePointer<Float>, beta: Float = 0, y: UnsafeMutablePointer<Float>
    ) {
        cblas_sgemv(CblasRowMajor, CblasTrans, Int32(m), Int32(n), alpha, a, Int32(lda), x, 1, beta, y, 1)
    }
}
