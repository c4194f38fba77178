/// The exact argmax of `x · Wᵀ` (a language-model head) while reading the weights at half width.
///
/// A greedy row only needs the largest logit. The head is the biggest single matrix of a small
/// model (SmolLM2: 28 M of its 134 M weights, 113 MB of the 538 MB a float32 decode step reads),
/// and a decode step is bound by memory. So the row is first scored against a bfloat16 copy of
/// the head (`vdpbf16ps`, half the bytes and twice the multiply-adds per instruction), each score
/// with a proven error bound; then only the tokens whose bound reaches the best lower bound are
/// computed again in float32, with the very arithmetic of the float32 head
/// (`SmallBatchProduct.dot`, which is what `SmallBatchProduct.multiply` computes for every
/// column). The largest of those is the float32 head's argmax, ties included, so greedy output
/// is token for token what the float32 head gives.
///
/// The bound, for a row `h` rounded to `h'` and a head row `w` rounded to `w'` (both as the
/// kernel rounds: to nearest even, subnormals to zero), with `u = 2⁻²⁴` and `γ = n·u / (1 − n·u)`
/// for `n = k + 2` roundings or fewer per sum:
///
///     |fl(h·w) − fl(h'·w')| ≤ ‖h‖·‖w − w'‖ + ‖h − h'‖·‖w'‖ + γ·(‖h‖·‖w‖ + ‖h'‖·‖w'‖)
///
/// (Cauchy–Schwarz on `h·(w − w') + (h − h')·w'`, plus the standard bound on each float32 sum,
/// with `‖w‖ ≤ ‖w'‖ + ‖w − w'‖`). `‖w − w'‖` and `‖w'‖` are computed per token once; the row's
/// norms per call. The comparison adds a relative and absolute margin for its own float32
/// rounding. A row that is not finite falls back to the float32 head.
///
/// Rows written this way hold exact float32 logits for the candidate tokens and `-infinity`
/// everywhere else: fit for an argmax only, never for sampling or log-probabilities.
public final class ScreenedArgmaxHead: @unchecked Sendable {
    public let vocabularySize: Int
    public let inFeatures: Int
    /// The float32 head (`[vocab, in]`), for the exact candidate logits.
    private let weight: UnsafePointer<Float>
    /// Keeps `weight`'s storage alive.
    private let weightTensor: Tensor
    /// The head packed as bfloat16 for the screening product.
    private let packed: BFloat16PackedWeights
    /// Per token: `‖w − w'‖` and `‖w'‖`, rounded up.
    private let roundingNorms: UnsafeMutablePointer<Float>
    private let halfNorms: UnsafeMutablePointer<Float>

    /// Packs `weight` (`[vocab, in]`, float32); nil on a CPU without AVX-512 BF16 or when a
    /// weight is not finite or overflows bfloat16.
    public init?(weight tensor: Tensor) {
        guard tensor.shape.count == 2, tensor.shape[0] > 0, tensor.shape[1] > 0,
              let packed = BFloat16PackedWeights(weight: tensor) else { return nil }
        let vocab = tensor.shape[0], k = tensor.shape[1]
        let base = UnsafePointer(tensor.base)
        let rounding = UnsafeMutablePointer<Float>.allocate(capacity: vocab)
        let half = UnsafeMutablePointer<Float>.allocate(capacity: vocab)
        for token in 0..<vocab {
            var difference = 0.0, norm = 0.0
            let row = base + token * k
            for i in 0..<k {
                let value = row[i], rounded = BFloat16.kernelRounded(value)
                guard value.isFinite, rounded.isFinite else {
                    rounding.deallocate()
                    half.deallocate()
                    return nil
                }
                let d = Double(value) - Double(rounded)
                difference += d * d
                norm += Double(rounded) * Double(rounded)
            }
            rounding[token] = Self.roundedUp(difference.squareRoot())
            half[token] = Self.roundedUp(norm.squareRoot())
        }
        vocabularySize = vocab
        inFeatures = k
        weight = base
        weightTensor = tensor
        roundingNorms = rounding
        halfNorms = half
        self.packed = packed
    }

    deinit {
        roundingNorms.deallocate()
        halfNorms.deallocate()
    }

    /// Bytes of the packed bfloat16 head (what a screened row streams).
    public var packedBytes: Int { packed.packedBytes }

    /// For each of `rows` rows of `x` (`ldx` apart): the float32 logits of every token that may be
    /// the row's largest, `-infinity` for the rest, in `output` (`ldy` apart). Returns how many
    /// candidates the rows had in all (for telemetry and tests).
    @discardableResult
    public func apply(_ x: UnsafePointer<Float>, rows: Int, ldx: Int, into output: UnsafeMutablePointer<Float>, ldy: Int,
                      pool: ThreadPool) -> Int {
        guard rows > 0 else { return 0 }
        // The loops' values travel in a struct on this stack, not in closure contexts, which would
        // be allocated on every call (`ThreadPool.parallelFor(_:state:_:)`).
        return withUnsafeTemporaryAllocation(of: Int.self, capacity: rows) { counts in
            var job = ScreenJob(head: self, x: x, rows: rows, ldx: ldx, output: output, ldy: ldy, counts: counts.baseAddress!)
            // The job holds a reference (the head), so it goes to the workers as a typed pointer to
            // this stack, alive and unchanged until both loops are done.
            withUnsafeMutablePointer(to: &job) { job in
                let state = UnsafeMutableRawPointer(job)
                pool.parallelRanges(vocabularySize, alignment: 32, state: state) { raw, lower, upper in
                    let job = raw.assumingMemoryBound(to: ScreenJob.self)
                    job.pointee.head.packed.multiplyRows(job.pointee.x, rows: job.pointee.rows, ldx: job.pointee.ldx,
                                                         columns: lower..<upper, into: job.pointee.output, ldy: job.pointee.ldy)
                }
                pool.parallelRanges(rows, state: state) { raw, lower, upper in
                    let job = raw.assumingMemoryBound(to: ScreenJob.self)
                    for row in lower..<upper {
                        job.pointee.counts[row] = job.pointee.head.finish(job.pointee.x + row * job.pointee.ldx,
                                                                          scores: job.pointee.output + row * job.pointee.ldy)
                    }
                }
            }
            return counts.reduce(0, +)
        }
    }

