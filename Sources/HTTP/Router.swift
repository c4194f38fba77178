/// Routes requests by method and path pattern. Patterns are literal segments and `{name}`
/// captures, plus an optional last `{name...}` that captures the rest of the path, slashes
/// included (model ids like "org/model" need it).
///
/// Failures follow RFC 9110: an unknown path gets 404, and a known path with a method it does
/// not serve gets 405 with `Allow`. A method no route uses and RFC 9110 does not define gets
/// 501. HEAD is served by the GET route when it has none of its own (the server drops the body).
public struct Router: HTTPHandler {
    public typealias Handler = @Sendable (HTTPRequest, HTTPResponder) -> Void

    public enum Match: Sendable, Hashable {
        case found(method: String, pattern: String, parameters: [String: String])
        case notFound
        case methodNotAllowed(allowed: [String])
        case notImplemented
    }

    private enum Segment: Sendable {
        case literal(String)
        case parameter(String)
        case rest(String)
    }

    private struct Route: Sendable {
        let method: String
        let pattern: String
        let segments: [Segment]
        let handler: Handler
    }

    private var routes: [Route] = []
    /// Builds the 404, 405 and 501 answers.
    public var errorResponse: HTTPErrorResponder

    static let standardMethods: Set<String> = ["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"]

    public init(errorResponse: @escaping HTTPErrorResponder = HTTPResponse.error(status:message:)) {
        self.errorResponse = errorResponse
    }

    /// Adds a route; earlier routes win when several match.
    public mutating func add(_ method: String, _ pattern: String, _ handler: @escaping Handler) {
        let parts = Self.split(pattern)
        let segments = parts.enumerated().map { index, part -> Segment in
            guard part.hasPrefix("{"), part.hasSuffix("}"), part.count > 2 else { return .literal(part) }
            let name = String(part.dropFirst().dropLast())
            if name.hasSuffix("..."), index == parts.count - 1, name.count > 3 { return .rest(String(name.dropLast(3))) }
            return .parameter(name)
        }
        routes.append(Route(method: method, pattern: pattern, segments: segments, handler: handler))
    }

    public mutating func get(_ pattern: String, _ handler: @escaping Handler) { add("GET", pattern, handler) }
    public mutating func post(_ pattern: String, _ handler: @escaping Handler) { add("POST", pattern, handler) }
    public mutating func delete(_ pattern: String, _ handler: @escaping Handler) { add("DELETE", pattern, handler) }

    public func match(method: String, path: String) -> Match {
        switch resolve(method: method, path: path) {
        case .route(let route, let parameters): .found(method: route.method, pattern: route.pattern, parameters: parameters)
        case .failure(let match): match
        }
    }

    public func handle(_ request: HTTPRequest, _ responder: HTTPResponder) {
        switch resolve(method: request.method, path: request.path) {
        case .route(let route, let parameters):
            var request = request
            request.pathParameters = parameters
            route.handler(request, responder)
        case .failure(.methodNotAllowed(let allowed)):
            var response = errorResponse(.methodNotAllowed, "Method \(request.method) is not allowed for \(Self.shown(request.path)); allowed: \(allowed.joined(separator: ", ")).")
            response.headers.set(name: "Allow", value: allowed.joined(separator: ", "))
            responder.send(response)
        case .failure(.notImplemented):
            responder.send(errorResponse(.notImplemented, "Method \(Self.shown(request.method)) is not implemented."))
        case .failure:
            responder.send(errorResponse(.notFound, "No route for \(request.method) \(Self.shown(request.path))."))
        }
    }

    private enum Resolution {
        case route(Route, [String: String])
        case failure(Match)
    }

    private func resolve(method: String, path: String) -> Resolution {
        let parts = Self.split(path)
        var allowed: [String] = []
        var getRoute: (Route, [String: String])?
        for route in routes {
            guard let parameters = Self.parameters(of: route.segments, in: parts) else { continue }
            if route.method == method { return .route(route, parameters) }
            if route.method == "GET", getRoute == nil { getRoute = (route, parameters) }
            if !allowed.contains(route.method) { allowed.append(route.method) }
        }
        if method == "HEAD", let (route, parameters) = getRoute { return .route(route, parameters) }
        let known = Self.standardMethods.contains(method) || routes.contains { $0.method == method }
        guard known else { return .failure(.notImplemented) }
        guard !allowed.isEmpty else { return .failure(.notFound) }
        if allowed.contains("GET"), !allowed.contains("HEAD") { allowed.insert("HEAD", at: allowed.firstIndex(of: "GET").map { $0 + 1 } ?? 0) }
        return .failure(.methodNotAllowed(allowed: allowed))
    }

    /// Captures when `parts` match the pattern, with each captured segment percent-decoded.
    private static func parameters(of segments: [Segment], in parts: [String]) -> [String: String]? {
        var parameters: [String: String] = [:]
        for (index, segment) in segments.enumerated() {
            switch segment {
            case .rest(let name):
                guard index < parts.count else { return nil }
                parameters[name] = parts[index...].map { percentDecoded($0) }.joined(separator: "/")
                return parameters
            case .literal(let literal):
                guard index < parts.count, percentDecoded(parts[index]) == literal else { return nil }
            case .parameter(let name):
                guard index < parts.count, !parts[index].isEmpty else { return nil }
                parameters[name] = percentDecoded(parts[index])
            }
        }
        return segments.count == parts.count ? parameters : nil
    }

    /// "/a/b" → ["a", "b"]; "/" → [""]; a trailing slash leaves a final empty segment.
    private static func split(_ path: String) -> [String] {
        let trimmed = path.hasPrefix("/") ? path.dropFirst() : Substring(path)
        return trimmed.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
    }

    /// Client-supplied text quoted in messages, cut to a sane length.
    private static func shown(_ text: String) -> String {
        text.count > 200 ? String(text.prefix(200)) + "…" : text
    }
}
