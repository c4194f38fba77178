import Foundation
import HTTP
import Testing

/// CORS as vLLM's Starlette middleware answers it: preflights before the handler, the allow
/// header on every answer to an allowed origin, nothing when CORS is off.
@Suite(.serialized) struct CrossOriginTests {
    /// A handler that refuses everything, as an API key check refuses a browser's preflight.
    let refusing: @Sendable (HTTPRequest, HTTPResponder) -> Void = { _, responder in
        responder.send(HTTPResponse(status: HTTPStatus(401), body: Array("no".utf8)))
    }

    @Test("A preflight is answered 200 before the handler, allowing the method and the requested headers")
    func preflight() async throws {
        try await withServer({ $0.crossOrigin = CrossOriginPolicy(allowedOrigins: ["*"]) }, handler: refusing) { _, port in
            let client = try TestClient(port: port)
            try client.send("OPTIONS /v1/completions HTTP/1.1\r\nHost: x\r\nOrigin: https://app.example\r\n"
                            + "Access-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: authorization, content-type\r\n\r\n")
            let response = try client.readResponse()
            #expect(response.status == 200)
            #expect(response.headers["Access-Control-Allow-Origin"] == "*")
            #expect(response.headers["Access-Control-Allow-Methods"]?.contains("POST") == true)
            #expect(response.headers["Access-Control-Allow-Headers"] == "authorization, content-type")
            #expect(response.headers["Access-Control-Max-Age"] == "600")
            // The connection goes on serving: the next request reaches the handler.
            try client.send("GET /v1/models HTTP/1.1\r\nHost: x\r\nOrigin: https://app.example\r\n\r\n")
            let next = try client.readResponse()
            #expect(next.status == 401)
            #expect(next.headers["Access-Control-Allow-Origin"] == "*", "errors carry it too, so the page can read them")
        }
    }

    @Test("Answers and streams to an allowed origin carry Access-Control-Allow-Origin; others and requests without Origin do not")
    func simpleRequests() async throws {
        let streaming: @Sendable (HTTPRequest, HTTPResponder) -> Void = { request, responder in
            if request.path == "/stream" {
                let stream = responder.startEventStream()
                _ = stream.writeEvent(data: "x")
                stream.finish()
            } else {
                responder.send(.text("ok"))
            }
        }
        try await withServer({ $0.crossOrigin = CrossOriginPolicy(allowedOrigins: ["https://a.example"]) }, handler: streaming) { _, port in
            let client = try TestClient(port: port)
            try client.send("GET /x HTTP/1.1\r\nHost: x\r\nOrigin: https://a.example\r\n\r\n")
            let allowed = try client.readResponse()
            #expect(allowed.headers["Access-Control-Allow-Origin"] == "https://a.example")
            #expect(allowed.headers["Vary"] == "Origin")
            try client.send("GET /stream HTTP/1.1\r\nHost: x\r\nOrigin: https://a.example\r\n\r\n")
            let stream = try client.readResponse()
            #expect(stream.headers["Access-Control-Allow-Origin"] == "https://a.example")
            try client.send("GET /x HTTP/1.1\r\nHost: x\r\nOrigin: https://evil.example\r\n\r\n")
            #expect(try client.readResponse().headers["Access-Control-Allow-Origin"] == nil)
            try client.send("GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try client.readResponse().headers["Access-Control-Allow-Origin"] == nil)
            try client.send("OPTIONS /x HTTP/1.1\r\nHost: x\r\nOrigin: https://evil.example\r\nAccess-Control-Request-Method: POST\r\n\r\n")
            let refused = try client.readResponse()
            #expect(refused.status == 400 && refused.text == "Disallowed CORS origin")
        }
    }

    @Test("With CORS off, an OPTIONS request is the handler's like any other")
    func off() async throws {
        try await withServer(handler: refusing) { _, port in
            let client = try TestClient(port: port)
            try client.send("OPTIONS /x HTTP/1.1\r\nHost: x\r\nOrigin: https://a.example\r\nAccess-Control-Request-Method: POST\r\n\r\n")
            let response = try client.readResponse()
            #expect(response.status == 401)
            #expect(response.headers["Access-Control-Allow-Origin"] == nil)
        }
    }
}
