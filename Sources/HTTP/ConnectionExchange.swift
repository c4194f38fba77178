import Dispatch

/// What handler threads and the connection's queue share, under one lock: the bytes queued
/// for the socket and the state of the request being answered.
struct ConnectionShared {
    struct Exchange {
        enum Stage { case awaitingAnswer, streaming(chunked: Bool), complete }

        let id: UInt64
        let isHead: Bool
        let version: HTTPVersion
        let keepAlive: Bool
        /// The request's `Origin`, for the answer's CORS headers.
        let origin: String?
        var stage = Stage.awaitingAnswer
        /// Decided when the answer starts: close the connection once it is sent.
        var closeAfter = false
        var closeHandlers: [@Sendable () -> Void] = []
        /// Set once the exchange ended abnormally and its handlers were run.
        var closeNotified = false

        var isComplete: Bool { if case .complete = stage { true } else { false } }
    }

    var output: [UInt8] = []
    /// Bytes of `output` already handed to the kernel.
    var sent = 0
    /// Nothing more will reach the client: writes are refused.
    var closed = false
    /// The server is draining: every answer says `Connection: close`.
    var closeAfterAnswer = false
    var exchange: Exchange?

    var queued: Int { output.count - sent }
}

/// The responder-facing half of a connection. Every method here is safe on any thread: it
/// changes the shared state under the lock and asks the connection's queue to do the I/O.
extension HTTPConnection {
    func respond(_ response: HTTPResponse, exchange id: UInt64) {
        var response = response
        if response.status.code < 200 {
            context.logger.error("handler answered with an interim status; sending 500", metadata: ["status": "\(response.status.code)"])
            response = context.configuration.errorResponse(.internalServerError, "The handler produced an invalid response.")
        }
        let accepted = shared.withLock { s -> Bool in
            guard !s.closed, var exchange = s.exchange, exchange.id == id, case .awaitingAnswer = exchange.stage else { return false }
            exchange.closeAfter = !exchange.keepAlive || s.closeAfterAnswer || response.headers.listContains("Connection", token: "close")
            context.configuration.crossOrigin.decorate(&response.headers, origin: exchange.origin)
            let hasBody = !exchange.isHead && !response.status.forbidsBody
            let framing: ResponseFraming = response.status.forbidsBody ? .noBody(advertisedLength: nil)
                : exchange.isHead ? .noBody(advertisedLength: response.body.count) : .contentLength(response.body.count)
            ResponseEncoding.appendHead(status: response.status, headers: response.headers, framing: framing,
                                        closeConnection: exchange.closeAfter,
                                        announceKeepAlive: exchange.version < .http1_1,
                                        serverName: context.configuration.serverName, into: &s.output)
            if hasBody { s.output.append(contentsOf: response.body) }
            exchange.stage = .complete
            exchange.closeHandlers = []
            s.exchange = exchange
            return true
        }
        if accepted { queue.async { self.exchangeCompleted(id) } }
    }

    func startStream(status: HTTPStatus, headers: HTTPHeaders, exchange id: UInt64) {
        var finishedAtOnce = false
        var headers = headers
        let accepted = shared.withLock { s -> Bool in
            guard !s.closed, var exchange = s.exchange, exchange.id == id, case .awaitingAnswer = exchange.stage else { return false }
            context.configuration.crossOrigin.decorate(&headers, origin: exchange.origin)
            let noBody = exchange.isHead || status.forbidsBody || status.code < 200
            let chunked = exchange.version >= .http1_1
            exchange.closeAfter = !exchange.keepAlive || s.closeAfterAnswer || headers.listContains("Connection", token: "close")
                || (!noBody && !chunked)
            let framing: ResponseFraming = noBody ? .noBody(advertisedLength: nil) : chunked ? .chunked : .closeDelimited
            let code = status.code < 200 ? HTTPStatus.internalServerError : status
            ResponseEncoding.appendHead(status: code, headers: headers, framing: framing, closeConnection: exchange.closeAfter,
                                        announceKeepAlive: exchange.version < .http1_1,
                                        serverName: context.configuration.serverName, into: &s.output)
            if noBody {
                // A HEAD (or 204/304) stream has nothing to carry: the exchange is over already.
                exchange.stage = .complete
                exchange.closeHandlers = []
                finishedAtOnce = true
            } else {
                exchange.stage = .streaming(chunked: chunked)
            }
            s.exchange = exchange
            return true
        }
        guard accepted else { return }
        if finishedAtOnce { queue.async { self.exchangeCompleted(id) } } else { requestFlush() }
    }

