import Synchronization
import Testing
import Tensors

@Suite("ThreadPool")
struct ThreadPoolTests {
    @Test("Every index of a parallel loop runs exactly once, loop after loop")
    func everyIndexOnce() {
        let pool = ThreadPool(threadCount: 3)
        for count in [1, 2, 3, 7, 64, 1000] {
            for _ in 0..<50 {
                let hits = Mutex<[Int]>(Array(repeating: 0, count: count))
                pool.parallelFor(count) { index in hits.withLock { $0[index] += 1 } }
                #expect(hits.withLock { $0.allSatisfy { $0 == 1 } })
            }
        }
    }

    @Test("A loop given a C function and a state pointer runs every index once, and its ranges are the split's")
    func stateLoops() {
        let pool = ThreadPool(threadCount: 3)
        for count in [1, 2, 3, 7, 64, 1000] {
            for _ in 0..<50 {
                var hits = [Int](repeating: 0, count: count)
                hits.withUnsafeMutableBufferPointer { buffer in
                    var base = buffer.baseAddress!
                    // Distinct indices: each slot is written by one task only.
                    pool.parallelFor(count, state: &base) { raw, index in
                        raw.assumingMemoryBound(to: UnsafeMutablePointer<Int>.self).pointee[index] += 1
                    }
                }
                #expect(hits.allSatisfy { $0 == 1 }, "\(count) indices")
            }
        }
        for (total, alignment) in [(100, 16), (10, 1), (3, 1), (49152, 32), (0, 16)] {
            let ranges = RangeLog()
            pool.parallelRanges(total, alignment: alignment, state: Unmanaged.passUnretained(ranges).toOpaque()) { raw, lower, upper in
                Unmanaged<RangeLog>.fromOpaque(raw).takeUnretainedValue().record(lower..<upper)
            }
            #expect(ranges.sorted == ThreadPool.split(total, into: pool.threadCount, alignment: alignment),
                    "\(total) by \(alignment)")
        }
    }

    /// The ranges a loop ran, from any thread.
    final class RangeLog: @unchecked Sendable {
        private let ranges = Mutex<[Range<Int>]>([])
        func record(_ range: Range<Int>) { ranges.withLock { $0.append(range) } }
        var sorted: [Range<Int>] { ranges.withLock { $0.sorted { $0.lowerBound < $1.lowerBound } } }
    }

    @Test("A loop sees the results of the previous loop (no stale worker runs a new task)")
    func loopsAreOrdered() {
        let pool = ThreadPool(threadCount: 2)
        let values = Mutex<[Int]>(Array(repeating: 0, count: 16))
        for round in 1...50_000 {
            pool.parallelFor(round % 16 + 1) { index in values.withLock { $0[index] += 1 } }
        }
        let total = values.withLock { $0.reduce(0, +) }
        #expect(total == (1...50_000).reduce(0) { $0 + $1 % 16 + 1 })
    }

    @Test("Split ranges cover the whole range with aligned boundaries")
    func splitRanges() {
        #expect(ThreadPool.split(100, into: 2, alignment: 16) == [0..<48, 48..<100])
        #expect(ThreadPool.split(10, into: 4) == [0..<2, 2..<5, 5..<7, 7..<10])
        #expect(ThreadPool.split(3, into: 8) == [0..<1, 1..<2, 2..<3])
        #expect(ThreadPool.split(0, into: 2).isEmpty)
        for total in [1, 15, 16, 17, 576, 49152] {
            let ranges = ThreadPool.split(total, into: 3, alignment: 16)
            #expect(ranges.first?.lowerBound == 0 && ranges.last?.upperBound == total)
            for (a, b) in zip(ranges, ranges.dropFirst()) {
                #expect(a.upperBound == b.lowerBound && a.upperBound % 16 == 0)
            }
        }
    }

    @Test("A pool can be dropped and its threads stop")
    func poolDeinit() {
        for _ in 0..<20 {
            let pool = ThreadPool(threadCount: 2)
            let sum = Atomic<Int>(0)
            pool.parallelFor(10) { sum.add($0, ordering: .relaxed) }
            #expect(sum.load(ordering: .relaxed) == 45)
        }
    }
}
