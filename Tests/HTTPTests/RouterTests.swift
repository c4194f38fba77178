import Foundation
import HTTP
import Testing

@Suite struct RouterTests {
    static let router: Router = {
        var router = Router()
        router.get("/health") { _, responder in responder.send(.text("ok")) }
        router.get("/v1/models") { _, responder in responder.send(.text("models")) }
        router.get("/v1/models/{model...}") { request, responder in responder.send(.text(request.pathParameters["model"] ?? "?")) }
        router.post("/v1/completions") { _, responder in responder.send(.text("completion")) }
        router.add("PUT", "/items/{id}/tags/{tag}") { _, responder in responder.send(.text("tag")) }
        router.add("PURGE", "/cache") { _, responder in responder.send(.text("purged")) }
        return router
    }()

    @Test("Literal routes match exactly, with HEAD falling back to GET")
    func literal() {
        #expect(Self.router.match(method: "GET", path: "/health") == .found(method: "GET", pattern: "/health", parameters: [:]))
        #expect(Self.router.match(method: "HEAD", path: "/health") == .found(method: "GET", pattern: "/health", parameters: [:]))
        #expect(Self.router.match(method: "GET", path: "/health/") == .notFound)
        #expect(Self.router.match(method: "GET", path: "/Health") == .notFound)
    }

    @Test("{name} captures one percent-decoded segment; {name...} captures the rest, slashes included")
    func captures() {
        #expect(Self.router.match(method: "PUT", path: "/items/42/tags/a%20b")
            == .found(method: "PUT", pattern: "/items/{id}/tags/{tag}", parameters: ["id": "42", "tag": "a b"]))
        #expect(Self.router.match(method: "PUT", path: "/items//tags/x") == .notFound, "an empty segment does not fill a capture")
        #expect(Self.router.match(method: "GET", path: "/v1/models/HuggingFaceTB/SmolLM2-360M")
            == .found(method: "GET", pattern: "/v1/models/{model...}", parameters: ["model": "HuggingFaceTB/SmolLM2-360M"]))
        #expect(Self.router.match(method: "GET", path: "/v1/models") == .found(method: "GET", pattern: "/v1/models", parameters: [:]))
    }

    @Test("A known path with another method is 405 listing the allowed ones; an unknown method is 501")
    func failures() {
        #expect(Self.router.match(method: "GET", path: "/v1/completions") == .methodNotAllowed(allowed: ["POST"]))
        #expect(Self.router.match(method: "DELETE", path: "/health") == .methodNotAllowed(allowed: ["GET", "HEAD"]))
        #expect(Self.router.match(method: "BREW", path: "/health") == .notImplemented)
        #expect(Self.router.match(method: "PURGE", path: "/cache") == .found(method: "PURGE", pattern: "/cache", parameters: [:]))
        #expect(Self.router.match(method: "PURGE", path: "/nope") == .notFound, "a method some route uses is known")
        #expect(Self.router.match(method: "GET", path: "/nope") == .notFound)
    }

    @Test("Over a socket the router answers 200, 404, 405 with Allow, and 501")
    func overSocket() async throws {
        let router = Self.router
        try await withServer(handler: { request, responder in router.handle(request, responder) }) { _, port in
            let client = try TestClient(port: port)
            try client.send("GET /v1/models/org/m%2Fx HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try client.readResponse().text == "org/m/x")
            try client.send("GET /missing HTTP/1.1\r\nHost: x\r\n\r\n")
            let missing = try client.readResponse()
            #expect(missing.status == 404)
            #expect(missing.text.contains("\"type\":\"Not Found\""))
            try client.send("GET /v1/completions HTTP/1.1\r\nHost: x\r\n\r\n")
            let wrongMethod = try client.readResponse()
            #expect(wrongMethod.status == 405)
            #expect(wrongMethod.headers["Allow"] == "POST")
            try client.send("BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try client.readResponse().status == 501)
            try client.send("HEAD /health HTTP/1.1\r\nHost: x\r\n\r\n")
            let head = try client.readResponse(head: true)
            #expect(head.status == 200)
            #expect(head.headers["Content-Length"] == "2")
        }
    }
}
