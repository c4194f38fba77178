import Foundation
import Tensors

/// Grouped-query attention of one training-time-test (TTT) step, forward and backward.
///
/// At step `k` the key/value cache holds the step-0 block (one entry per packed row) and one
/// block per later step. Query row `t` sees the step-0 rows `s ≤ t` of its own document that lie
/// inside the sliding window (measured from the anchor row `t`, as the library does), plus
/// exactly row `t` of every block `1…k` ("diagonal draft extension"). Context scores are one BLAS
/// product per (document, head); the `k` diagonal scores are dot products per row.
///
/// Probabilities are kept from the forward pass for the backward pass: `heads · Σ_doc n²`
/// context values plus `rows · heads · k` diagonal values per step and layer.
struct TTTAttentionGeometry: Sendable {
    let headCount: Int
    let kvHeadCount: Int
    let headDim: Int
    let window: Int?
    let documents: [Range<Int>]
    /// Offset of each document's `n × n` score block inside one head's slab.
    let documentOffsets: [Int]
    /// `Σ n²` over documents.
    let slab: Int
    let rows: Int

    init(headCount: Int, kvHeadCount: Int, headDim: Int, window: Int?, documents: [Range<Int>], rows: Int) {
        self.headCount = headCount
        self.kvHeadCount = kvHeadCount
        self.headDim = headDim
        self.window = window
        self.documents = documents
        self.rows = rows
        var offsets: [Int] = []
        var total = 0
        for d in documents {
            offsets.append(total)
            total += d.count * d.count
        }
        documentOffsets = offsets
        slab = total
    }

    var qWidth: Int { headCount * headDim }
    var kvWidth: Int { kvHeadCount * headDim }
    var qkvWidth: Int { qWidth + 2 * kvWidth }
    var group: Int { headCount / kvHeadCount }
    var scale: Float { 1 / Float(headDim).squareRoot() }

    /// First visible context row (within the document) of row `i`.
    @inline(__always) func contextStart(_ i: Int) -> Int {
        guard let window else { return 0 }
        return max(0, i - window + 1)
    }
}

/// Per (step, layer) attention state kept for the backward pass.
final class TTTAttentionRecord: @unchecked Sendable {
    /// `[heads, slab]` context probabilities (zeros outside the visible keys).
    let contextProbabilities = Scratch()
    /// `[rows, heads, step]` probabilities of the diagonal keys of blocks 1…step.
    let diagonalProbabilities = Scratch()
}

enum TTTAttention {
    /// Forward of step `step`: `blocks[j]` is the post-RoPE `[rows, qkvWidth]` buffer of block `j`
    /// (`blocks[step]` holds this step's queries too). Writes `[rows, qWidth]` into `output`.
    static func forward(step: Int, blocks: [UnsafeMutablePointer<Float>], geometry: TTTAttentionGeometry,
                        record: TTTAttentionRecord, output: UnsafeMutablePointer<Float>, pool: ThreadPool) {
        let g = geometry, hd = g.headDim, width = g.qkvWidth, scale = g.scale
        let context = record.contextProbabilities.pointer(max(g.headCount * g.slab, 1))
        let diagonal = record.diagonalProbabilities.pointer(max(g.rows * g.headCount * step, 1))
        let query = blocks[step]
        let tasks = g.documents.count * g.headCount
        pool.parallelFor(tasks) { task in
            let docIndex = task / g.headCount, head = task % g.headCount
            let doc = g.documents[docIndex], n = doc.count, a = doc.lowerBound
            guard n > 0 else { return }
            let kvHead = head / g.group
            let q = query + a * width + head * hd
            let k0 = blocks[0] + a * width + g.qWidth + kvHead * hd
            let v0 = k0 + g.kvWidth
            let p = context + head * g.slab + g.documentOffsets[docIndex]
            BLAS.gemmTransposedB(m: n, n: n, k: hd, alpha: scale, a: q, lda: width, b: k0, ldb: width, c: p, ldc: n)
            for i in 0..<n {
                let row = p + i * n
                let start = g.contextStart(i)
                var maxValue = -Float.infinity
                for s in start...i where row[s] > maxValue { maxValue = row[s] }
                let qi = q + i * width
                let diag = diagonal + ((a + i) * g.headCount + head) * step
                for j in 0..<step {
                    let kj = blocks[j + 1] + (a + i) * width + g.qWidth + kvHead * hd
                    var dot: Float = 0
                    for d in 0..<hd { dot += qi[d] * kj[d] }
                    diag[j] = dot * scale
                    if diag[j] > maxValue { maxValue = diag[j] }
                }
                var sum: Float = 0
                for s in start...i {
                    let e = Kernels.exp(row[s] - maxValue)
                    row[s] = e
                    sum += e
                }
                for j in 0..<step {
                    let e = Kernels.exp(diag[j] - maxValue)
                    diag[j] = e
                    sum += e
                }
                let inv = 1 / sum
                if start > 0 { row.update(repeating: 0, count: start) }
                for s in start...i { row[s] *= inv }
                if i + 1 < n { (row + i + 1).update(repeating: 0, count: n - i - 1) }
                for j in 0..<step { diag[j] *= inv }
            }
            let out = output + a * g.qWidth + head * hd
            BLAS.gemm(m: n, n: hd, k: n, a: p, lda: n, b: v0, ldb: width, c: out, ldc: g.qWidth)
            if step > 0 {
                for i in 0..<n {
                    let diag = diagonal + ((a + i) * g.headCount + head) * step
                    let o = out + i * g.qWidth
                    for j in 0..<step {
                        let vj = blocks[j + 1] + (a + i) * width + g.qWidth + g.kvWidth + kvHead * hd
                        let pj = diag[j]
                        for d in 0..<hd { o[d] += pj * vj[d] }
                    }
                }
            }
        }
    }

