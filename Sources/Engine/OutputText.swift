/// The text of a request's output, with stop strings applied.
///
/// Text that could still turn out to be the beginning of a stop string is held back, so a
/// stream never shows text that a later token reveals to be part of a stop string.
struct OutputText {
    private var stream: any TextStream
    private let stops: [[UInt8]]
    private let holdBack: Int
    private var bytes: [UInt8] = []
    private var released = 0

    init(stream: any TextStream, stopStrings: [String]) {
        self.stream = stream
        stops = stopStrings.filter { !$0.isEmpty }.map { Array($0.utf8) }
        holdBack = max(0, (stops.map(\.count).max() ?? 0) - 1)
    }

    /// Appends a token; returns the matched stop string if the text now contains one (the
    /// text is then cut just before it).
    mutating func append(_ token: Int) -> String? {
        let piece = stream.append(token)
        if piece.isEmpty { return nil }
        let searchFrom = max(0, bytes.count - holdBack)
        bytes.append(contentsOf: piece.utf8)
        guard !stops.isEmpty else { return nil }
        var earliest: (offset: Int, stop: [UInt8])?
        for stop in stops {
            if let offset = find(stop, from: searchFrom), offset < (earliest?.offset ?? Int.max) {
                earliest = (offset, stop)
            }
        }
        if let earliest {
            bytes.removeSubrange(earliest.offset...)
            return String(decoding: earliest.stop, as: UTF8.self)
        }
        return nil
    }

    /// Text that is final now: all but a possible stop-string prefix at the end.
    mutating func takeReleasable() -> String {
        var end = max(released, bytes.count - holdBack)
        while end > released, end < bytes.count, bytes[end] & 0xC0 == 0x80 { end -= 1 }
        return take(upTo: end)
    }

    /// Everything not yet released (the request ended).
    mutating func takeAll(flush: Bool) -> String {
        if flush { bytes.append(contentsOf: stream.finish().utf8) }
        return take(upTo: bytes.count)
    }

    private mutating func take(upTo end: Int) -> String {
        guard end > released else { return "" }
        let text = String(decoding: bytes[released..<end], as: UTF8.self)
        released = end
        return text
    }

    private func find(_ needle: [UInt8], from start: Int) -> Int? {
        guard needle.count <= bytes.count else { return nil }
        var index = max(0, start - needle.count + 1)
        while index + needle.count <= bytes.count {
            if bytes[index] == needle[0], bytes[index..<(index + needle.count)].elementsEqual(needle) { return index }
            index += 1
        }
        return nil
    }
}
