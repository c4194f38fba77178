import Foundation
import Synchronization

/// A fixed pool of worker threads that runs data-parallel loops with very low dispatch latency.
///
/// Decoding one token runs a few hundred parallel regions (one per matrix product), so waking
/// threads through the OS each time would cost more than the work. Workers therefore spin
/// briefly on an atomic generation counter after each job and only then sleep on a condition.
/// The calling thread takes part in every loop, so a pool of `threadCount` uses
/// `threadCount - 1` extra threads. BLAS itself is kept single-threaded (see `BLAS.configure`):
/// all parallelism is ours, so two BLAS thread pools never fight over the two cores.
public final class ThreadPool: @unchecked Sendable {
    /// Threads taking part in each loop, the caller included.
    public let threadCount: Int
    private let core: PoolCore

    /// A pool of `threadCount` threads (the caller included); defaults to the number of cores.
    ///
    /// Makes OpenBLAS single-threaded too (`BLAS.configure`), since the pool is where all
    /// parallelism comes from: OpenBLAS with two threads gives a prefill's attention other bits
    /// than with one, so a process that had not configured it (the test runner, until a server
    /// test did) could compute one prompt two ways.
    public init(threadCount: Int = ProcessInfo.processInfo.activeProcessorCount) {
        BLAS.configure()
        self.threadCount = max(1, threadCount)
        core = PoolCore(threadCount: self.threadCount)
    }

    deinit { core.stop() }

    /// Runs `body(i)` for every `i` in `0..<count`, spread over the pool; returns when all are done.
    ///
    /// The workers can only call a closure kept where they find it, so Swift gives a closure that
    /// captures values a context on the heap: one allocation per loop. Code that runs every token
    /// uses `parallelFor(_:state:_:)` instead.
    public func parallelFor(_ count: Int, _ body: (Int) -> Void) {
        core.parallelFor(count, body)
    }

    /// Runs `body(state, i)` for every `i` in `0..<count`, without allocating.
    ///
    /// `body` is a C function, which captures nothing (the compiler checks it), and takes what it
    /// needs from `state`: usually a struct on the caller's stack, alive until this returns.
    /// Written with closures, a forward pass made about 200 allocations per decoded token, one
    /// for each parallel loop's captured values.
    public func parallelFor(_ count: Int, state: UnsafeMutableRawPointer,
                            _ body: @convention(c) (UnsafeMutableRawPointer, Int) -> Void) {
        core.parallelFor(count, state: state, body)
    }

    /// Splits `0..<total` into at most `threadCount` contiguous ranges (multiples of `alignment`)
    /// and runs `body` on each (allocating once for the closure's captured values, see
    /// `parallelFor(_:_:)`).
    public func parallelRanges(_ total: Int, alignment: Int = 1, _ body: (Range<Int>) -> Void) {
        guard total > 0 else { return }
        let pieces = ThreadPool.pieceCount(total, into: threadCount, alignment: alignment)
        core.parallelFor(pieces) { piece in
            let range = ThreadPool.piece(piece, of: pieces, total: total, alignment: alignment)
            if !range.isEmpty { body(range) }
        }
    }

    /// `parallelRanges` without allocating: `body(state, lower, upper)` for each non-empty range
    /// (see `parallelFor(_:state:_:)`). The ranges are computed where they run.
    public func parallelRanges(_ total: Int, alignment: Int = 1, state: UnsafeMutableRawPointer,
                               _ body: @convention(c) (UnsafeMutableRawPointer, Int, Int) -> Void) {
        guard total > 0 else { return }
        var job = RangeJob(state: state, body: body, total: total, alignment: alignment,
                           pieces: ThreadPool.pieceCount(total, into: threadCount, alignment: alignment))
        withUnsafeMutablePointer(to: &job) { pointer in
            core.parallelFor(pointer.pointee.pieces, state: UnsafeMutableRawPointer(pointer)) { raw, piece in
                let job = raw.assumingMemoryBound(to: RangeJob.self)
                let range = ThreadPool.piece(piece, of: job.pointee.pieces, total: job.pointee.total,
                                             alignment: job.pointee.alignment)
                if !range.isEmpty { job.pointee.body(job.pointee.state, range.lowerBound, range.upperBound) }
            }
        }
    }

    /// What `parallelRanges(_:alignment:state:_:)` hands each piece.
    private struct RangeJob {
        let state: UnsafeMutableRawPointer
        let body: @convention(c) (UnsafeMutableRawPointer, Int, Int) -> Void
        let total: Int, alignment: Int, pieces: Int
    }

    /// Contiguous ranges covering `0..<total`, at most `parts` of them, boundaries on multiples of `alignment`.
    public static func split(_ total: Int, into parts: Int, alignment: Int = 1) -> [Range<Int>] {
        guard total > 0 else { return [] }
        let pieces = pieceCount(total, into: parts, alignment: alignment)
        return (0..<pieces).map { piece($0, of: pieces, total: total, alignment: alignment) }.filter { !$0.isEmpty }
    }

    /// How many pieces `split` cuts `total` into: at most `parts`, and no more than there are
    /// units of `alignment`, so that no piece is empty.
    static func pieceCount(_ total: Int, into parts: Int, alignment: Int) -> Int {
        max(1, min(parts, (total + alignment - 1) / alignment))
    }

