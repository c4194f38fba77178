import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The keys and values of one sequence for every layer, with room for `capacity` positions.
///
/// Storage is one anonymous memory mapping laid out `[layer][kv head][position][head dim]` for
/// keys and the same for values, so each (layer, head) is a contiguous matrix that BLAS can use
/// directly. The mapping reserves address space for the whole context but the OS only backs the
/// pages a sequence actually writes, and unmapping returns them at once when the sequence ends.
/// Rolling back rejected draft tokens is just lowering `length`.
public final class KVCache: @unchecked Sendable {
    public let layerCount: Int
    public let kvHeadCount: Int
    public let headDim: Int
    public let capacity: Int
    /// Positions holding valid keys and values.
    public private(set) var length: Int = 0
    /// The sequence position of entry 0 (for rotary embeddings). Nonzero when a cache holds only
    /// a recent stretch of its sequence: an EAGLE-3 draft that skipped features while it was not
    /// drafting restarts from a window of recent positions.
    public var positionOffset = 0

    private let keys: UnsafeMutablePointer<Float>
    private let values: UnsafeMutablePointer<Float>
    private let mapping: UnsafeMutableRawPointer
    private let mappedBytes: Int

    public enum AllocationError: Error, CustomStringConvertible {
        case outOfMemory(bytes: Int)
        public var description: String { "cannot reserve \(bytes(self)) bytes for a KV cache" }
        private func bytes(_ error: AllocationError) -> Int { if case let .outOfMemory(b) = error { return b }; return 0 }
    }

    public init(layerCount: Int, kvHeadCount: Int, headDim: Int, capacity: Int) throws {
        self.layerCount = layerCount
        self.kvHeadCount = kvHeadCount
        self.headDim = headDim
        self.capacity = capacity
        let floats = layerCount * kvHeadCount * capacity * headDim
        let page = 4096
        let bytes = ((floats * 2 * MemoryLayout<Float>.stride) + page - 1) / page * page
        guard let pointer = mmap(nil, max(bytes, page), PROT_READ | PROT_WRITE,
                                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0),
              pointer != MAP_FAILED else {
            throw AllocationError.outOfMemory(bytes: bytes)
        }
        mapping = pointer
        mappedBytes = max(bytes, page)
        keys = pointer.bindMemory(to: Float.self, capacity: floats * 2)
        values = keys + floats
    }

    deinit { munmap(mapping, mappedBytes) }

    /// The `[capacity, headDim]` key matrix of one layer and kv head.
    @inline(__always)
    public func keys(layer: Int, head: Int) -> UnsafeMutablePointer<Float> {
        keys + ((layer * kvHeadCount + head) * capacity) * headDim
    }

    /// The `[capacity, headDim]` value matrix of one layer and kv head.
    @inline(__always)
    public func values(layer: Int, head: Int) -> UnsafeMutablePointer<Float> {
        values + ((layer * kvHeadCount + head) * capacity) * headDim
    }

    /// Marks `count` more positions as written (after a forward pass filled them).
    public func commit(_ count: Int) {
        precondition(length + count <= capacity, "KV cache overflow")
        length += count
    }

    /// Forgets every position from `newLength` on (rejected draft tokens, or a reset).
    public func truncate(to newLength: Int) {
        length = max(0, min(length, newLength))
    }

    /// Room left for new positions.
    public var remaining: Int { capacity - length }
}