    func writeChunk(_ bytes: some Collection<UInt8>, exchange id: UInt64) -> Bool {
        let count = bytes.count
        return appendToStream(exchange: id, dataCount: count) { out, chunked in
            if chunked { ResponseEncoding.appendChunk(bytes, count: count, into: &out) } else { out.append(contentsOf: bytes) }
        }
    }

    /// `data: <text>\n\n` as one chunk, built in place (the per-token path of an SSE stream).
    func writeEvent(singleLine text: String, exchange id: UInt64) -> Bool {
        let count = 6 + text.utf8.count + 2
        return appendToStream(exchange: id, dataCount: count) { out, chunked in
            if chunked {
                ResponseEncoding.appendHex(count, to: &out)
                out.append(contentsOf: ResponseEncoding.crlf)
            }
            out.append(contentsOf: "data: ".utf8)
            out.append(contentsOf: text.utf8)
            out.append(HTTPSyntax.lf)
            out.append(HTTPSyntax.lf)
            if chunked { out.append(contentsOf: ResponseEncoding.crlf) }
        }
    }

    /// Appends stream bytes if the stream is open and the client is keeping up; otherwise closes it.
    private func appendToStream(exchange id: UInt64, dataCount: Int, _ append: (inout [UInt8], Bool) -> Void) -> Bool {
        enum Outcome { case refused, appended, overflowed }
        let limit = context.configuration.maxStreamBufferBytes
        let outcome = shared.withLock { s -> Outcome in
            guard !s.closed, let exchange = s.exchange, exchange.id == id, case .streaming(let chunked) = exchange.stage else {
                return .refused
            }
            guard dataCount > 0 else { return .appended }
            if s.queued + dataCount > limit {
                s.closed = true
                return .overflowed
            }
            append(&s.output, chunked)
            return .appended
        }
        switch outcome {
        case .refused:
            return false
        case .appended:
            if dataCount > 0 { requestFlush() }
            return true
        case .overflowed:
            queue.async { self.teardown("the client is not reading its stream (more than \(limit) bytes queued)") }
            return false
        }
    }

    func finishStream(exchange id: UInt64) {
        let finished = shared.withLock { s -> Bool in
            guard !s.closed, var exchange = s.exchange, exchange.id == id, case .streaming(let chunked) = exchange.stage else { return false }
            if chunked { s.output.append(contentsOf: ResponseEncoding.lastChunk) }
            exchange.stage = .complete
            exchange.closeHandlers = []
            s.exchange = exchange
            return true
        }
        if finished { queue.async { self.exchangeCompleted(id) } }
    }

    func abortExchange(_ id: UInt64) {
        let aborted = shared.withLock { s -> Bool in
            guard !s.closed, let exchange = s.exchange, exchange.id == id, !exchange.isComplete else { return false }
            s.closed = true
            return true
        }
        if aborted { queue.async { self.teardown("the handler aborted its response") } }
    }

    func isExchangeClosed(_ id: UInt64) -> Bool {
        shared.withLock { s in
            guard let exchange = s.exchange, exchange.id == id else { return true }
            return s.closed || exchange.isComplete
        }
    }

    var queuedOutputBytes: Int { shared.withLock { $0.queued } }

    func addCloseHandler(_ handler: @escaping @Sendable () -> Void, exchange id: UInt64) {
        let runNow = shared.withLock { s -> Bool in
            guard var exchange = s.exchange, exchange.id == id, !exchange.isComplete else { return false }
            if exchange.closeNotified { return true }
            exchange.closeHandlers.append(handler)
            s.exchange = exchange
            return false
        }
        if runNow { handler() }
    }

    /// Takes the close handlers of an exchange that is ending abnormally (called on teardown).
    func takeCloseHandlers() -> [@Sendable () -> Void] {
        shared.withLock { s in
            s.closed = true
            guard var exchange = s.exchange, !exchange.isComplete, !exchange.closeNotified else { return [] }
            exchange.closeNotified = true
            let handlers = exchange.closeHandlers
            exchange.closeHandlers = []
            s.exchange = exchange
            return handlers
        }
    }

    /// The last reference to a responder went away: make sure the client is not left waiting.
    func responderReleased(_ id: UInt64) {
        let stage = shared.withLock { s -> ConnectionShared.Exchange.Stage? in
            guard !s.closed, let exchange = s.exchange, exchange.id == id else { return nil }
            return exchange.stage
        }
        switch stage {
        case .awaitingAnswer:
            context.logger.error("request handler released its responder without answering; sending 500")
            respond(context.configuration.errorResponse(.internalServerError, "The request handler ended without producing a response."), exchange: id)
        case .streaming:
            context.logger.warning("streamed response released without finish(); closing the connection")
            abortExchange(id)
        case .complete, nil:
            break
        }
    }
}
