import Foundation
import Testing

/// The engine is greedy-lossless: many concurrent streams produce exactly what the same requests
/// produce one at a time, with or without the draft; and the metrics agree with the clients.
@Suite("Service: concurrency and metrics", .serialized)
struct ServiceConcurrencyTests {
    static let prompts = ["Once upon a time", "The", "1, 2, 3,", "Hello world, this is a longer prompt about nothing",
                          "Q: why?\nA:", "<|im_start|>user\nhi<|im_end|>\n", "zzz", "tiny tiny tiny"]

    static func request(_ i: Int, stream: Bool) -> String {
        body(["prompt": prompts[i % prompts.count], "max_tokens": 16 + 3 * i, "temperature": 0, "ignore_eos": true,
              "return_token_ids": !stream, "stream": stream])
    }

    /// One choice's output tokens (non-streaming) or text (streaming).
    static func output(of response: TestHTTPResponse, streamed: Bool) throws -> String {
        if !streamed {
            let choice = try #require((try response.json()["choices"] as? [[String: Any]])?.first)
            return "\(choice["token_ids"] as? [Int] ?? []) \(choice["text"] as? String ?? "")"
        }
        var text = ""
        for event in response.events.dropLast() {
            let chunk = try #require(try JSONSerialization.jsonObject(with: Data(event.utf8)) as? [String: Any])
            text += (chunk["choices"] as? [[String: Any]])?.first?["text"] as? String ?? ""
        }
        return text
    }

    /// Which draft the server runs.
    enum Drafting: String, CaseIterable, Sendable {
        case none, randomDraft, constantDraft
    }

    @Test("12 concurrent greedy requests (streamed and not) equal the same requests run one at a time",
          arguments: Drafting.allCases)
    func concurrentEqualsSequential(drafting: Drafting) async throws {
        let speculator = drafting != .none
        let server = try TestServer(speculator: speculator, maxBatch: 4, maxQueue: 32,
                                    constantDraftToken: drafting == .constantDraft ? try await Self.frequentToken() : nil)
        let count = 12
        var sequential: [String] = []
        for i in 0..<count {
            let streamed = i % 2 == 0
            sequential.append(try Self.output(of: try server.post("/v1/completions", json: Self.request(i, stream: streamed)),
                                              streamed: streamed))
        }
        let results = Slots<String>(count)
        let port = server.port
        onThreads(count) { i in
            let streamed = i % 2 == 0
            let response = try? TestHTTP.request(port: port, method: "POST", path: "/v1/completions",
                                                 headers: ["Content-Type": "application/json"],
                                                 body: Array(Self.request(i, stream: streamed).utf8))
            results[i] = response.flatMap { try? Self.output(of: $0, streamed: streamed) }
        }
        let drafts = try server.metric("vllm:spec_decode_num_drafts_total")
        let accepted = try server.metric("vllm:spec_decode_num_accepted_tokens_total") ?? 0
        await server.stop()
        if drafting == .constantDraft { #expect(accepted > 0, "drafts were accepted, so speculation changed the steps") }
        for i in 0..<count {
            #expect(results[i] == sequential[i], "request \(i) differs under concurrency")
        }
        if speculator { #expect((drafts ?? 0) > 0) } else { #expect(drafts == nil) }
    }

    /// The token the tiny verifier emits most often under greedy decoding of the test prompts.
    static func frequentToken() async throws -> Int {
        let plain = try TestServer(speculator: false)
        var counts: [Int: Int] = [:]
        for i in 0..<5 {
            let json = try plain.post("/v1/completions", json: request(i, stream: false)).json()
            for id in (json["choices"] as? [[String: Any]])?.first?["token_ids"] as? [Int] ?? [] { counts[id, default: 0] += 1 }
        }
        await plain.stop()
        return try #require(counts.max { $0.value < $1.value }?.key)
    }

    @Test("/metrics counters agree with what the clients received")
    func metricsAgree() async throws {
        let server = try TestServer(constantDraftToken: try await Self.frequentToken())
        var completionTokens = 0
        var promptTokens = 0
        for i in 0..<5 {
            let json = try server.post("/v1/completions", json: Self.request(i, stream: false)).json()
            let usage = try usageCounts(json)
            completionTokens += usage["completion_tokens"] ?? 0
            promptTokens += usage["prompt_tokens"] ?? 0
        }
        let generated = try await server.metric("vllm:generation_tokens_total", settlingTo: Double(completionTokens))
        let prompt = try await server.metric("vllm:prompt_tokens_total", settlingTo: Double(promptTokens))
        let finished = try server.metric("vllm:request_success_total{engine=\"0\",finished_reason=\"length\"")
        let draftTokens = try server.metric("vllm:spec_decode_num_draft_tokens_total") ?? 0
        let accepted = try server.metric("vllm:spec_decode_num_accepted_tokens_total") ?? -1
        let ttftCount = try server.metric("vllm:time_to_first_token_seconds_count")
        let drafts = try server.metric("vllm:spec_decode_num_drafts_total") ?? 0
        let perPosition = try server.metricSum("vllm:spec_decode_num_accepted_tokens_per_pos_total{")
        let firstPosition = try server.metricSum("vllm:spec_decode_num_accepted_tokens_per_pos_total{engine=\"0\",model_name=\"tiny\",position=\"0\"}")
        await server.stop()
        #expect(generated == Double(completionTokens))
        #expect(prompt == Double(promptTokens))
        #expect(finished == 5)
        #expect(ttftCount == 5)
        #expect(draftTokens > 0 && accepted >= 0 && accepted <= draftTokens)
        // Per-position counts add up to the accepted tokens; no position beats the drafts.
        #expect(perPosition == accepted)
        #expect(drafts > 0 && firstPosition <= drafts && draftTokens <= 3 * drafts)
        #expect(accepted > 0, "the constant draft should be accepted sometimes")
    }
}
