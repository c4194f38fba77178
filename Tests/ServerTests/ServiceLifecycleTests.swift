import Foundation
import Testing

/// Streams with several choices, usage in every chunk, and a graceful shutdown that lets a
/// running stream finish while refusing new work.
@Suite("Service: streams and shutdown", .serialized)
struct ServiceLifecycleTests {
    @Test("a streamed batch with n=2 interleaves one choice per chunk and finishes every index once")
    func streamedChoices() async throws {
        let server = try TestServer()
        let response = try server.post("/v1/completions", json: body([
            "prompt": ["one", "two"], "n": 2, "max_tokens": 6, "temperature": 1, "seed": 3, "ignore_eos": true,
            "stream": true, "stream_options": ["include_usage": true, "continuous_usage_stats": true],
        ]))
        await server.stop()
        var finished: [Int] = []
        var usageChunks = 0
        for event in response.events.dropLast() {
            let chunk = try #require(try JSONSerialization.jsonObject(with: Data(event.utf8)) as? [String: Any])
            let choices = try #require(chunk["choices"] as? [[String: Any]])
            if choices.isEmpty {
                usageChunks += 1
                #expect(try usageCounts(chunk)["completion_tokens"] == 24)
                continue
            }
            #expect(choices.count == 1)
            #expect(chunk["usage"] != nil, "continuous_usage_stats puts usage on every chunk")
            if choices[0]["finish_reason"] is String, let index = choices[0]["index"] as? Int { finished.append(index) }
        }
        #expect(finished.sorted() == [0, 1, 2, 3])
        #expect(usageChunks == 1)
        #expect(response.events.last == "[DONE]")
    }

    @Test("echo prepends the prompt to the first chunk of a stream")
    func streamedEcho() async throws {
        let server = try TestServer()
        let response = try server.post("/v1/completions", json: body([
            "prompt": "Echo:", "max_tokens": 3, "echo": true, "stream": true, "temperature": 0,
        ]))
        await server.stop()
        let first = try #require(response.events.first)
        let chunk = try #require(try JSONSerialization.jsonObject(with: Data(first.utf8)) as? [String: Any])
        let text = try #require((chunk["choices"] as? [[String: Any]])?.first?["text"] as? String)
        #expect(text.hasPrefix("Echo:"))
    }

    @Test("shutdown lets a running stream finish, then health reports 503 and new work is refused")
    func gracefulShutdown() async throws {
        let server = try TestServer(maxBatch: 2)
        let fd = try TestHTTP.connect(port: server.port)
        defer { close(fd) }
        let long = body(["prompt": "x", "max_tokens": 120, "ignore_eos": true, "stream": true, "temperature": 0])
        try TestHTTP.send(fd, TestHTTP.requestBytes(method: "POST", path: "/v1/completions",
                                                    headers: ["Content-Type": "application/json"], body: Array(long.utf8)))
        let start = try TestHTTP.read(fd) { String(decoding: $0, as: UTF8.self).contains("data: {") }
        server.server.service.stopAccepting()
        let health = try server.get("/health")
        let refused = try server.post("/v1/completions", json: body(["prompt": "y", "max_tokens": 2]))
        async let stopping: Void = server.stop()
        let rest = try TestHTTP.parse(start + (try TestHTTP.read(fd)))
        await stopping
        #expect(health.status == 503)
        #expect(refused.status == 503)
        #expect(rest.events.last == "[DONE]")
        #expect(!rest.text.contains("\"error\""))
    }
}
