import Foundation

/// Measures how fast this machine streams memory into the cores, the ceiling of decode speed.
///
/// It reads a buffer far larger than the caches with the same access pattern as
/// `SmallBatchProduct` (two sequential streams per thread, every thread of the pool), so the
/// ratio "weight bytes per token ÷ decode time ÷ this" says how close decoding gets to the
/// hardware. Shared machines are noisy: measure right around the benchmark it is compared with
/// and take the best of a few passes.
public final class MemoryBandwidth {
    private let buffer: FloatBuffer
    private let count: Int

    /// A probe over a buffer of `megabytes` MiB, allocated and touched once.
    public init(megabytes: Int = 512) {
        count = megabytes << 18
        buffer = FloatBuffer(count: count)
        buffer.base.update(repeating: 1, count: count)
    }

    /// Bytes per second, best of `repetitions` passes over the buffer.
    public func measure(pool: ThreadPool, repetitions: Int = 5) -> Double {
        let count = self.count, base = buffer.base
        var best = 0.0
        for _ in 0..<repetitions {
            let start = DispatchTime.now().uptimeNanoseconds
            pool.parallelRanges(count, alignment: 1024) { range in
                let half = range.count / 2
                let a = UnsafeRawPointer(base + range.lowerBound)
                let b = UnsafeRawPointer(base + range.lowerBound + half)
                var s0 = SIMD8<Float>(), s1 = s0, s2 = s0, s3 = s0
                var i = 0
                while i + 16 <= half {
                    let offset = i * 4
                    s0 += a.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self)
                    s1 += a.loadUnaligned(fromByteOffset: offset + 32, as: SIMD8<Float>.self)
                    s2 += b.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self)
                    s3 += b.loadUnaligned(fromByteOffset: offset + 32, as: SIMD8<Float>.self)
                    i += 16
                }
                // Keep the sum observable so the loop is not optimised away.
                if (s0 + s1 + s2 + s3).sum() == -1 { print("") }
            }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            best = max(best, Double(count * 4) / seconds)
        }
        return best
    }
}
