import Logging

/// Everything about how the server listens, bounds its resources and times out clients.
/// The defaults suit an API server on a trusted network. Tests set millisecond timeouts.
public struct HTTPServerConfiguration: Sendable {
    /// Address to bind. "127.0.0.1" keeps the server local. Use "0.0.0.0" or "::" to serve the network.
    public var host: String
    /// Port to bind; 0 picks a free port (see `HTTPServer.port`).
    public var port: Int
    public var backlog: Int
    /// Connections served at once; over it a new connection gets a 503 and is closed (but see
    /// `probePaths`).
    public var maxConnections: Int
    /// Paths that health checks and scrapers ask for (`GET` or `HEAD`). When set, up to
    /// `probeConnections` connections beyond `maxConnections` are still taken, and serve these
    /// paths only (anything else gets the 503) and close after their answer. A server saturated
    /// with clients then still answers its liveness probe, so an orchestrator does not restart
    /// it for being busy.
    public var probePaths: Set<String> = []
    /// Connections beyond `maxConnections` kept for `probePaths` (none when that is empty).
    public var probeConnections = 8
    public var limits: HTTPParserLimits
    /// Time allowed from the start of a request (or from accepting the connection) until its
    /// head is complete. It is a total, not an inactivity timer, so a client trickling bytes
    /// is cut. On expiry the client gets 408.
    public var headerReadTimeout: Duration
    /// Time allowed from the end of the head until the whole body has arrived (total). Expiry: 408.
    public var bodyReadTimeout: Duration
    /// Time an idle persistent connection is kept between requests.
    public var keepAliveTimeout: Duration
    /// Time a connection may make no write progress while it has output queued.
    public var writeTimeout: Duration
    /// After a final response on a closing connection, how long to read and discard the
    /// client's leftovers before closing. This stops the kernel resetting the connection
    /// before the client has read the response.
    public var lingerTimeout: Duration
    /// Bytes a streamed response may have queued for a slow reader. Past it the stream is
    /// closed and its `onClose` fires.
    public var maxStreamBufferBytes: Int
    /// Bytes read ahead (pipelined requests) while a request is being handled; past it the
    /// server stops reading that connection until the response is done.
    public var maxPipelinedBytes: Int
    /// Value of the `Server` response header; nil sends none.
    public var serverName: String?
    /// Which other origins' browser pages may call the server (off by default here; the
    /// inference service allows every origin, as vLLM does).
    public var crossOrigin = CrossOriginPolicy()
    /// Builds the responses to errors the server detects itself (parse errors, timeouts, 503).
    public var errorResponse: HTTPErrorResponder
    public var logger: Logger

    public init(host: String = "127.0.0.1", port: Int = 8000, backlog: Int = 512, maxConnections: Int = 512,
                limits: HTTPParserLimits = HTTPParserLimits(),
                headerReadTimeout: Duration = .seconds(10), bodyReadTimeout: Duration = .seconds(60),
                keepAliveTimeout: Duration = .seconds(30), writeTimeout: Duration = .seconds(30),
                lingerTimeout: Duration = .seconds(2),
                maxStreamBufferBytes: Int = 4 << 20, maxPipelinedBytes: Int = 64 << 10,
                serverName: String? = nil,
                errorResponse: @escaping HTTPErrorResponder = HTTPResponse.error(status:message:),
                logger: Logger = Logger(label: "speculators.http")) {
        self.host = host
        self.port = port
        self.backlog = backlog
        self.maxConnections = maxConnections
        self.limits = limits
        self.headerReadTimeout = headerReadTimeout
        self.bodyReadTimeout = bodyReadTimeout
        self.keepAliveTimeout = keepAliveTimeout
        self.writeTimeout = writeTimeout
        self.lingerTimeout = lingerTimeout
        self.maxStreamBufferBytes = maxStreamBufferBytes
        self.maxPipelinedBytes = maxPipelinedBytes
        self.serverName = serverName
        self.errorResponse = errorResponse
        self.logger = logger
    }
}

/// Answers requests. `handle` runs on a concurrent Dispatch queue, one request at a time per
/// connection. It should return quickly. It may answer later, from any thread, through
/// `responder`; the next pipelined request on the connection waits until it has.
public protocol HTTPHandler: Sendable {
    func handle(_ request: HTTPRequest, _ responder: HTTPResponder)
}

/// A handler made from a closure.
public struct HTTPClosureHandler: HTTPHandler {
    private let body: @Sendable (HTTPRequest, HTTPResponder) -> Void

    public init(_ body: @escaping @Sendable (HTTPRequest, HTTPResponder) -> Void) { self.body = body }

    public func handle(_ request: HTTPRequest, _ responder: HTTPResponder) { body(request, responder) }
}