    /// Piece `index` of `pieces` of `0..<total`, boundaries on multiples of `alignment`.
    @inline(__always)
    public static func piece(_ index: Int, of pieces: Int, total: Int, alignment: Int) -> Range<Int> {
        let units = (total + alignment - 1) / alignment
        let start = min(total, units * index / pieces * alignment)
        let end = min(total, units * (index + 1) / pieces * alignment)
        return start..<max(start, end)
    }
}

/// The shared state of a pool; worker threads keep it alive until they have stopped.
private final class PoolCore: @unchecked Sendable {
    let threadCount: Int

    private let generation = Atomic<Int>(0)
    /// The next unclaimed task, tagged with its loop's generation in the high 32 bits so that a
    /// worker still finishing an old loop can never claim a task of the next one.
    private let claimState = Atomic<Int>(0)
    private let finishedTasks = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    private let sleepLock = NSCondition()
    /// Serialises callers: one loop runs at a time.
    private let callerLock = NSLock()
    private nonisolated(unsafe) var taskCount = 0
    /// The running loop's body and its state (`parallelFor(_:state:_:)`).
    private nonisolated(unsafe) var job: (@convention(c) (UnsafeMutableRawPointer, Int) -> Void)?
    private nonisolated(unsafe) var jobState: UnsafeMutableRawPointer?
    private var threads: [Thread] = []

    /// How long (in spin iterations) an idle worker polls before it sleeps.
    private let spinLimit = 20_000

    init(threadCount: Int) {
        self.threadCount = threadCount
        for index in 1..<threadCount {
            let thread = Thread { self.workerLoop() }
            thread.name = "speculators-worker-\(index)"
            thread.stackSize = 8 << 20
            threads.append(thread)
            thread.start()
        }
    }

    func stop() {
        stopping.store(true, ordering: .releasing)
        sleepLock.lock()
        generation.add(1, ordering: .releasing)
        sleepLock.broadcast()
        sleepLock.unlock()
    }

    /// Runs `body(i)` for every `i` in `0..<count`, spread over the pool; returns when all are done.
    func parallelFor(_ count: Int, _ body: (Int) -> Void) {
        if count <= 0 { return }
        if count == 1 || threadCount == 1 {
            for index in 0..<count { body(index) }
            return
        }
        withoutActuallyEscaping(body) { escapable in
            var closure = escapable
            withUnsafeMutablePointer(to: &closure) { pointer in
                run(count, state: UnsafeMutableRawPointer(pointer)) { state, index in
                    state.assumingMemoryBound(to: ((Int) -> Void).self).pointee(index)
                }
            }
        }
    }

    /// Runs `body(state, i)` for every `i` in `0..<count`, spread over the pool.
    func parallelFor(_ count: Int, state: UnsafeMutableRawPointer,
                     _ body: @convention(c) (UnsafeMutableRawPointer, Int) -> Void) {
        if count <= 0 { return }
        if count == 1 || threadCount == 1 {
            for index in 0..<count { body(state, index) }
            return
        }
        run(count, state: state, body)
    }

    private func run(_ count: Int, state: UnsafeMutableRawPointer,
                     _ body: @convention(c) (UnsafeMutableRawPointer, Int) -> Void) {
        callerLock.lock()
        defer { callerLock.unlock() }
        // Retag the claim counter before touching `job` and `taskCount`: a worker still in the
        // previous loop may hold that loop's final counter (every index claimed) and compare
        // it with `taskCount`; had the new, larger count been written first, its compare-and-
        // swap on the old counter could succeed and run the new loop's job twice.
        let loop = generation.load(ordering: .relaxed) + 1
        claimState.store(loop << 32, ordering: .sequentiallyConsistent)
        job = body
        jobState = state
        taskCount = count
        finishedTasks.store(0, ordering: .relaxed)
        sleepLock.lock()
        generation.store(loop, ordering: .releasing)
        sleepLock.broadcast()
        sleepLock.unlock()
        runTasks(loop: loop)
        while finishedTasks.load(ordering: .acquiring) < count { spinPause() }
        job = nil
        jobState = nil
    }

    /// Claims and runs tasks of loop `loop` until none is left (or the loop is over).
    private func runTasks(loop: Int) {
        while true {
            var current = claimState.load(ordering: .acquiring)
            var claimed = -1
            while claimed < 0 {
                // A different tag means the loop this thread woke for is over.
                if current >> 32 != loop { return }
                let index = current & 0xFFFF_FFFF
                // While an unclaimed index remains, the caller cannot have moved on, so
                // `taskCount` still belongs to this loop.
                if index >= taskCount { return }
                let (exchanged, original) = claimState.compareExchange(
                    expected: current, desired: current + 1, ordering: .acquiringAndReleasing)
                if exchanged { claimed = index } else { current = original }
            }
            if let job, let jobState { job(jobState, claimed) }
            finishedTasks.add(1, ordering: .releasing)
        }
    }

    private func workerLoop() {
        var seen = 0
        while true {
            var spins = 0
            while generation.load(ordering: .acquiring) == seen {
                spins += 1
                if spins < spinLimit {
                    spinPause()
                } else {
                    sleepLock.lock()
                    while generation.load(ordering: .acquiring) == seen { sleepLock.wait() }
                    sleepLock.unlock()
                }
            }
            seen = generation.load(ordering: .acquiring)
            if stopping.load(ordering: .acquiring) { return }
            runTasks(loop: seen)
        }
    }

    @inline(__always) private func spinPause() {
        #if arch(x86_64) || arch(i386)
        _ = 0  // a plain reload loop; the atomic load itself paces the spin
        #endif
    }
}
