/// The way a handler answers one request, usable from any thread and never blocking.
///
/// Answer exactly once: `send` a complete response, or `startStream` and then `finish` it.
/// Calls after the first answer are ignored. If the responder is released unanswered, the
/// client gets a 500. If a started stream is released unfinished, the connection is closed and
/// the client sees a truncated body.
///
/// If the client disconnects, stops reading, or the server shuts down before the answer is
/// complete, `isClosed` becomes true and the `onClose` callbacks run once, so the work behind
/// the request (e.g. a generation and its KV cache) can be cancelled at once.
public final class HTTPResponder: Sendable {
    /// The id of the request being answered (`HTTPRequest.id`).
    public let requestID: UInt64
    let connection: HTTPConnection
    let exchangeID: UInt64

    init(connection: HTTPConnection, exchangeID: UInt64, requestID: UInt64) {
        self.connection = connection
        self.exchangeID = exchangeID
        self.requestID = requestID
    }

    deinit { connection.responderReleased(exchangeID) }

    /// Sends a complete response. The server adds `Content-Length`, `Date` and `Connection`,
    /// and leaves the body out for HEAD, 204 and 304.
    public func send(_ response: HTTPResponse) {
        connection.respond(response, exchange: exchangeID)
    }

    /// Sends the head of a streamed response now and returns the stream for its body. The body
    /// is chunked for HTTP/1.1 clients and close-delimited for HTTP/1.0 ones.
    public func startStream(status: HTTPStatus = .ok, headers: HTTPHeaders = HTTPHeaders()) -> HTTPStream {
        connection.startStream(status: status, headers: headers, exchange: exchangeID)
        return HTTPStream(responder: self)
    }

    /// Starts a Server-Sent Events stream (`text/event-stream`, no caching) with status 200.
    public func startEventStream(headers: HTTPHeaders = HTTPHeaders()) -> HTTPStream {
        var all = headers
        if !all.contains("Content-Type") { all.add(name: "Content-Type", value: "text/event-stream; charset=utf-8") }
        if !all.contains("Cache-Control") { all.add(name: "Cache-Control", value: "no-cache") }
        return startStream(status: .ok, headers: all)
    }

    /// True once nothing more can be written for this request: answered, client gone, or server closing.
    public var isClosed: Bool { connection.isExchangeClosed(exchangeID) }

    /// Runs `handler` once if the exchange ends before its answer is complete (client gone,
    /// client not reading, write error, timeout, forced shutdown). It never runs after a normal
    /// completion. If the exchange has already ended abnormally, it runs at once on the
    /// calling thread. Otherwise it runs on an arbitrary thread.
    public func onClose(_ handler: @escaping @Sendable () -> Void) {
        connection.addCloseHandler(handler, exchange: exchangeID)
    }
}

/// The body of a streamed response. Writes are thread-safe, ordered, and never block: bytes
/// are queued for the connection, which sends them as the client reads.
public final class HTTPStream: Sendable {
    /// Kept so the responder (and its exchange) lives as long as the stream.
    public let responder: HTTPResponder

    init(responder: HTTPResponder) { self.responder = responder }

    /// Queues `bytes` as one chunk. Returns false when the stream is closed (finished, client
    /// gone, or more than `maxStreamBufferBytes` queued because the client is not reading);
    /// the caller should then stop producing.
    @discardableResult
    public func write(_ bytes: some Collection<UInt8>) -> Bool {
        responder.connection.writeChunk(bytes, exchange: responder.exchangeID)
    }

    @discardableResult
    public func write(_ text: String) -> Bool { write(text.utf8) }

    /// Writes one Server-Sent Event `data: <line>\n` per line of `data`, then a blank line.
    @discardableResult
    public func writeEvent(data: String) -> Bool {
        if !data.utf8.contains(where: { $0 == HTTPSyntax.lf || $0 == HTTPSyntax.cr }) {
            return responder.connection.writeEvent(singleLine: data, exchange: responder.exchangeID)
        }
        var event = ""
        for line in data.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r" || $0 == "\r\n" }) {
            event += "data: "
            event += line
            event += "\n"
        }
        event += "\n"
        return write(event.utf8)
    }

    /// Ends the body normally (the terminating chunk for HTTP/1.1).
    public func finish() { responder.connection.finishStream(exchange: responder.exchangeID) }

    /// Ends the body abnormally: the connection is closed without the terminating chunk, so the
    /// client can tell the body is incomplete. `onClose` callbacks run.
    public func abort() { responder.connection.abortExchange(responder.exchangeID) }

    public var isClosed: Bool { responder.isClosed }

    /// Bytes queued and not yet taken by the client (a hint for producers that want to slow down).
    public var queuedByteCount: Int { responder.connection.queuedOutputBytes }

    public func onClose(_ handler: @escaping @Sendable () -> Void) { responder.onClose(handler) }
}
