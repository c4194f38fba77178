/// What the parser hands out, in wire order.
public enum HTTPParserEvent: Sendable, Hashable {
    /// The head asked for `Expect: 100-continue` and a body follows: answer "100 Continue" now.
    case continueExpected
    /// A complete request, body decoded.
    case request(HTTPRequest)
    /// The input is malformed or over a limit. Terminal: the connection must be closed after
    /// answering with `error.status`.
    case error(HTTPParseError)
}

/// An incremental HTTP/1.1 request parser (RFC 9112): bytes in, events out, no I/O.
///
/// Feed bytes as they arrive with `feed(_:)`, then call `nextEvent()` until it returns nil
/// ("need more bytes"). Bytes of pipelined requests stay buffered until the caller asks for the
/// next event, so a server answers requests one at a time, in order. The result never depends
/// on how the input was split into reads.
///
/// Line terminators are CRLF or a bare LF (RFC 9112 §2.2 permits the latter); a bare CR is
/// rejected wherever it appears.
public struct HTTPRequestParser: Sendable {
    /// Where the parser stands in the current message; the server picks its timeout from it.
    public enum Phase: Sendable, Hashable {
        /// Nothing of the next request has arrived.
        case idle
        /// Part of a request line or header section has arrived.
        case head
        /// The head is complete and (part of) the body or trailers are awaited.
        case body
        /// An error was reported; the parser ignores further input.
        case failed
    }

    public let limits: HTTPParserLimits

    private enum State: Sendable {
        case requestLine, headerLine, body(remaining: Int), chunkSize, chunkData(remaining: Int), chunkDataEnd, trailerLine, failed
    }

    /// The message being assembled.
    private struct Partial: Sendable {
        var line: HTTPSyntax.RequestLine?
        var headers = HTTPHeaders()
        var trailers = HTTPHeaders()
        var fieldBytes = 0
        var fieldCount = 0
        var framing = HTTPFraming(body: .none, keepAlive: true, expectsContinue: false)
        var body: [UInt8] = []
        var leadingEmptyLines = 0
    }

    private var buffer: [UInt8] = []
    /// First byte not yet consumed.
    private var start = 0
    /// Where the search for the next LF resumes, so a line arriving byte by byte is scanned once.
    private var scan = 0
    private var state = State.requestLine
    private var partial = Partial()

    /// Empty lines tolerated before a request line (RFC 9112 §2.2 asks for at least one).
    static let maxLeadingEmptyLines = 8
    /// Buffers larger than this are released rather than kept for reuse once drained.
    static let retainedCapacity = 64 << 10

    public init(limits: HTTPParserLimits = HTTPParserLimits()) {
        self.limits = limits
    }

    /// Bytes received and not yet turned into events (pipelined requests wait here).
    public var bufferedByteCount: Int { buffer.count - start }

    public var phase: Phase {
        switch state {
        case .failed: .failed
        case .requestLine: (start == buffer.count && partial.leadingEmptyLines == 0) ? .idle : .head
        case .headerLine: .head
        case .body, .chunkSize, .chunkData, .chunkDataEnd, .trailerLine: .body
        }
    }

    // MARK: Input

    public mutating func feed(_ bytes: UnsafeRawBufferPointer) {
        guard prepareToAppend(), !bytes.isEmpty else { return }
        buffer.append(contentsOf: bytes)
    }

    public mutating func feed(_ bytes: some Sequence<UInt8>) {
        guard prepareToAppend() else { return }
        buffer.append(contentsOf: bytes)
    }

    /// Reports the end of the input stream: an error when it cuts a request short, nil at a
    /// clean boundary between requests.
    public mutating func endOfInput() -> HTTPParseError? {
        switch phase {
        case .idle, .failed:
            return nil
        case .head, .body:
            fail()
            return HTTPParseError(.truncatedMessage, "The connection ended in the middle of a request.")
        }
    }

    /// Drops consumed bytes so the buffer holds only what is still to be parsed.
    private mutating func prepareToAppend() -> Bool {
        if case .failed = state { return false }
        if start == buffer.count {
            if buffer.capacity > Self.retainedCapacity { buffer = [] } else { buffer.removeAll(keepingCapacity: true) }
            start = 0
            scan = 0
        } else if start >= 4096, start * 2 >= buffer.count {
            buffer.removeSubrange(0..<start)
            scan -= start
            start = 0
        }
        return true
    }

    // MARK: Events

    /// The next event, or nil when more input is needed (or after an error).
    public mutating func nextEvent() -> HTTPParserEvent? {
        do {
            return try parse()
        } catch {
            fail()
            return .error(error)
        }
    }

    /// Enters the terminal state and lets go of everything buffered.
    private mutating func fail() {
        state = .failed
        partial = Partial()
        buffer = []
        start = 0
        scan = 0
    }

