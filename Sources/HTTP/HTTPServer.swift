import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// An HTTP/1.1 server on plain sockets and Dispatch.
///
/// ```swift
/// let server = HTTPServer(configuration: .init(port: 8000), handler: router)
/// let port = try server.start()
/// server.installSignalHandlers(gracePeriod: .seconds(10))
/// server.waitUntilStopped()
/// ```
///
/// Keep a reference to the server while it runs. Stop it with `shutdown(gracePeriod:)`.
public final class HTTPServer: Sendable {
    private let core: ServerCore

    public init(configuration: HTTPServerConfiguration = HTTPServerConfiguration(), handler: some HTTPHandler) {
        core = ServerCore(configuration: configuration, handler: handler)
    }

    public convenience init(configuration: HTTPServerConfiguration = HTTPServerConfiguration(),
                            handler: @escaping @Sendable (HTTPRequest, HTTPResponder) -> Void) {
        self.init(configuration: configuration, handler: HTTPClosureHandler(handler))
    }

    public var configuration: HTTPServerConfiguration { core.configuration }

    /// Binds, listens and starts accepting. Returns the bound port (the chosen one when the
    /// configuration says 0). A server starts once; a stopped server cannot be restarted.
    @discardableResult
    public func start() throws -> Int {
        // Writing to a socket the peer has reset must be an error code, never a process kill.
        signal(SIGPIPE, SIG_IGN)
        let config = core.configuration
        try core.state.withLock { s in
            guard s.stage == .idle else { throw HTTPServerError("the server was already started") }
            let (fd, port) = try Socket.listen(host: config.host, port: config.port, backlog: config.backlog)
            let source = DispatchSource.makeReadSource(fileDescriptor: fd, queue: core.acceptQueue)
            source.setEventHandler { [core] in core.acceptConnections() }
            source.setCancelHandler { Socket.close(fd) }
            s.listener = fd
            s.port = port
            s.listenSource = source
            s.stage = .running
            source.resume()
        }
        let port = self.port ?? 0
        core.logger.info("listening", metadata: ["host": "\(config.host)", "port": "\(port)"])
        return port
    }

    /// The bound port while the server accepts connections.
    public var port: Int? { core.state.withLock { $0.port } }

    /// Connections currently open.
    public var connectionCount: Int { core.state.withLock { $0.connections.count } }

    public var isStopped: Bool { core.state.withLock { $0.stage == .stopped } }

    /// Stops accepting at once. Idle connections close, and requests in progress may finish
    /// (their answers say `Connection: close`). Whatever is still open after `gracePeriod` is
    /// closed, which runs the `onClose` callbacks of unfinished exchanges. `whenStopped` runs
    /// once every connection is closed. Calling it again with a shorter grace period cuts
    /// the wait.
    public func shutdown(gracePeriod: Duration = .seconds(10), whenStopped: (@Sendable () -> Void)? = nil) {
        core.acceptQueue.async { [core] in core.beginShutdown(gracePeriod: gracePeriod, completion: whenStopped) }
    }

    /// `shutdown(gracePeriod:)`, returning when every connection is closed.
    public func shutdown(gracePeriod: Duration = .seconds(10)) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            shutdown(gracePeriod: gracePeriod, whenStopped: { continuation.resume() })
        }
    }

    /// Blocks the calling thread until the server has stopped (e.g. from `main` after
    /// `installSignalHandlers`).
    public func waitUntilStopped() {
        let semaphore = DispatchSemaphore(value: 0)
        let stopped = core.state.withLock { s -> Bool in
            if s.stage == .stopped { return true }
            s.stopWaiters.append { semaphore.signal() }
            return false
        }
        if !stopped { semaphore.wait() }
    }

    /// Returns once the server has stopped.
    public func stopped() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let stopped = core.state.withLock { s -> Bool in
                if s.stage == .stopped { return true }
                s.stopWaiters.append { continuation.resume() }
                return false
            }
            if stopped { continuation.resume() }
        }
    }

    /// Makes the given signals (SIGTERM and SIGINT by default) shut the server down gracefully.
    /// A second signal closes everything at once. Their default action (ending the process) is
    /// replaced, so the caller decides what happens once the server has stopped.
    public func installSignalHandlers(gracePeriod: Duration = .seconds(10), signals: [Int32] = [SIGTERM, SIGINT]) {
        for number in signals {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: core.acceptQueue)
            source.setEventHandler { [core] in
                let count = core.state.withLock { s -> Int in
                    s.signalsReceived += 1
                    return s.signalsReceived
                }
                if count == 1 {
                    core.logger.notice("signal \(number) received: shutting down gracefully")
                    core.beginShutdown(gracePeriod: gracePeriod, completion: nil)
                } else {
                    core.logger.notice("signal \(number) received again: closing all connections now")
                    core.beginShutdown(gracePeriod: .zero, completion: nil)
                }
            }
            core.state.withLock { $0.signalSources.append(source) }
            source.resume()
        }
    }
}
