/// Cross-origin resource sharing, as Starlette's `CORSMiddleware` does it for vLLM (whose
/// default is every origin, method and header, without credentials): browser pages on other
/// origins may call the API. A preflight (`OPTIONS` with `Origin` and
/// `Access-Control-Request-Method`) is answered here, before the handler and its API key
/// check, which a browser cannot pass in a preflight; every other answer to a request with an
/// allowed `Origin` says so in `Access-Control-Allow-Origin`.
public struct CrossOriginPolicy: Sendable, Equatable {
    /// Allowed origins (`https://app.example`), or `["*"]` for any; empty turns CORS off.
    public var allowedOrigins: [String]

    public init(allowedOrigins: [String] = []) {
        self.allowedOrigins = allowedOrigins
    }

    var allowsAnyOrigin: Bool { allowedOrigins.contains("*") }

    /// The `Access-Control-Allow-Origin` value for a request from `origin`, or nil when it gets none.
    func allowOriginValue(for origin: String?) -> String? {
        guard let origin, !allowedOrigins.isEmpty else { return nil }
        if allowsAnyOrigin { return "*" }
        return allowedOrigins.contains(origin) ? origin : nil
    }

    /// Adds the answer's CORS headers for a request from `origin` (`Vary: Origin` when the value
    /// depends on it), leaving alone a handler's own.
    func decorate(_ headers: inout HTTPHeaders, origin: String?) {
        guard let value = allowOriginValue(for: origin), !headers.contains("Access-Control-Allow-Origin") else { return }
        headers.set(name: "Access-Control-Allow-Origin", value: value)
        if value != "*" { headers.add(name: "Vary", value: "Origin") }
    }

    /// The answer to `request` when it is a preflight and CORS is on: 200 allowing the method and
    /// the requested headers, or 400 for an origin not allowed (Starlette's "Disallowed CORS origin").
    func preflightResponse(to request: HTTPRequest) -> HTTPResponse? {
        guard !allowedOrigins.isEmpty, request.method == "OPTIONS", let origin = request.headers["Origin"],
              request.headers["Access-Control-Request-Method"] != nil else { return nil }
        var headers = HTTPHeaders()
        headers.set(name: "Content-Type", value: "text/plain; charset=utf-8")
        guard let value = allowOriginValue(for: origin) else {
            return HTTPResponse(status: .badRequest, headers: headers, body: Array("Disallowed CORS origin".utf8))
        }
        headers.set(name: "Access-Control-Allow-Origin", value: value)
        if value != "*" { headers.add(name: "Vary", value: "Origin") }
        headers.set(name: "Access-Control-Allow-Methods", value: "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT")
        headers.set(name: "Access-Control-Max-Age", value: "600")
        if let requested = request.headers["Access-Control-Request-Headers"] {
            headers.set(name: "Access-Control-Allow-Headers", value: requested)
        }
        return HTTPResponse(status: .ok, headers: headers, body: Array("OK".utf8))
    }
}