    private mutating func parse() throws(HTTPParseError) -> HTTPParserEvent? {
        while true {
            switch state {
            case .failed:
                return nil

            case .requestLine:
                guard let line = try nextLine(limit: limits.maxRequestLineBytes, tooLong: HTTPParseError(
                    .requestLineTooLong, "The request line is longer than \(limits.maxRequestLineBytes) bytes.")) else { return nil }
                if line.isEmpty {
                    partial.leadingEmptyLines += 1
                    guard partial.leadingEmptyLines <= Self.maxLeadingEmptyLines else {
                        throw HTTPParseError(.invalidRequestLine, "Too many empty lines before the request line.")
                    }
                    continue
                }
                partial.line = try HTTPSyntax.parseRequestLine(buffer[line])
                state = .headerLine

            case .headerLine, .trailerLine:
                let isTrailer = if case .trailerLine = state { true } else { false }
                let section = isTrailer ? "trailer" : "header"
                let remaining = limits.maxHeaderBytes - partial.fieldBytes
                let tooLarge = HTTPParseError(.headersTooLarge, "The header section is larger than \(limits.maxHeaderBytes) bytes.")
                guard let line = try nextLine(limit: max(0, remaining - 2), tooLong: tooLarge) else { return nil }
                if line.isEmpty {
                    if isTrailer { return .request(completeRequest()) }
                    if let event = try headSectionComplete() { return event }
                    continue
                }
                guard line.count + 2 <= remaining else { throw tooLarge }
                guard partial.fieldCount < limits.maxHeaderCount else {
                    throw HTTPParseError(.tooManyHeaders, "The request has more than \(limits.maxHeaderCount) header fields.")
                }
                let field = try HTTPSyntax.parseField(buffer[line], section: section)
                partial.fieldBytes += line.count + 2
                partial.fieldCount += 1
                if isTrailer { partial.trailers.add(name: field.name, value: field.value) } else { partial.headers.add(name: field.name, value: field.value) }

            case .body(let remaining):
                let taken = takeBody(upTo: remaining)
                if taken < remaining {
                    state = .body(remaining: remaining - taken)
                    return nil
                }
                return .request(completeRequest())

            case .chunkSize:
                guard let line = try nextLine(limit: limits.maxChunkLineBytes, tooLong: HTTPParseError(
                    .invalidChunk, "A chunk-size line is longer than \(limits.maxChunkLineBytes) bytes.")) else { return nil }
                let size = try HTTPSyntax.parseChunkSizeLine(buffer[line])
                guard size <= limits.maxBodyBytes - partial.body.count else {
                    throw HTTPParseError(.bodyTooLarge, "The chunked request body exceeds the limit of \(limits.maxBodyBytes) bytes.")
                }
                state = size == 0 ? .trailerLine : .chunkData(remaining: size)

            case .chunkData(let remaining):
                let taken = takeBody(upTo: remaining)
                if taken < remaining {
                    state = .chunkData(remaining: remaining - taken)
                    return nil
                }
                state = .chunkDataEnd

            case .chunkDataEnd:
                guard let line = try nextLine(limit: 0, tooLong: HTTPParseError(
                    .invalidChunk, "Chunk data is not followed by a line break.")) else { return nil }
                _ = line
                state = .chunkSize
            }
        }
    }

    /// The header section ended: decide the framing. Returns an event to hand out now, or nil to
    /// go on parsing the body.
    private mutating func headSectionComplete() throws(HTTPParseError) -> HTTPParserEvent? {
        guard let line = partial.line else {
            throw HTTPParseError(.invalidRequestLine, "The request has no request line.")
        }
        partial.framing = try HTTPFraming.of(headers: partial.headers, version: line.version, limits: limits)
        switch partial.framing.body {
        case .none:
            return .request(completeRequest())
        case .length(let length):
            partial.body.reserveCapacity(min(length, Self.retainedCapacity))
            state = .body(remaining: length)
        case .chunked:
            state = .chunkSize
        }
        return partial.framing.expectsContinue ? .continueExpected : nil
    }

    private mutating func completeRequest() -> HTTPRequest {
        let done = partial
        partial = Partial()
        state = .requestLine
        if start == buffer.count {
            // Release a large drained buffer (e.g. after a big body) instead of holding it for the connection's life.
            if buffer.capacity > Self.retainedCapacity { buffer = [] } else { buffer.removeAll(keepingCapacity: true) }
            start = 0
            scan = 0
        }
        let line = done.line ?? HTTPSyntax.RequestLine(method: "", target: "", path: "", query: nil, version: .http1_1)
        return HTTPRequest(method: line.method, target: line.target, path: line.path, query: line.query,
                           version: line.version, headers: done.headers, body: done.body, trailers: done.trailers,
                           keepAlive: done.framing.keepAlive)
    }

    /// Moves up to `count` buffered bytes into the body; returns how many were moved.
    private mutating func takeBody(upTo count: Int) -> Int {
        let taken = min(count, buffer.count - start)
        if taken > 0 {
            partial.body.append(contentsOf: buffer[start..<(start + taken)])
            start += taken
            scan = start
        }
        return taken
    }

    /// The next line's content (terminator excluded) as a range of `buffer`, consuming it; nil
    /// when more bytes are needed. A line with more than `limit` content bytes throws `tooLong`,
    /// decided from at most `limit + 2` bytes so that the outcome never depends on read sizes.
    private mutating func nextLine(limit: Int, tooLong: HTTPParseError) throws(HTTPParseError) -> Range<Int>? {
        let decisive = limit >= Int.max - start - 2 ? Int.max : start + limit + 2
        let windowEnd = min(buffer.count, decisive)
        var index = max(scan, start)
        while index < windowEnd, buffer[index] != HTTPSyntax.lf { index += 1 }
        guard index < windowEnd else {
            if buffer.count >= decisive { throw tooLong }
            scan = index
            return nil
        }
        var contentEnd = index
        if contentEnd > start, buffer[contentEnd - 1] == HTTPSyntax.cr { contentEnd -= 1 }
        guard contentEnd - start <= limit else { throw tooLong }
        let line = start..<contentEnd
        start = index + 1
        scan = start
        return line
    }
}
