import Foundation

/// Byte-level BPE: each pre-tokenized piece starts as one symbol per byte and adjacent symbols merge in
/// merge-rank order (lowest rank first, leftmost first on ties), exactly as Hugging Face's `BPE` model does.
struct BPEModel: Sendable {
    /// Vocabulary entries (byte-level spelling) to ids.
    let vocabulary: [String: Int]
    /// The id of each byte's single-character entry, or -1 when the vocabulary lacks it.
    let byteIds: [Int32]
    /// (left id, right id) packed as `left << 32 | right`, to (rank, merged id).
    let merges: [UInt64: Merge]
    /// Llama-3's `ignore_merges`: a piece that is itself a vocabulary entry becomes that one token.
    let ignoreMerges: Bool
    let unknownId: Int?
    let fuseUnknown: Bool
    private let cache = WordCache()

    struct Merge: Sendable {
        let rank: Int32
        let id: Int32
    }

    init(vocabulary: [String: Int], merges: [(String, String)], ignoreMerges: Bool, unknownToken: String?,
         fuseUnknown: Bool, mergesKeyPath: String) throws {
        self.vocabulary = vocabulary
        self.ignoreMerges = ignoreMerges
        self.fuseUnknown = fuseUnknown
        if let unknownToken {
            guard let id = vocabulary[unknownToken] else {
                throw TokenizerError.inconsistentVocabulary("unknown token \(unknownToken.debugDescription) is not in the vocabulary")
            }
            unknownId = id
        } else {
            unknownId = nil
        }
        byteIds = ByteLevelAlphabet.scalarForByte.map { scalar in Int32(vocabulary[String(Character(scalar))] ?? -1) }
        var table: [UInt64: Merge] = [:]
        table.reserveCapacity(merges.count)
        for (rank, (left, right)) in merges.enumerated() {
            guard let leftId = vocabulary[left] else {
                throw TokenizerError.inconsistentVocabulary("\(mergesKeyPath)[\(rank)]: \(left.debugDescription) is not in the vocabulary")
            }
            guard let rightId = vocabulary[right] else {
                throw TokenizerError.inconsistentVocabulary("\(mergesKeyPath)[\(rank)]: \(right.debugDescription) is not in the vocabulary")
            }
            guard let mergedId = vocabulary[left + right] else {
                throw TokenizerError.inconsistentVocabulary("\(mergesKeyPath)[\(rank)]: the merge result \((left + right).debugDescription) is not in the vocabulary")
            }
            table[UInt64(leftId) << 32 | UInt64(rightId)] = Merge(rank: Int32(rank), id: Int32(mergedId))
        }
        self.merges = table
    }

    /// Appends the token ids of one piece (raw UTF-8 bytes).
    func encode(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, into ids: inout [Int], scratch: inout BPEScratch) {
        if range.count == 1 {
            let id = byteIds[Int(bytes[range.lowerBound])]
            if id >= 0 { ids.append(Int(id)) } else if let unknownId { ids.append(unknownId) }
            return
        }
        let piece = UnsafeBufferPointer(rebasing: bytes[range])
        let key = ExactText(String(decoding: piece, as: UTF8.self))
        if let cached = cache.lookup(key) {
            ids.append(contentsOf: cached)
            return
        }
        let start = ids.count
        if ignoreMerges, let id = vocabulary[ByteLevelAlphabet.encode(piece)] {
            ids.append(id)
        } else {
            merge(piece, into: &ids, scratch: &scratch)
        }
        if range.count < 256 { cache.store(key, Array(ids[start...])) }
    }

