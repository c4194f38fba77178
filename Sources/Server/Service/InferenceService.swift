import Engine
import Foundation
import HTTP
import Logging
import Synchronization

// The HTTP face of the server: the route table, the checks every request goes through (API key,
// request id, media type), and the shared ways of answering. The endpoints themselves live in
// CompletionHandler, ChatHandler, UtilityHandlers and RegistryHandler.

/// Routes requests to the OpenAI-compatible endpoints, the registry endpoints and the
/// operational ones, feeding generations to the engine through `Scheduler`.
public final class InferenceService: HTTPHandler, Sendable {
    /// Service settings that are not facts about the model.
    public struct Options: Sendable {
        /// Bearer key for `/v1/*`; empty = open.
        public var apiKey: String
        /// Folder of speculator checkpoints for `/v1/speculators`.
        public var registryFolder: URL
        /// A generation still running after this long is aborted.
        public var requestTimeoutSeconds: Double
        /// `Retry-After` of a 503 when the queue is full.
        public var retryAfterSeconds: Int
        public var limits: ServerConfiguration.Limits
        public var forceIncludeUsage: Bool

        public init(apiKey: String = "", registryFolder: URL, requestTimeoutSeconds: Double = 600,
                    retryAfterSeconds: Int = 1, limits: ServerConfiguration.Limits = .init(),
                    forceIncludeUsage: Bool = false) {
            self.apiKey = apiKey
            self.registryFolder = registryFolder
            self.requestTimeoutSeconds = requestTimeoutSeconds
            self.retryAfterSeconds = retryAfterSeconds
            self.limits = limits
            self.forceIncludeUsage = forceIncludeUsage
        }
    }

    public let model: ServedModel
    public let scheduler: Scheduler
    public let telemetry: ServiceTelemetry
    public let options: Options
    public let validation: ValidationContext
    let logger: Logger
    private let router: Router
    private let accepting = Atomic<Bool>(true)
    private let inFlight = Atomic<Int>(0)

    public init(model: ServedModel, scheduler: Scheduler, telemetry: ServiceTelemetry, options: Options,
                logger: Logger = Logger(label: "speculators.server")) {
        self.model = model
        self.scheduler = scheduler
        self.telemetry = telemetry
        self.options = options
        self.logger = logger
        validation = ValidationContext(
            servedModelNames: [model.servedName], maxModelLen: model.maxModelLen, vocabularySize: model.vocabularySize,
            maxLogprobs: options.limits.maxLogprobs, maxPromptsPerRequest: options.limits.maxPromptsPerRequest,
            maxChoices: options.limits.maxN, samplingDefaults: model.samplingDefaults,
            maxSpeculativeTokens: model.maxSpeculativeTokens, forceIncludeUsage: options.forceIncludeUsage)
        var routes = Router(errorResponse: { status, message in
            APIError(status: status.code, message: message, type: status.reasonPhrase).response
        })
        // The table only matches; `handle` dispatches on the matched pattern, so no route
        // closure needs to hold the service.
        for (method, pattern) in Self.routeTable { routes.add(method, pattern) { _, _ in } }
        router = routes
    }

    /// Every route, in matching order (earlier wins: `schema` before `{name}`).
    static let routeTable: [(String, String)] = [
        ("POST", "/v1/completions"), ("POST", "/v1/chat/completions"), ("GET", "/v1/models"),
        ("GET", "/v1/speculators"), ("GET", "/v1/speculators/schema"), ("POST", "/v1/speculators/validate"),
        ("GET", "/v1/speculators/{name}"), ("GET", "/health"), ("GET", "/ping"), ("POST", "/ping"),
        ("GET", "/version"), ("GET", "/load"), ("GET", "/metrics"), ("POST", "/tokenize"), ("POST", "/detokenize"),
    ]

    private func dispatch(_ method: String, _ pattern: String, _ request: HTTPRequest, _ responder: HTTPResponder) {
        switch (method, pattern) {
        case ("POST", "/v1/completions"): completions(request, responder)
        case ("POST", "/v1/chat/completions"): chatCompletions(request, responder)
        case ("GET", "/v1/models"): models(request, responder)
        case ("GET", "/v1/speculators"): listSpeculators(request, responder)
        case ("GET", "/v1/speculators/schema"): speculatorSchema(request, responder)
        case ("POST", "/v1/speculators/validate"): validateSpeculator(request, responder)
        case ("GET", "/v1/speculators/{name}"): speculatorConfig(request, responder)
        case (_, "/health"), (_, "/ping"): health(request, responder)
        case ("GET", "/version"): version(request, responder)
        case ("GET", "/load"): load(request, responder)
        case ("GET", "/metrics"): metricsText(request, responder)
        case ("POST", "/tokenize"): tokenize(request, responder)
        case ("POST", "/detokenize"): detokenize(request, responder)
        default: responder.send(APIError.routeNotFound.response)
        }
    }

