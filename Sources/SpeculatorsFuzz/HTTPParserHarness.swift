import HTTP

/// Feeds the input to `HTTPRequestParser` whole and in pieces. Oracle: the same events in the
/// same order whatever the cutting (the parser's documented promise), and the parse ends.
enum HTTPParserHarness {
    static let limits = HTTPParserLimits(maxRequestLineBytes: 256, maxHeaderBytes: 1024, maxHeaderCount: 16,
                                         maxBodyBytes: 4096, maxChunkLineBytes: 64)

    static func run(_ input: [UInt8]) {
        // The first byte seeds the cutting; the rest is the stream.
        guard let seed = input.first else { return }
        let stream = Array(input.dropFirst())
        let whole = events(of: [stream[...]])
        var pieces: [ArraySlice<UInt8>] = []
        var state = UInt32(seed) &* 2_654_435_761 | 1
        var index = 0
        while index < stream.count {
            state ^= state << 13
            state ^= state >> 17
            state ^= state << 5
            let length = seed & 1 == 0 ? 1 : 1 + Int(state % 23)
            let end = min(stream.count, index + length)
            pieces.append(stream[index..<end])
            index = end
        }
        let cut = events(of: pieces)
        if whole != cut {
            oracleFailure("events depend on the cutting:\n whole: \(whole)\n cut:   \(cut)", input: input)
        }
    }

    /// Every event, draining after each piece as a connection does, then the end-of-input verdict.
    static func events(of pieces: [ArraySlice<UInt8>]) -> [String] {
        var parser = HTTPRequestParser(limits: limits)
        var events: [String] = []
        func drain() {
            while let event = parser.nextEvent() {
                events.append(String(describing: event))
                if case .error = event { return }
            }
        }
        for piece in pieces {
            parser.feed(piece)
            drain()
        }
        if let error = parser.endOfInput() { events.append("end: \(error)") }
        return events
    }
}
