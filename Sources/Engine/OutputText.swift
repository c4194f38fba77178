/// The text of a request's output, with stop strings applied as vLLM applies them.
///
/// Text that could still turn out to be the beginning of a stop string is held back, so a
/// stream never shows text that a later token reveals to be part of a stop string (nothing is
/// held back when matched stop strings stay in the output).
struct OutputText {
    private var stream: any TextStream
    private let stops: [[UInt8]]
    private let includeStop: Bool
    private let holdBack: Int
    private var bytes: [UInt8] = []
    private var released = 0
    /// A stop string ended the text: nothing the stream still holds belongs to it.
    private var stopped = false

    init(stream: any TextStream, stopStrings: [String], includeStopString: Bool = false) {
        self.stream = stream
        stops = stopStrings.filter { !$0.isEmpty }.map { Array($0.utf8) }
        includeStop = includeStopString
        holdBack = includeStopString ? 0 : max(0, (stops.map(\.count).max() ?? 0) - 1)
    }

    /// Appends a token's text. With `checkStops`, looks for the stop strings in the new text
    /// (and the stop string's length less one byte before it, for a string straddling tokens);
    /// returns the first in the request's order that is found (vLLM's rule) and cuts the text
    /// just before it (after it when stop strings are kept). Text appended without the check
    /// (before `min_tokens`) is never searched later except through that look-back.
    mutating func append(_ token: Int, checkStops: Bool = true) -> String? {
        let piece = stream.append(token)
        if piece.isEmpty { return nil }
        let oldCount = bytes.count
        bytes.append(contentsOf: piece.utf8)
        guard checkStops else { return nil }
        for stop in stops {
            guard let offset = find(stop, from: max(0, oldCount - (stop.count - 1))) else { continue }
            bytes.removeSubrange((includeStop ? offset + stop.count : offset)...)
            stopped = true
            return String(decoding: stop, as: UTF8.self)
        }
        return nil
    }

    /// Text that is final now: all but a possible stop-string prefix at the end.
    mutating func takeReleasable() -> String {
        var end = max(released, bytes.count - holdBack)
        while end > released, end < bytes.count, bytes[end] & 0xC0 == 0x80 { end -= 1 }
        return take(upTo: end)
    }

    /// Everything not yet released (the request ended); with `flush`, also what the stream still
    /// holds back (an unfinished character), unless a stop string ended the text.
    mutating func takeAll(flush: Bool) -> String {
        if flush && !stopped { bytes.append(contentsOf: stream.finish().utf8) }
        return take(upTo: bytes.count)
    }

    private mutating func take(upTo end: Int) -> String {
        guard end > released else { return "" }
        let text = String(decoding: bytes[released..<end], as: UTF8.self)
        released = end
        return text
    }

    /// The first occurrence of `needle` starting at or after `start`.
    private func find(_ needle: [UInt8], from start: Int) -> Int? {
        guard needle.count <= bytes.count else { return nil }
        var index = start
        while index + needle.count <= bytes.count {
            if bytes[index] == needle[0], bytes[index..<(index + needle.count)].elementsEqual(needle) { return index }
            index += 1
        }
        return nil
    }
}
