import Foundation
import Testing

/// Bad requests over a real socket: each gets the right status and OpenAI error body, and the
/// server keeps serving.
@Suite("Service: errors and guards", .serialized)
struct ServiceErrorTests {
    @Test("bad bodies, media types, models, context lengths, routes and methods get their statuses")
    func statuses() async throws {
        let server = try TestServer()
        let cases: [(String, TestHTTPResponse, Int, String?)] = [
            ("invalid JSON", try server.post("/v1/completions", json: "{\"prompt\": "), 400, nil),
            ("not an object", try server.post("/v1/completions", json: "[1, 2]"), 400, nil),
            ("wrong type", try server.post("/v1/completions", json: body(["prompt": "x", "max_tokens": "many"])), 400,
             "body.max_tokens"),
            ("out of range", try server.post("/v1/completions", json: body(["prompt": "x", "temperature": 9])), 400,
             "temperature"),
            ("unknown model", try server.post("/v1/completions", json: body(["prompt": "x", "model": "gpt-4"])), 404, nil),
            ("context length", try server.post("/v1/completions", json: body(["prompt": Array(repeating: 5, count: 250),
                                                                                 "max_tokens": 10])), 400, "input_tokens"),
            ("token out of vocabulary", try server.post("/v1/completions", json: body(["prompt": [1, 999]])), 400, nil),
            ("prompt logprobs in a stream", try server.post("/v1/completions", json: body(["prompt": "x", "prompt_logprobs": 1,
                                                                                           "stream": true])),
             400, "prompt_logprobs"),
            ("media type", try TestHTTP.request(port: server.port, method: "POST", path: "/v1/completions",
                                                headers: ["Content-Type": "text/plain"], body: Array("{}".utf8)), 400, nil),
            ("unknown route", try server.get("/v2/nothing"), 404, nil),
            ("wrong method", try TestHTTP.request(port: server.port, method: "DELETE", path: "/v1/completions", headers: [:],
                                                  body: []), 405, nil),
            ("chat without messages", try server.post("/v1/chat/completions", json: body(["max_tokens": 3])), 400, nil),
            ("detokenize out of range", try server.post("/detokenize", json: body(["tokens": [1000]])), 400, nil),
        ]
        let after = try server.post("/v1/completions", json: body(["prompt": "still alive", "max_tokens": 2]))
        await server.stop()
        for (name, response, status, param) in cases {
            #expect(response.status == status, "\(name): \(response.text.prefix(300))")
            let error = try response.json()["error"] as? [String: Any]
            #expect(error?["message"] is String, "\(name) has no OpenAI error body")
            #expect(error?["code"] as? Int == status, "\(name)")
            if let param { #expect(error?["param"] as? String == param, "\(name): \(response.text)") }
        }
        #expect(after.status == 200)
    }

    @Test("with an API key, /v1 needs the bearer token while health and metrics stay open")
    func apiKey() async throws {
        let server = try TestServer(apiKey: "secret")
        let denied = try server.get("/v1/models")
        let wrong = try server.get("/v1/models", headers: ["Authorization": "Bearer nope"])
        let allowed = try server.get("/v1/models", headers: ["Authorization": "Bearer secret"])
        let health = try server.get("/health")
        let metrics = try server.get("/metrics")
        await server.stop()
        #expect(denied.status == 401)
        #expect(denied.text == #"{"error":"Unauthorized"}"#)
        #expect(wrong.status == 401)
        #expect(allowed.status == 200)
        #expect(health.status == 200)
        #expect(metrics.status == 200)
        #expect(metrics.text.hasPrefix("# HELP process_virtual_memory_bytes"), "the process collector's families come first")
    }

    @Test("browser pages on other origins may call it, as vLLM's default allows: preflights pass the key check, answers carry the allow header")
    func crossOrigin() async throws {
        let server = try TestServer(apiKey: "secret")
        let preflight = try TestHTTP.request(port: server.port, method: "OPTIONS", path: "/v1/completions",
                                             headers: ["Origin": "https://chat.example", "Access-Control-Request-Method": "POST",
                                                       "Access-Control-Request-Headers": "authorization,content-type"], body: [])
        let answer = try server.post("/v1/completions", json: body(["prompt": "Hi", "max_tokens": 2]),
                                     headers: ["Authorization": "Bearer secret", "Origin": "https://chat.example"])
        let denied = try server.get("/v1/models", headers: ["Origin": "https://chat.example"])
        await server.stop()
        #expect(preflight.status == 200)
        // (The test client lowercases header names.)
        #expect(preflight.headers["access-control-allow-origin"] == "*")
        #expect(preflight.headers["access-control-allow-headers"] == "authorization,content-type")
        #expect(answer.status == 200 && answer.headers["access-control-allow-origin"] == "*")
        #expect(denied.status == 401 && denied.headers["access-control-allow-origin"] == "*")
    }

    @Test("a full queue answers 503 with Retry-After, and the queued work still completes")
    func queueFull() async throws {
        let server = try TestServer(maxBatch: 1, maxQueue: 0)
        let fd = try TestHTTP.connect(port: server.port)
        defer { close(fd) }
        let long = body(["prompt": "x", "max_tokens": 200, "ignore_eos": true, "stream": true, "temperature": 0])
        try TestHTTP.send(fd, TestHTTP.requestBytes(method: "POST", path: "/v1/completions",
                                                    headers: ["Content-Type": "application/json"], body: Array(long.utf8)))
        // The first chunk means the request is running, so the queue (size 0) is full.
        let start = try TestHTTP.read(fd) { String(decoding: $0, as: UTF8.self).contains("data: {") }
        let refused = try server.post("/v1/completions", json: body(["prompt": "y", "max_tokens": 2]))
        let rest = try TestHTTP.parse(start + (try TestHTTP.read(fd)))
        await server.stop()
        #expect(refused.status == 503)
        #expect(refused.headers["retry-after"] != nil)
        #expect(try refused.json()["error"] != nil)
        #expect(rest.events.last == "[DONE]")
    }

    @Test("a client that disconnects mid-stream is aborted and its slot freed")
    func disconnectAborts() async throws {
        let server = try TestServer(maxBatch: 1, maxQueue: 4)
        let fd = try TestHTTP.connect(port: server.port)
        let long = body(["prompt": "x", "max_tokens": 230, "ignore_eos": true, "stream": true, "temperature": 0])
        try TestHTTP.send(fd, TestHTTP.requestBytes(method: "POST", path: "/v1/completions",
                                                    headers: ["Content-Type": "application/json"], body: Array(long.utf8)))
        _ = try TestHTTP.read(fd) { String(decoding: $0, as: UTF8.self).contains("data: {") }
        close(fd)
        var aborted = 0.0
        for _ in 0..<100 where aborted < 1 {
            try await Task.sleep(for: .milliseconds(50))
            aborted = try server.metric("vllm:request_success_total{engine=\"0\",finished_reason=\"abort\"") ?? 0
        }
        // The single running slot is free again: a new request completes.
        let next = try server.post("/v1/completions", json: body(["prompt": "z", "max_tokens": 3]))
        let running = try await server.metric("vllm:num_requests_running", settlingTo: 0)
        await server.stop()
        #expect(aborted == 1)
        #expect(next.status == 200)
        #expect(running == 0)
    }

    @Test("malformed request lines and truncated bodies close or answer 4xx, and serving goes on")
    func malformedHTTP() async throws {
        let server = try TestServer()
        let raw: [String] = [
            "GARBAGE\r\n\r\n",
            "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
            "GET /health HTTP/9.9\r\nHost: x\r\n\r\n",
            "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"pro",
        ]
        var statuses: [Int?] = []
        for (index, text) in raw.enumerated() {
            let fd = try TestHTTP.connect(port: server.port, timeoutSeconds: 20)
            try TestHTTP.send(fd, Array(text.utf8))
            if index == raw.count - 1 { shutdown(fd, Int32(SHUT_WR)) }
            let bytes = (try? TestHTTP.read(fd)) ?? []
            close(fd)
            statuses.append(bytes.isEmpty ? nil : (try? TestHTTP.parse(bytes))?.status)
        }
        let after = try server.get("/health")
        await server.stop()
        for (index, status) in statuses.enumerated() {
            #expect(status == nil || (400..<600).contains(status ?? 0), "case \(index): \(String(describing: status))")
        }
        #expect(after.status == 200)
    }
}