    /// Backward of step `step`. `dOutput` is `∂L/∂output`; `attended` the forward output.
    /// Writes the query gradient into the q columns of `gradients[step]` and *adds* key and value
    /// gradients into the k/v columns of `gradients[0…step]` (pre-RoPE conversion is the caller's).
    static func backward(step: Int, blocks: [UnsafeMutablePointer<Float>], gradients: [UnsafeMutablePointer<Float>],
                         attended: UnsafePointer<Float>, dOutput: UnsafePointer<Float>, geometry: TTTAttentionGeometry,
                         record: TTTAttentionRecord, workspace: [Scratch], pool: ThreadPool) {
        let g = geometry, hd = g.headDim, width = g.qkvWidth, scale = g.scale
        let context = record.contextProbabilities.pointer(max(g.headCount * g.slab, 1))
        let diagonal = record.diagonalProbabilities.pointer(max(g.rows * g.headCount * step, 1))
        let tasks = g.documents.count * g.kvHeadCount
        let largestDocument = g.documents.map(\.count).max() ?? 0
        let need = largestDocument * largestDocument + largestDocument * step + 64
        let workers = min(pool.threadCount, max(tasks, 1))
        let scratches = (0..<workers).map { workspace[$0].pointer(need) }
        pool.parallelFor(workers) { worker in
            var task = worker
            while task < tasks {
                defer { task += workers }
                let docIndex = task / g.kvHeadCount, kvHead = task % g.kvHeadCount
                let doc = g.documents[docIndex], n = doc.count, a = doc.lowerBound
                if n == 0 { continue }
                let dS = scratches[worker]
                let dDiagonal = dS + n * n
                let k0 = blocks[0] + a * width + g.qWidth + kvHead * hd
                let v0 = k0 + g.kvWidth
                let dk0 = gradients[0] + a * width + g.qWidth + kvHead * hd
                let dv0 = dk0 + g.kvWidth
                for head in (kvHead * g.group)..<((kvHead + 1) * g.group) {
                    let p = context + head * g.slab + g.documentOffsets[docIndex]
                    let dO = dOutput + a * g.qWidth + head * hd
                    let o = attended + a * g.qWidth + head * hd
                    let q = blocks[step] + a * width + head * hd
                    let dq = gradients[step] + a * width + head * hd
                    // dP = dO · V0ᵀ over the context block, then dS = P ⊙ (dP − rowsum(P ⊙ dP)),
                    // where rowsum(P ⊙ dP) = dO · O.
                    BLAS.gemmTransposedB(m: n, n: n, k: hd, a: dO, lda: g.qWidth, b: v0, ldb: width, c: dS, ldc: n)
                    for i in 0..<n {
                        let dOi = dO + i * g.qWidth, oi = o + i * g.qWidth
                        var rowDot: Float = 0
                        for d in 0..<hd { rowDot += dOi[d] * oi[d] }
                        let row = dS + i * n, prow = p + i * n
                        let start = g.contextStart(i)
                        for s in 0..<n { row[s] = s >= start && s <= i ? prow[s] * (row[s] - rowDot) : 0 }
                        guard step > 0 else { continue }
                        let diag = diagonal + ((a + i) * g.headCount + head) * step
                        let qi = q + i * width
                        for j in 0..<step {
                            let dkj = gradients[j + 1] + (a + i) * width + g.qWidth + kvHead * hd
                            let dvj = dkj + g.kvWidth
                            let vj = blocks[j + 1] + (a + i) * width + g.qWidth + g.kvWidth + kvHead * hd
                            var dP: Float = 0
                            for d in 0..<hd { dP += dOi[d] * vj[d] }
                            let pj = diag[j]
                            let dSj = pj * (dP - rowDot)
                            dDiagonal[i * step + j] = dSj
                            for d in 0..<hd {
                                dvj[d] += pj * dOi[d]
                                dkj[d] += scale * dSj * qi[d]
                            }
                        }
                    }
                    // dV0 += Pᵀ·dO ; dQ = scale·dS·K0 ; dK0 += scale·dSᵀ·Q
                    BLAS.gemmTransposedA(m: n, n: hd, k: n, a: p, lda: n, b: dO, ldb: g.qWidth, beta: 1, c: dv0, ldc: width)
                    BLAS.gemm(m: n, n: hd, k: n, alpha: scale, a: dS, lda: n, b: k0, ldb: width, beta: 0, c: dq, ldc: width)
                    BLAS.gemmTransposedA(m: n, n: hd, k: n, alpha: scale, a: dS, lda: n, b: q, ldb: width, beta: 1, c: dk0, ldc: width)
                    if step > 0 {
                        for i in 0..<n {
                            let dqi = dq + i * width
                            for j in 0..<step {
                                let kj = blocks[j + 1] + (a + i) * width + g.qWidth + kvHead * hd
                                let c = scale * dDiagonal[i * step + j]
                                for d in 0..<hd { dqi[d] += c * kj[d] }
                            }
                        }
                    }
                }
            }
        }
    }
}