    private func merge(_ piece: UnsafeBufferPointer<UInt8>, into ids: inout [Int], scratch: inout BPEScratch) {
        var symbols = scratch.symbols
        symbols.removeAll(keepingCapacity: true)
        var pendingUnknown = false
        for byte in piece {
            let id = byteIds[Int(byte)]
            if id >= 0 {
                if pendingUnknown, let unknownId { symbols.append(Symbol(id: Int32(unknownId))) }
                pendingUnknown = false
                symbols.append(Symbol(id: id))
            } else if unknownId != nil {
                if pendingUnknown && !fuseUnknown, let unknownId { symbols.append(Symbol(id: Int32(unknownId))) }
                pendingUnknown = true
            }
        }
        if pendingUnknown, let unknownId { symbols.append(Symbol(id: Int32(unknownId))) }
        for index in symbols.indices {
            symbols[index].previous = Int32(index - 1)
            symbols[index].next = index + 1 < symbols.count ? Int32(index + 1) : -1
        }

        var queue = scratch.queue
        queue.removeAll()
        for index in 0..<max(0, symbols.count - 1) {
            if let merge = merges[pairKey(symbols[index].id, symbols[index + 1].id)] {
                queue.push(Candidate(rank: merge.rank, position: Int32(index), id: merge.id))
            }
        }
        while let top = queue.pop() {
            let position = Int(top.position)
            guard symbols[position].alive, symbols[position].next >= 0 else { continue }
            let nextPosition = Int(symbols[position].next)
            // Skip stale candidates: the pair at this position must still merge into the same id.
            guard let merge = merges[pairKey(symbols[position].id, symbols[nextPosition].id)], merge.id == top.id else { continue }
            symbols[position].id = top.id
            symbols[nextPosition].alive = false
            let after = symbols[nextPosition].next
            symbols[position].next = after
            if after >= 0 { symbols[Int(after)].previous = Int32(position) }
            let before = symbols[position].previous
            if before >= 0, let merge = merges[pairKey(symbols[Int(before)].id, top.id)] {
                queue.push(Candidate(rank: merge.rank, position: before, id: merge.id))
            }
            if after >= 0, let merge = merges[pairKey(top.id, symbols[Int(after)].id)] {
                queue.push(Candidate(rank: merge.rank, position: Int32(position), id: merge.id))
            }
        }
        for symbol in symbols where symbol.alive { ids.append(Int(symbol.id)) }
        scratch.symbols = symbols
        scratch.queue = queue
    }

    @inline(__always)
    private func pairKey(_ left: Int32, _ right: Int32) -> UInt64 { UInt64(UInt32(left)) << 32 | UInt64(UInt32(right)) }
}

struct Symbol {
    var id: Int32
    var previous: Int32 = -1
    var next: Int32 = -1
    var alive = true
}

struct Candidate {
    let rank: Int32
    let position: Int32
    let id: Int32

    /// Lower rank first; on equal rank the leftmost position.
    @inline(__always)
    func precedes(_ other: Candidate) -> Bool {
        rank != other.rank ? rank < other.rank : position < other.position
    }
}

/// A binary min-heap of merge candidates.
struct CandidateHeap {
    private var items: [Candidate] = []

    mutating func removeAll() { items.removeAll(keepingCapacity: true) }

    mutating func push(_ candidate: Candidate) {
        items.append(candidate)
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard items[child].precedes(items[parent]) else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> Candidate? {
        guard let first = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1, right = left + 1
                var best = parent
                if left < items.count, items[left].precedes(items[best]) { best = left }
                if right < items.count, items[right].precedes(items[best]) { best = right }
                if best == parent { break }
                items.swapAt(parent, best)
                parent = best
            }
        }
        return first
    }
}

/// Buffers reused across the words of one encode call.
struct BPEScratch {
    var symbols: [Symbol] = []
    var queue = CandidateHeap()
}

/// Word-to-ids memo shared by all threads using a tokenizer. Bounded: when full it starts over, so a
/// stream of unique words cannot grow it without limit.
final class WordCache: @unchecked Sendable {
    // @unchecked: every access to `entries` holds `lock`.
    private let lock = NSLock()
    private var entries: [ExactText: [Int]] = [:]
    private let capacity = 50_000

    func lookup(_ word: ExactText) -> [Int]? {
        lock.lock()
        defer { lock.unlock() }
        return entries[word]
    }

    func store(_ word: ExactText, _ ids: [Int]) {
        lock.lock()
        defer { lock.unlock() }
        if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
        entries[word] = ids
    }
}
