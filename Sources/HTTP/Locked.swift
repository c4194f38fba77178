import Foundation

/// A value guarded by a lock, for state that handler threads and a connection's queue share.
/// (The `Synchronization` module's `Mutex` needs macOS 15; the package targets macOS 14.)
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}

extension Duration {
    /// Whole nanoseconds, saturating (timeouts are configured in `Duration`, Dispatch wants integers).
    var nanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        guard seconds >= 0 else { return 0 }
        let (whole, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? UInt64.max / 2 : whole &+ UInt64(max(0, attoseconds) / 1_000_000_000)
    }
}

/// Monotonic time in nanoseconds (the same clock Dispatch deadlines use).
@inline(__always) func monotonicNow() -> UInt64 { DispatchTime.now().uptimeNanoseconds }