    /// `apply`'s arguments, for the pieces of its loops.
    private struct ScreenJob {
        let head: ScreenedArgmaxHead
        let x: UnsafePointer<Float>
        let rows: Int, ldx: Int
        let output: UnsafeMutablePointer<Float>
        let ldy: Int
        let counts: UnsafeMutablePointer<Int>
    }

    /// Replaces one row's bfloat16 scores by exact logits of its candidates and `-infinity`.
    private func finish(_ h: UnsafePointer<Float>, scores: UnsafeMutablePointer<Float>) -> Int {
        let k = inFeatures, vocab = vocabularySize
        var normSquared = 0.0, halfSquared = 0.0, differenceSquared = 0.0
        for i in 0..<k {
            let value = h[i], rounded = BFloat16.kernelRounded(value)
            let d = Double(value) - Double(rounded)
            normSquared += Double(value) * Double(value)
            halfSquared += Double(rounded) * Double(rounded)
            differenceSquared += d * d
        }
        let n = Double(k + 2) * 0x1p-24
        let gamma = n / (1 - n)
        let norm = normSquared.squareRoot(), halfNorm = halfSquared.squareRoot()
        // error_j = a·‖w − w'‖ + b·‖w'‖. The factors carry a 2⁻²⁰ margin for evaluating it in
        // float32, and b a further 2⁻²¹·‖h'‖ that covers rounding `score ± error`
        // (|score| ≤ (1 + γ)·‖h'‖·‖w'‖).
        let a = Self.roundedUp(norm * (1 + gamma) * (1 + 0x1p-20))
        let b = Self.roundedUp((differenceSquared.squareRoot() + gamma * (norm + halfNorm)) * (1 + 0x1p-20)
                               + halfNorm * (1 + gamma) * 0x1p-21)
        guard a.isFinite, b.isFinite else { return exactRow(h, into: scores) }

        typealias V = SIMD16<Float>
        let va = V(repeating: a), vb = V(repeating: b), tiny = V(repeating: 1e-30)
        let vectorEnd = vocab & ~15
        let rawScores = UnsafeMutableRawPointer(scores)
        let rawRounding = UnsafeRawPointer(roundingNorms), rawHalf = UnsafeRawPointer(halfNorms)

        // The best lower bound over all tokens.
        var best = V(repeating: -.infinity)
        var j = 0
        while j < vectorEnd {
            let score = rawScores.loadUnaligned(fromByteOffset: j * 4, as: V.self)
            let r = rawRounding.loadUnaligned(fromByteOffset: j * 4, as: V.self)
            let s = rawHalf.loadUnaligned(fromByteOffset: j * 4, as: V.self)
            let lower: V = score - (va * r + vb * s + tiny)
            best = best.replacing(with: lower, where: lower .> best)
            j += 16
        }
        var floor = best.max()
        while j < vocab {
            floor = Swift.max(floor, scores[j] - (a * roundingNorms[j] + b * halfNorms[j] + 1e-30))
            j += 1
        }
        guard floor.isFinite else { return exactRow(h, into: scores) }

        // Every token whose upper bound reaches it gets its float32 logit, the rest -infinity.
        // In place: block j's scores are read before its logits are written, and never again.
        var count = 0
        j = 0
        let threshold = V(repeating: floor), minusInfinity = V(repeating: -.infinity)
        while j < vectorEnd {
            let score = rawScores.loadUnaligned(fromByteOffset: j * 4, as: V.self)
            let r = rawRounding.loadUnaligned(fromByteOffset: j * 4, as: V.self)
            let s = rawHalf.loadUnaligned(fromByteOffset: j * 4, as: V.self)
            let reaches = score + (va * r + vb * s + tiny) .>= threshold
            if any(reaches) {
                var logits = minusInfinity
                for lane in 0..<16 where reaches[lane] {
                    logits[lane] = SmallBatchProduct.dot(h, weight + (j + lane) * k, k)
                    count += 1
                }
                rawScores.storeBytes(of: logits, toByteOffset: j * 4, as: V.self)
            } else {
                rawScores.storeBytes(of: minusInfinity, toByteOffset: j * 4, as: V.self)
            }
            j += 16
        }
        while j < vocab {
            let reaches = scores[j] + (a * roundingNorms[j] + b * halfNorms[j] + 1e-30) >= floor
            scores[j] = reaches ? SmallBatchProduct.dot(h, weight + j * k, k) : -.infinity
            if reaches { count += 1 }
            j += 1
        }
        return count
    }

    /// The whole row in float32 (a row whose norms are not finite).
    private func exactRow(_ h: UnsafePointer<Float>, into scores: UnsafeMutablePointer<Float>) -> Int {
        SmallBatchProduct.multiply(h, rows: 1, ldx: inFeatures, weight: weight, k: inFeatures,
                                   columns: 0..<vocabularySize, output: scores, ldy: vocabularySize)
        return vocabularySize
    }

    /// The float32 at or above `value`.
    @inline(__always)
    static func roundedUp(_ value: Double) -> Float {
        let single = Float(value)
        return Double(single) >= value ? single : single.nextUp
    }
}
