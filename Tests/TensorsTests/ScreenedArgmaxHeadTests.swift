import Testing
import Tensors

/// `ScreenedArgmaxHead` against the float32 head it stands in for: the same argmax, candidate
/// logits bit-identical to `SmallBatchProduct`'s, and `-infinity` only where a token provably
/// cannot be the largest.
@Suite("The screened argmax head")
struct ScreenedArgmaxHeadTests {
    /// A reproducible stream of values in [-1, 1].
    struct Stream {
        var state: UInt64
        mutating func next() -> Float {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Int64(bitPattern: state >> 11) % 2_000_001) / 1_000_000 - 1
        }
    }

    /// A head shaped like a small model's (`k` 576, weights of a few hundredths) with planted
    /// duplicates and near-duplicates: exact ties and logits closer than bfloat16 can tell apart.
    static func head(vocab: Int, k: Int, seed: UInt64) -> Tensor {
        var stream = Stream(state: seed)
        var values = (0..<(vocab * k)).map { _ in stream.next() * 0.06 }
        for (copy, source) in [(vocab - 1, 3), (vocab / 2, 3), (vocab / 3, 7)] {
            for i in 0..<k { values[copy * k + i] = values[source * k + i] }
        }
        // Token vocab/3 + 1: token 7 nudged by one float32 step in one weight.
        for i in 0..<k { values[(vocab / 3 + 1) * k + i] = values[7 * k + i] }
        values[(vocab / 3 + 1) * k] = values[7 * k].nextUp
        return Tensor(shape: [vocab, k], values: values)
    }

    /// Rows aimed at the planted tokens (so the ties are the maximum) and plain random rows,
    /// at the scales a final norm produces.
    static func rows(head: Tensor, count: Int, seed: UInt64) -> [Float] {
        let k = head.shape[1]
        var stream = Stream(state: seed)
        var rows: [Float] = []
        for r in 0..<count {
            let scale: Float = [1, 4, 20, 60][r % 4]
            let target = [3, 7, -1][r % 3]
            for i in 0..<k {
                let aim = target >= 0 ? head.base[target * k + i] * 400 : 0
                rows.append((stream.next() + aim) * scale)
            }
        }
        return rows
    }

    /// A planted head (`head(vocab:k:seed:)`) and its screened copy.
    static func screenedHead(vocab: Int, k: Int = 576, seed: UInt64) throws -> (head: Tensor, screened: ScreenedArgmaxHead) {
        let head = Self.head(vocab: vocab, k: k, seed: seed)
        return (head, try #require(ScreenedArgmaxHead(weight: head)))
    }

    func exactLogits(head: Tensor, rows: [Float]) -> [Float] {
        let vocab = head.shape[0], k = head.shape[1], count = rows.count / k
        var logits = [Float](repeating: 0, count: count * vocab)
        rows.withUnsafeBufferPointer { x in
            logits.withUnsafeMutableBufferPointer { y in
                SmallBatchProduct.multiply(x.baseAddress!, rows: count, ldx: k, weight: head.base, k: k,
                                           columns: 0..<vocab, output: y.baseAddress!, ldy: vocab)
            }
        }
        return logits
    }

    func screenedLogits(_ screened: ScreenedArgmaxHead, rows: [Float], pool: ThreadPool) -> (logits: [Float], candidates: Int) {
        let vocab = screened.vocabularySize, k = screened.inFeatures, count = rows.count / k
        var logits = [Float](repeating: .nan, count: count * vocab)
        let candidates = rows.withUnsafeBufferPointer { x in
            logits.withUnsafeMutableBufferPointer { y in
                screened.apply(x.baseAddress!, rows: count, ldx: k, into: y.baseAddress!, ldy: vocab, pool: pool)
            }
        }
        return (logits, candidates)
    }

    static func argmax(_ values: ArraySlice<Float>) -> Int {
        var best = values.startIndex
        for index in values.indices where values[index] > values[best] { best = index }
        return best - values.startIndex
    }

    @Test("Every row's argmax is the float32 head's, its candidates' logits are bit-identical and the rest are -infinity",
          .enabled(if: BFloat16Product.isSupported, "needs AVX-512 BF16"),
          arguments: [1, 3, 12, 13, 30])
    func matchesFloat32Head(rowCount: Int) throws {
        let vocab = 3001, k = 576
        let (head, screened) = try Self.screenedHead(vocab: vocab, k: k, seed: 11)
        let rows = Self.rows(head: head, count: rowCount, seed: UInt64(rowCount))
        let exact = exactLogits(head: head, rows: rows)
        let pool = ThreadPool(threadCount: 2)
        let (logits, candidates) = screenedLogits(screened, rows: rows, pool: pool)
        #expect(candidates < rowCount * vocab / 10, "the screen should leave few candidates, left \(candidates)")
        for r in 0..<rowCount {
            let slice = r * vocab..<(r + 1) * vocab
            let best = Self.argmax(exact[slice])
            #expect(Self.argmax(logits[slice]) == best, "row \(r)")
            for j in slice where logits[j] != -.infinity {
                #expect(logits[j].bitPattern == exact[j].bitPattern, "row \(r) token \(j - slice.lowerBound)")
            }
            // Every token tied with the best (the planted copies) stays a candidate.
            for j in slice where exact[j] == exact[slice.lowerBound + best] {
                #expect(logits[j] == exact[j], "row \(r): tied token \(j - slice.lowerBound) was screened out")
            }
        }
    }

    @Test("A tie between identical head rows goes to the lower token id, as the float32 argmax does",
          .enabled(if: BFloat16Product.isSupported, "needs AVX-512 BF16"))
    func tiesGoToTheLowerToken() throws {
        let vocab = 64, k = 576
        let (head, screened) = try Self.screenedHead(vocab: vocab, k: k, seed: 5)
        // Aimed at token 3, whose copies are tokens vocab/2 and vocab-1.
        let row = (0..<k).map { head.base[3 * k + $0] * 1000 }
        let (logits, _) = screenedLogits(screened, rows: row, pool: ThreadPool(threadCount: 1))
        #expect(Self.argmax(logits[0..<vocab]) == 3)
        #expect(logits[3] == logits[vocab / 2] && logits[3] == logits[vocab - 1])
    }

    @Test("A row that is not finite gets the whole float32 row",
          .enabled(if: BFloat16Product.isSupported, "needs AVX-512 BF16"))
    func nonFiniteRowFallsBack() throws {
        let vocab = 100, k = 576
        let (head, screened) = try Self.screenedHead(vocab: vocab, k: k, seed: 9)
        var row = Self.rows(head: head, count: 1, seed: 2)
        row[10] = .infinity
        let (logits, candidates) = screenedLogits(screened, rows: row, pool: ThreadPool(threadCount: 2))
        #expect(candidates == vocab)
        let exact = exactLogits(head: head, rows: row)
        #expect(zip(logits, exact).allSatisfy { $0.bitPattern == $1.bitPattern })
    }

    @Test("A head with a weight that is not finite is refused")
    func nonFiniteHeadIsRefused() {
        var values = [Float](repeating: 0.01, count: 64 * 8)
        values[77] = .nan
        #expect(ScreenedArgmaxHead(weight: Tensor(shape: [64, 8], values: values)) == nil)
    }
}
