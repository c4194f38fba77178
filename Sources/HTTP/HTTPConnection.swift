import Dispatch
import Logging

/// One client connection: reads and parses requests, hands them to the handler one at a time,
/// writes the answers in order, and enforces the timeouts.
///
/// Everything except the `ConnectionShared` state runs on `queue`, a serial queue of its own,
/// which is why the class can be `@unchecked Sendable`. The descriptor is closed only after both
/// Dispatch sources watching it have been cancelled.
final class HTTPConnection: @unchecked Sendable {
    enum Phase: Equatable {
        /// Waiting for or reading a request.
        case reading
        /// A request is with the handler; later bytes are buffered (pipelining).
        case handling(exchange: UInt64)
        /// The last answer is being written; then the write side is shut down.
        case closingAfterFlush
        /// Write side shut, no Dispatch source left on the socket; reading and discarding (from the
        /// timer) until the client closes or the linger time ends.
        case lingering
        case closed
    }

    private enum Deadline {
        case writeStalled, idle, head, body, linger, lingerPoll
    }

    let id: UInt64
    let remoteAddress: String
    let context: ServerCore
    let queue: DispatchQueue
    let shared = Locked(ConnectionShared())
    /// Taken over the connection bound: serves `probePaths` only, then closes.
    let probesOnly: Bool
    /// Coalesces "output is queued" signals from any thread into one flush on `queue`, without
    /// allocating per signal (the per-token path of a stream).
    private let flushSignal: DispatchSourceUserDataOr
    private let fd: Int32

    private var parser: HTTPRequestParser
    private var phase = Phase.reading
    private var readSource: DispatchSourceRead?
    private var writeSource: DispatchSourceWrite?
    private var timer: DispatchSourceTimer?
    /// Closes the descriptor once both sources are cancelled and the connection is done with it.
    private var closer: DescriptorCloser?
    private var readSuspended = false
    private var writeSourceRunning = false
    private var peerClosed = false
    private var draining = false
    private var answered = 0
    private var nextExchangeID: UInt64 = 0
    /// The parser phase the read timeouts are measured in, and since when.
    private var readPhase = HTTPRequestParser.Phase.idle
    private var readPhaseSince: UInt64
    private var writeBlocked = false
    private var lastWriteProgress: UInt64 = 0
    private var lingerSince: UInt64 = 0
    private var nextLingerPoll: UInt64 = 0
    private var lingerPollDelay = HTTPConnection.firstLingerPoll
    private var armedDeadline = UInt64.max

    /// Bytes read per `recv`, from a stack buffer.
    private static let readChunk = 16 << 10
    /// Reads per readiness event before yielding the queue to other work.
    private static let readsPerEvent = 8
    private static let retainedOutputCapacity = 64 << 10
    /// How long a lingering connection waits between reads of what the client still sends:
    /// 0.25 ms, doubling up to 4 ms. Most clients close within a few milliseconds of the answer,
    /// and a lingering connection still counts against the connection bound: with polls doubling
    /// up to 32 ms, 200,000 `Connection: close` requests from 8 clients as fast as they could went
    /// past the bound of 256 (13 got 503) and took 44 s instead of 37.
    private static let firstLingerPoll: UInt64 = 250_000
    private static let longestLingerPoll: UInt64 = 4_000_000

    init(id: UInt64, fd: Int32, remoteAddress: String, context: ServerCore, targetQueue: DispatchQueue,
         probesOnly: Bool = false) {
        self.id = id
        self.probesOnly = probesOnly
        self.fd = fd
        self.remoteAddress = remoteAddress
        self.context = context
        self.queue = DispatchQueue(label: "speculators.http.connection", target: targetQueue)
        self.parser = HTTPRequestParser(limits: context.configuration.limits)
        self.readPhaseSince = monotonicNow()
        self.flushSignal = DispatchSource.makeUserDataOrSource(queue: queue)
        flushSignal.setEventHandler { [weak self] in self?.flush() }
        flushSignal.activate()
        if probesOnly { shared.withLock { $0.closeAfterAnswer = true } }
    }

