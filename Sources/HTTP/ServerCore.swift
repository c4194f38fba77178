import Dispatch
import Logging

/// What the server and its connections share: configuration, handler, queues and the registry
/// of live connections. It is kept apart from `HTTPServer` so connections never retain the
/// public object.
final class ServerCore: Sendable {
    struct State {
        enum Stage { case idle, running, draining, stopped }

        var stage = Stage.idle
        var listener: Int32 = -1
        var port: Int?
        var listenSource: DispatchSourceRead?
        var acceptPaused = false
        var connections: [UInt64: HTTPConnection] = [:]
        var nextConnectionID: UInt64 = 0
        var stopWaiters: [@Sendable () -> Void] = []
        var signalSources: [DispatchSourceSignal] = []
        var signalsReceived = 0
    }

    let configuration: HTTPServerConfiguration
    let handler: any HTTPHandler
    /// Handlers run here, concurrently.
    let handlerQueue = DispatchQueue(label: "speculators.http.handlers", attributes: .concurrent)
    /// Connection queues target this one, so connections proceed in parallel.
    let ioQueue = DispatchQueue(label: "speculators.http.io", attributes: .concurrent)
    /// Accepting, shutdown and signals, one at a time.
    let acceptQueue = DispatchQueue(label: "speculators.http.accept")
    let state = Locked(State())
    private let requestCounter = Locked<UInt64>(0)

    var logger: Logger { configuration.logger }

    init(configuration: HTTPServerConfiguration, handler: any HTTPHandler) {
        self.configuration = configuration
        self.handler = handler
    }

    func nextRequestID() -> UInt64 {
        requestCounter.withLock { counter in
            counter += 1
            return counter
        }
    }

    // MARK: Accepting

    /// Accepts every pending connection (bounded per call; the level-triggered source fires again).
    func acceptConnections() {
        let listener = state.withLock { $0.listener }
        guard listener >= 0 else { return }
        for _ in 0..<128 {
            switch Socket.accept(listener) {
            case .accepted(let fd, let remote):
                let connection = state.withLock { s -> HTTPConnection? in
                    guard s.stage == .running else { return nil }
                    let probesOnly = s.connections.count >= configuration.maxConnections
                    if probesOnly {
                        let reserve = configuration.probePaths.isEmpty ? 0 : max(configuration.probeConnections, 0)
                        guard s.connections.count < configuration.maxConnections + reserve else { return nil }
                    }
                    s.nextConnectionID += 1
                    let connection = HTTPConnection(id: s.nextConnectionID, fd: fd, remoteAddress: remote,
                                                    context: self, targetQueue: ioQueue, probesOnly: probesOnly)
                    s.connections[connection.id] = connection
                    return connection
                }
                if let connection {
                    connection.start()
                } else {
                    refuse(fd, remote: remote)
                }
            case .wouldBlock:
                return
            case .exhausted(let code):
                logger.warning("cannot accept connections, backing off 100 ms", metadata: ["error": "\(Socket.errorText(code))"])
                pauseAccepting(for: .milliseconds(100))
                return
            case .failed(let code):
                logger.error("accept failed", metadata: ["error": "\(Socket.errorText(code))"])
                return
            }
        }
    }

    /// Answers a connection over the bound with 503 and closes it, without giving it a worker.
    /// What the client already sent is read first, so closing sends a FIN rather than a reset
    /// that could destroy the answer.
    private func refuse(_ fd: Int32, remote: String) {
        logger.warning("connection bound reached; refusing", metadata: ["remote": "\(remote)", "maxConnections": "\(configuration.maxConnections)"])
        withUnsafeTemporaryAllocation(byteCount: 16 << 10, alignment: 16) { buffer in
            for _ in 0..<4 {
                guard case .bytes = Socket.receive(fd, into: buffer) else { break }
            }
        }
        let response = configuration.errorResponse(.serviceUnavailable, "The server is at its connection limit; retry later.")
        var headers = response.headers
        headers.set(name: "Retry-After", value: "1")
        var out: [UInt8] = []
        ResponseEncoding.appendHead(status: response.status, headers: headers, framing: .contentLength(response.body.count),
                                    closeConnection: true, announceKeepAlive: false, serverName: configuration.serverName, into: &out)
        out.append(contentsOf: response.body)
        _ = out.withUnsafeBytes { Socket.send(fd, $0) }
        Socket.shutdownWrite(fd)
        Socket.close(fd)
    }

    private func pauseAccepting(for delay: Duration) {
        let source = state.withLock { s -> DispatchSourceRead? in
            guard s.stage == .running, !s.acceptPaused, let source = s.listenSource else { return nil }
            s.acceptPaused = true
            return source
        }
        guard let source else { return }
        source.suspend()
        acceptQueue.asyncAfter(deadline: .now() + .nanoseconds(Int(clamping: delay.nanoseconds))) { [self] in
            let paused = state.withLock { s -> DispatchSourceRead? in
                guard s.acceptPaused, s.stage == .running else { return nil }
                s.acceptPaused = false
                return s.listenSource
            }
            paused?.resume()
        }
    }

    // MARK: Stopping

    /// Called by a connection once it has closed.
    func connectionClosed(_ id: UInt64) {
        let waiters = state.withLock { s -> [@Sendable () -> Void] in
            s.connections[id] = nil
            return s.stage == .draining && s.connections.isEmpty ? markStopped(&s) : []
        }
        for waiter in waiters { waiter() }
    }

    /// Stops accepting, lets connections finish their current request, and closes whatever is
    /// left when the grace period ends. Runs on `acceptQueue`.
    func beginShutdown(gracePeriod: Duration, completion: (@Sendable () -> Void)?) {
        var listenSource: DispatchSourceRead?
        var resumeSource = false
        let (connections, waiters) = state.withLock { s -> ([HTTPConnection], [@Sendable () -> Void]) in
            if let completion { s.stopWaiters.append(completion) }
            switch s.stage {
            case .idle:
                return ([], markStopped(&s))
            case .stopped:
                let waiters = s.stopWaiters
                s.stopWaiters = []
                return ([], waiters)
            case .running:
                s.stage = .draining
                listenSource = s.listenSource
                resumeSource = s.acceptPaused
                s.listenSource = nil
                s.listener = -1
                s.port = nil
                let connections = Array(s.connections.values)
                return (connections, connections.isEmpty ? markStopped(&s) : [])
            case .draining:
                return (Array(s.connections.values), [])
            }
        }
        if let listenSource {
            listenSource.cancel()
            if resumeSource { listenSource.resume() }
            logger.info("stopped accepting connections", metadata: ["open": "\(connections.count)"])
        }
        for connection in connections {
            connection.queue.async { connection.beginDraining() }
        }
        if !connections.isEmpty {
            acceptQueue.asyncAfter(deadline: .now() + .nanoseconds(Int(clamping: gracePeriod.nanoseconds))) { [self] in
                let remaining = state.withLock { Array($0.connections.values) }
                for connection in remaining {
                    connection.queue.async { connection.teardown("the shutdown grace period is over") }
                }
            }
        }
        for waiter in waiters { waiter() }
    }

    /// Moves to `.stopped` and returns the waiters to notify (outside the lock).
    private func markStopped(_ s: inout State) -> [@Sendable () -> Void] {
        s.stage = .stopped
        for source in s.signalSources { source.cancel() }
        s.signalSources = []
        let waiters = s.stopWaiters
        s.stopWaiters = []
        return waiters
    }
}