    public func handle(_ request: HTTPRequest, _ responder: HTTPResponder) {
        do throws(APIError) {
            try RequestGuards.authorize(path: request.path, authorization: request.headers["Authorization"],
                                        apiKey: options.apiKey)
        } catch {
            responder.send(error.response)
            return
        }
        guard case let .found(method, pattern, parameters) = router.match(method: request.method, path: request.path) else {
            router.handle(request, responder)  // 404, 405 with Allow, 501
            return
        }
        var routed = request
        routed.pathParameters = parameters
        dispatch(method, pattern, routed, responder)
    }

    /// After this, generation endpoints answer 503 and `/health` reports the engine stopping.
    public func stopAccepting() { accepting.store(false, ordering: .releasing) }

    public var isAccepting: Bool { accepting.load(ordering: .acquiring) }

    /// Generation requests being answered now.
    public var inFlightRequests: Int { inFlight.load(ordering: .relaxed) }

    // MARK: - Shared plumbing for handlers

    /// The request's id and the logger that carries it.
    func context(for request: HTTPRequest, bodyID: String? = nil) -> RequestContext {
        let id = RequestID.resolve(header: request.headers["X-Request-Id"], body: bodyID)
        var logger = self.logger
        logger[metadataKey: "request-id"] = "\(id)"
        return RequestContext(id: id, created: Int(Date().timeIntervalSince1970), started: monotonicSeconds(),
                              logger: logger)
    }

    /// Runs `body` for a generation request, counting it as in flight until `finished` is called.
    func beginGeneration() -> @Sendable () -> Void {
        inFlight.add(1, ordering: .relaxed)
        let done = Atomic<Bool>(false)
        return { [self] in
            if !done.exchange(true, ordering: .relaxed) { inFlight.subtract(1, ordering: .relaxed) }
        }
    }

    /// Sends `error` as the OpenAI error body (503s from a full queue carry `Retry-After`).
    func send(_ error: APIError, to responder: HTTPResponder, requestID: String? = nil) {
        var response = error.response
        if error.status == 503 { response.headers.set(name: "Retry-After", value: String(options.retryAfterSeconds)) }
        if let requestID { response.headers.set(name: "X-Request-Id", value: requestID) }
        responder.send(response)
    }

    func sendJSON(_ json: String, to responder: HTTPResponder, requestID: String? = nil) {
        var response = HTTPResponse.json(Array(json.utf8))
        if let requestID { response.headers.set(name: "X-Request-Id", value: requestID) }
        responder.send(response)
    }

    /// A JSON body's media type and size, before it is decoded.
    func checkBody(_ request: HTTPRequest) throws(APIError) {
        try RequestGuards.requireJSON(contentType: request.headers["Content-Type"])
        if request.body.count > options.limits.maxBodyBytes {
            throw APIError.payloadTooLarge(limit: options.limits.maxBodyBytes)
        }
    }

    /// 503 once shutdown has begun.
    func checkAccepting() throws(APIError) {
        if !isAccepting { throw APIError.serviceUnavailable("The server is shutting down.") }
    }
}

/// Per-request facts handlers share.
struct RequestContext: Sendable {
    let id: String
    /// Unix seconds when the request was accepted.
    let created: Int
    /// Monotonic seconds when the request was accepted.
    let started: Double
    let logger: Logger

    /// One info line per answered generation request: sizes, finish reasons, time.
    func logFinished(_ endpoint: String, _ results: [ChoiceResult]) {
        let reasons = results.map { $0.finish?.rawValue ?? "unfinished" }
        logger.info("request finished", metadata: [
            "endpoint": "\(endpoint)", "choices": "\(results.count)",
            "prompt_tokens": "\(Set(results.map(\.promptTokens)).sorted())",
            "completion_tokens": "\(results.reduce(0) { $0 + $1.generatedTokens })",
            "finish": "\(Set(reasons).sorted().joined(separator: ","))",
            "seconds": "\(String(format: "%.3f", monotonicSeconds() - started))",
        ])
    }
}

extension APIError {
    /// The HTTP response carrying this error.
    var response: HTTPResponse { HTTPResponse.json(Array(jsonBody.utf8), status: HTTPStatus(status)) }
}