    /// Asks the connection's queue to write what is queued. Safe on any thread.
    func requestFlush() { flushSignal.or(data: 1) }

    /// Starts watching the socket. Called once, right after accept.
    func start() {
        queue.async { [self] in
            let read = DispatchSource.makeReadSource(fileDescriptor: fd, queue: queue)
            let write = DispatchSource.makeWriteSource(fileDescriptor: fd, queue: queue)
            let timer = DispatchSource.makeTimerSource(queue: queue)
            read.setEventHandler { [weak self] in self?.readable() }
            write.setEventHandler { [weak self] in self?.flush() }
            timer.setEventHandler { [weak self] in self?.timerFired() }
            // The closer, not the connection, is retained by the cancel handlers, so the descriptor is
            // closed even if the connection object is already gone when Dispatch runs them. Its
            // third holder is the connection itself (`teardown`), which reads on while it lingers.
            let closer = DescriptorCloser(fd: fd, sources: 2)
            read.setCancelHandler { closer.sourceCancelled() }
            write.setCancelHandler { closer.sourceCancelled() }
            self.closer = closer
            readSource = read
            writeSource = write
            self.timer = timer
            read.resume()
            timer.resume()
            updateTimer()
        }
    }

    // MARK: Reading

    private func readable() {
        guard phase != .closed else { return }
        withUnsafeTemporaryAllocation(byteCount: Self.readChunk, alignment: 16) { buffer in
            for _ in 0..<Self.readsPerEvent {
                if case .handling = phase, parser.bufferedByteCount >= context.configuration.maxPipelinedBytes {
                    suspendReading()
                    return
                }
                switch Socket.receive(fd, into: buffer) {
                case .bytes(let count):
                    received(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
                    if phase == .closed { return }
                case .endOfStream:
                    endOfStream()
                    return
                case .wouldBlock:
                    return
                case .failed(let code):
                    teardown("read failed: \(Socket.errorText(code))")
                    return
                }
            }
        }
        updateTimer()
    }

    private func received(_ bytes: UnsafeRawBufferPointer) {
        switch phase {
        case .reading:
            parser.feed(bytes)
            processRequests()
        case .handling:
            parser.feed(bytes)
            noteReadPhase()
        case .closingAfterFlush, .lingering, .closed:
            break // leftovers after the final answer are discarded
        }
    }

    /// The client shut its side. Mid-request or while its request is handled, that is taken as
    /// the client leaving (as uvicorn and Go do): the exchange is cancelled.
    private func endOfStream() {
        peerClosed = true
        switch phase {
        case .reading:
            if parser.endOfInput() == nil {
                teardown("client closed the connection", quietly: true)
            } else {
                teardown("client closed the connection in the middle of a request")
            }
        case .handling:
            teardown("client disconnected while its request was being handled")
        case .closingAfterFlush:
            suspendReading() // a readable EOF would fire forever; finish writing, then close
        case .lingering:
            teardown("client closed after the final answer", quietly: true)
        case .closed:
            break
        }
    }

    /// Turns buffered bytes into requests while the connection is free to take one.
    private func processRequests() {
        while phase == .reading {
            if draining, parser.phase == .idle {
                teardown("server shutting down", quietly: true)
                return
            }
            guard let event = parser.nextEvent() else { break }
            switch event {
            case .continueExpected:
                shared.withLock { $0.output.append(contentsOf: ResponseEncoding.continueResponse) }
                flush()
            case .request(let request):
                dispatch(request)
            case .error(let error):
                context.logger.debug("rejecting request", metadata: ["remote": "\(remoteAddress)", "error": "\(error)"])
                answerAndClose(error.status, error.message)
            }
        }
        noteReadPhase()
        updateTimer()
    }

    private func dispatch(_ request: HTTPRequest) {
        if probesOnly, !isProbe(request) {
            context.logger.warning("connection bound reached; refusing", metadata: [
                "remote": "\(remoteAddress)", "maxConnections": "\(context.configuration.maxConnections)"])
            answerAndClose(.serviceUnavailable, "The server is at its connection limit; retry later.", retryAfter: true)
            return
        }
        var request = request
        nextExchangeID += 1
        let exchangeID = nextExchangeID
        request.id = context.nextRequestID()
        request.remoteAddress = remoteAddress
        shared.withLock { s in
            s.exchange = ConnectionShared.Exchange(id: exchangeID, isHead: request.method == "HEAD",
                                                   version: request.version, keepAlive: request.keepAlive,
                                                   origin: request.headers["Origin"])
        }
        phase = .handling(exchange: exchangeID)
        let responder = HTTPResponder(connection: self, exchangeID: exchangeID, requestID: request.id)
        // A CORS preflight is the server's to answer, before the handler (and its key check).
        if let preflight = context.configuration.crossOrigin.preflightResponse(to: request) {
            respond(preflight, exchange: exchangeID)
            return
        }
        let handler = context.handler
        let ready = request
        context.handlerQueue.async { handler.handle(ready, responder) }
    }

    /// What a connection taken over the bound may ask: `GET` or `HEAD` of one of `probePaths`.
    private func isProbe(_ request: HTTPRequest) -> Bool {
        (request.method == "GET" || request.method == "HEAD") && context.configuration.probePaths.contains(request.path)
    }

    /// The handler's answer is fully queued: go on with the next request or close.
    func exchangeCompleted(_ exchangeID: UInt64) {
        guard phase == .handling(exchange: exchangeID) else { return }
        answered += 1
        let closeAfter = shared.withLock { $0.exchange?.closeAfter ?? true }
        if closeAfter || draining {
            phase = .closingAfterFlush
            flush()
            return
        }
        phase = .reading
        readPhase = parser.phase
        readPhaseSince = monotonicNow() // timeouts of a pipelined request start now, not while it waited
        resumeReading()
        processRequests()
        flush()
    }

    /// Answers a problem the server found itself (parse error, timeout, the connection bound) and closes.
    private func answerAndClose(_ status: HTTPStatus, _ message: String, retryAfter: Bool = false) {
        let response = context.configuration.errorResponse(status, message)
        var headers = response.headers
        if retryAfter { headers.set(name: "Retry-After", value: "1") }
        shared.withLock { s in
            s.exchange = nil
            ResponseEncoding.appendHead(status: response.status, headers: headers,
                                        framing: response.status.forbidsBody ? .noBody(advertisedLength: nil) : .contentLength(response.body.count),
                                        closeConnection: true, announceKeepAlive: false,
                                        serverName: context.configuration.serverName, into: &s.output)
            if !response.status.forbidsBody { s.output.append(contentsOf: response.body) }
        }
        phase = .closingAfterFlush
        flush()
    }

    // MARK: Writing

    /// Writes queued output until the socket would block.
    func flush() {
        guard phase != .closed else { return }
        enum Outcome { case drained, blocked(progressed: Bool), failed(Int32) }
        let fd = self.fd
        let outcome = shared.withLock { s -> Outcome in
            var progressed = false
            while s.sent < s.output.count {
                let sent = s.sent
                let result = s.output.withUnsafeBytes { Socket.send(fd, UnsafeRawBufferPointer(rebasing: $0[sent...])) }
                switch result {
                case .bytes(let count):
                    s.sent += count
                    progressed = true
                case .wouldBlock, .endOfStream:
                    if s.sent >= 1 << 20, s.sent * 2 >= s.output.count {
                        s.output.removeSubrange(0..<s.sent)
                        s.sent = 0
                    }
                    return .blocked(progressed: progressed)
                case .failed(let code):
                    return .failed(code)
                }
            }
            if s.output.capacity > Self.retainedOutputCapacity { s.output = [] } else { s.output.removeAll(keepingCapacity: true) }
            s.sent = 0
            return .drained
        }
        switch outcome {
        case .drained:
            writeBlocked = false
            pauseWriteSource()
            if phase == .closingAfterFlush {
                if peerClosed { teardown("answer sent; client already closed", quietly: true) } else { beginLinger() }
                return
            }
        case .blocked(let progressed):
            if progressed || !writeBlocked { lastWriteProgress = monotonicNow() }
            writeBlocked = true
            resumeWriteSource()
        case .failed(let code):
            teardown("write failed: \(Socket.errorText(code))")
            return
        }
        updateTimer()
    }

    /// Lingers with no Dispatch source on the socket. Once both halves are shut (ours, then the
    /// client's when its FIN comes), epoll reports a hangup, on which libdispatch's manager thread
    /// unregisters every source of the descriptor itself; a cancellation from this queue racing
    /// that is the suspected cause of a libdispatch trap ("source finalized twice") seen once after
    /// about 250,000 short connections. So the sources are cancelled first, our FIN goes out only
    /// once both are gone (their cancel handlers have run), and the timer reads the leftovers.
    private func beginLinger() {
        phase = .lingering
        lingerSince = monotonicNow()
        guard let closer else { return teardown("no descriptor to linger on", quietly: true) }
        closer.whenSourcesGone = { [weak self] in self?.shutWriteAndDrain() }
        cancelSources()
        updateTimer()
    }

    private func shutWriteAndDrain() {
        guard phase == .lingering else { return }
        Socket.shutdownWrite(fd)
        drainLingering()
        if phase == .lingering { updateTimer() }
    }

    /// Reads and discards what the client still sends; ends the connection at its end of stream.
    private func drainLingering() {
        guard phase == .lingering else { return }
        withUnsafeTemporaryAllocation(byteCount: Self.readChunk, alignment: 16) { buffer in
            for _ in 0..<Self.readsPerEvent {
                switch Socket.receive(fd, into: buffer) {
                case .bytes:
                    continue
                case .endOfStream:
                    teardown("client closed after the final answer", quietly: true)
                    return
                case .wouldBlock:
                    return
                case .failed:
                    teardown("client reset after the final answer", quietly: true)
                    return
                }
            }
        }
        nextLingerPoll = monotonicNow() + lingerPollDelay
        lingerPollDelay = min(lingerPollDelay * 2, Self.longestLingerPoll)
    }

    // MARK: Shutdown and teardown

    /// The server stopped accepting: finish the request in progress, then close.
    func beginDraining() {
        guard phase != .closed, !draining else { return }
        draining = true
        shared.withLock { $0.closeAfterAnswer = true }
        if phase == .reading, parser.phase == .idle {
            teardown("server shutting down", quietly: true)
        }
    }

    /// Closes the connection now. An exchange still unanswered gets its `onClose` callbacks.
    func teardown(_ reason: String, quietly: Bool = false) {
        guard phase != .closed else { return }
        let wasHandling = if case .handling = phase { true } else { false }
        phase = .closed
        let handlers = takeCloseHandlers()
        shared.withLock { s in
            s.output = []
            s.sent = 0
        }
        for handler in handlers { context.handlerQueue.async(execute: handler) }
        if !quietly || wasHandling {
            context.logger.debug("closing connection", metadata: ["remote": "\(remoteAddress)", "reason": "\(reason)"])
        }
        timer?.cancel()
        flushSignal.cancel()
        cancelSources()
        closer?.connectionDone()
        closer = nil
        timer = nil
        parser = HTTPRequestParser(limits: context.configuration.limits)
        context.connectionClosed(id)
    }

    // MARK: Sources

    /// Cancels the read and write sources (resuming a suspended or never-started one, which
    /// Dispatch needs to run its cancel handler).
    private func cancelSources() {
        if let read = readSource {
            read.cancel()
            if readSuspended { read.resume() }
        }
        if let write = writeSource {
            write.cancel()
            if !writeSourceRunning { write.resume() }
        }
        readSource = nil
        writeSource = nil
        readSuspended = false
        writeSourceRunning = false
    }

    private func suspendReading() {
        guard !readSuspended, let read = readSource else { return }
        read.suspend()
        readSuspended = true
    }

    private func resumeReading() {
        guard readSuspended, !peerClosed, let read = readSource else { return }
        read.resume()
        readSuspended = false
    }

    private func resumeWriteSource() {
        guard !writeSourceRunning, let write = writeSource else { return }
        write.resume() // the first resume activates it
        writeSourceRunning = true
    }

    private func pauseWriteSource() {
        guard writeSourceRunning, let write = writeSource else { return }
        write.suspend()
        writeSourceRunning = false
    }

    // MARK: Timeouts

    private func noteReadPhase() {
        let current = parser.phase
        if current != readPhase {
            readPhase = current
            readPhaseSince = monotonicNow()
        }
    }

    /// The earliest deadline that applies now and what expires with it.
    private func nextDeadline() -> (at: UInt64, what: Deadline)? {
        let config = context.configuration
        var best: (at: UInt64, what: Deadline)?
        func consider(_ start: UInt64, _ duration: Duration, _ what: Deadline) {
            let (sum, overflow) = start.addingReportingOverflow(duration.nanoseconds)
            let at = overflow ? UInt64.max : sum
            if let current = best, current.at <= at { return }
            best = (at, what)
        }
        if writeBlocked { consider(lastWriteProgress, config.writeTimeout, .writeStalled) }
        switch phase {
        case .reading:
            switch parser.phase {
            case .idle: consider(readPhaseSince, answered == 0 ? config.headerReadTimeout : config.keepAliveTimeout, .idle)
            case .head: consider(readPhaseSince, config.headerReadTimeout, .head)
            case .body: consider(readPhaseSince, config.bodyReadTimeout, .body)
            case .failed: break
            }
        case .lingering:
            consider(lingerSince, config.lingerTimeout, .linger)
            if nextLingerPoll > 0 { consider(nextLingerPoll, .zero, .lingerPoll) }
        case .handling, .closingAfterFlush, .closed:
            break
        }
        return best
    }

    private func updateTimer() {
        guard phase != .closed, let timer else { return }
        let next = nextDeadline()
        let at = next?.at ?? .max
        guard at != armedDeadline else { return }
        armedDeadline = at
        // Linger polls are short and frequent: a 5 ms leeway would dwarf them.
        let leeway: DispatchTimeInterval = next?.what == .lingerPoll ? .microseconds(100) : .milliseconds(5)
        timer.schedule(deadline: at == .max ? .distantFuture : DispatchTime(uptimeNanoseconds: at),
                       repeating: .never, leeway: leeway)
    }

    private func timerFired() {
        guard phase != .closed else { return }
        armedDeadline = .max
        if let (at, what) = nextDeadline(), monotonicNow() >= at {
            switch what {
            case .writeStalled:
                teardown("write timeout: the client is not reading")
                return
            case .idle:
                teardown("idle timeout", quietly: true)
                return
            case .head:
                answerAndClose(.requestTimeout, "The request head was not received in time.")
            case .body:
                answerAndClose(.requestTimeout, "The request body was not received in time.")
            case .linger:
                teardown("linger time over", quietly: true)
                return
            case .lingerPoll:
                drainLingering()
                if phase == .closed { return }
            }
        }
        updateTimer()
    }
}

/// Closes a descriptor once every Dispatch source watching it has been cancelled and the
/// connection is done with it (`teardown`; it reads on while it lingers). Touched only on the
/// connection's serial queue, where the cancel handlers and `teardown` both run.
private final class DescriptorCloser: @unchecked Sendable {
    private let fd: Int32
    private var sources: Int
    private var connectionHolds = true
    /// Runs once when the last source is gone while the connection still holds the descriptor.
    var whenSourcesGone: (() -> Void)?

    init(fd: Int32, sources: Int) {
        self.fd = fd
        self.sources = sources
    }

    func sourceCancelled() {
        sources -= 1
        guard sources == 0 else { return }
        if connectionHolds {
            let gone = whenSourcesGone
            whenSourcesGone = nil
            gone?()
        } else {
            Socket.close(fd)
        }
    }

    func connectionDone() {
        connectionHolds = false
        whenSourcesGone = nil
        if sources == 0 { Socket.close(fd) }
    }
}
