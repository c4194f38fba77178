import Foundation
import Testing

/// /v1/completions and /v1/chat/completions over a real socket, on the tiny models.
@Suite("Service: completions and chat", .serialized)
struct ServiceCompletionTests {
    @Test("a greedy completion answers with the OpenAI body, usage and X-Request-Id")
    func nonStreaming() async throws {
        let server = try TestServer()
        let response = try server.post("/v1/completions", json: body([
            "prompt": "Hello world", "max_tokens": 12, "temperature": 0, "return_token_ids": true, "ignore_eos": true,
        ]), headers: ["X-Request-Id": "abc123"])
        await server.stop()
        #expect(response.status == 200)
        #expect(response.headers["x-request-id"] == "abc123")
        let json = try response.json()
        #expect(json["id"] as? String == "cmpl-abc123")
        #expect(json["object"] as? String == "text_completion")
        #expect(json["model"] as? String == "tiny")
        let choices = try #require(json["choices"] as? [[String: Any]])
        #expect(choices.count == 1)
        let choice = try #require(choices.first)
        #expect(choice["finish_reason"] as? String == "length")
        #expect((choice["token_ids"] as? [Int])?.count == 12)
        let usage = try usageCounts(json)
        #expect(usage["completion_tokens"] == 12)
        #expect(usage["total_tokens"] == (usage["prompt_tokens"] ?? 0) + 12)
    }

    @Test("streamed chunks add up to the non-streamed text, then usage and [DONE]")
    func streamingMatches() async throws {
        let server = try TestServer()
        let request: [String: Any] = ["prompt": "The tiny model says", "max_tokens": 20, "temperature": 0, "ignore_eos": true]
        let whole = try server.post("/v1/completions", json: body(request)).json()
        var streamed = request
        streamed["stream"] = true
        streamed["stream_options"] = ["include_usage": true]
        let response = try server.post("/v1/completions", json: body(streamed))
        await server.stop()
        #expect(response.status == 200)
        #expect(response.headers["content-type"]?.hasPrefix("text/event-stream") == true)
        let events = response.events
        #expect(events.last == "[DONE]")
        var text = ""
        var finish: String?
        var usage: [String: Int]?
        for event in events.dropLast() {
            let chunk = try #require(try JSONSerialization.jsonObject(with: Data(event.utf8)) as? [String: Any])
            let choices = try #require(chunk["choices"] as? [[String: Any]])
            if choices.isEmpty {
                usage = chunk["usage"] as? [String: Int]
                continue
            }
            #expect(choices.count == 1)
            text += choices[0]["text"] as? String ?? ""
            if let reason = choices[0]["finish_reason"] as? String { finish = reason }
        }
        let choices = try #require(whole["choices"] as? [[String: Any]])
        #expect(text == choices[0]["text"] as? String)
        #expect(finish == "length")
        #expect(usage?["completion_tokens"] == 20)
    }

    @Test("n choices and a batch of prompts are indexed prompt-major; usage counts each prompt once")
    func batchAndN() async throws {
        let server = try TestServer()
        let response = try server.post("/v1/completions", json: body([
            "prompt": [[5, 6, 7], [8, 9, 10, 11]], "n": 2, "max_tokens": 4, "temperature": 0.8, "seed": 7,
            "ignore_eos": true,
        ]))
        await server.stop()
        let json = try response.json()
        let choices = try #require(json["choices"] as? [[String: Any]])
        #expect(choices.map { $0["index"] as? Int } == [0, 1, 2, 3])
        let usage = try usageCounts(json)
        #expect(usage["prompt_tokens"] == 7)
        #expect(usage["completion_tokens"] == 16)
    }

    @Test("stop strings end the text before the match and report it as stop_reason")
    func stopString() async throws {
        let server = try TestServer()
        let first = try server.post("/v1/completions", json: body([
            "prompt": "abc", "max_tokens": 30, "temperature": 0, "ignore_eos": true,
        ])).json()
        let text = try #require((first["choices"] as? [[String: Any]])?.first?["text"] as? String)
        let chars = Array(text)
        try #require(chars.count >= 6, "the tiny model produced too little text to pick a stop string")
        let stop = String(chars[3..<5])
        let expected = String(text[..<text.range(of: stop)!.lowerBound])
        let stopped = try server.post("/v1/completions", json: body([
            "prompt": "abc", "max_tokens": 30, "temperature": 0, "ignore_eos": true, "stop": [stop],
        ])).json()
        await server.stop()
        let choice = try #require((stopped["choices"] as? [[String: Any]])?.first)
        #expect(choice["text"] as? String == expected)
        #expect(choice["finish_reason"] as? String == "stop")
        #expect(choice["stop_reason"] as? String == stop)
    }

    @Test("penalties, logit_bias, allowed_token_ids and include_stop_str_in_output reach the engine; logprobs stay raw")
    func logitAndStopOptions() async throws {
        let server = try TestServer()
        func completion(_ extra: [String: Any]) throws -> [String: Any] {
            let json = try server.post("/v1/completions", json: body([
                "prompt": "abc", "max_tokens": 8, "temperature": 0, "ignore_eos": true, "return_token_ids": true,
            ].merging(extra) { $1 })).json()
            return try #require((json["choices"] as? [[String: Any]])?.first, "no choice in \(json)")
        }
        let plain = try #require(try completion([:])["token_ids"] as? [Int])
        // A bias of 100 makes one token the choice everywhere; its logprob is still the raw one.
        let biased = try completion(["logit_bias": ["42": 100], "logprobs": 0])
        #expect(biased["token_ids"] as? [Int] == Array(repeating: 42, count: 8))
        let raw = try #require((biased["logprobs"] as? [String: Any])?["token_logprobs"] as? [Double])
        #expect(raw.count == 8 && raw.contains { $0 < -0.01 }, "logprobs of the unbiased rows: \(raw)")
        let allowed = try #require(try completion(["allowed_token_ids": [7, 8, 9]])["token_ids"] as? [Int])
        #expect(allowed.count == 8 && allowed.allSatisfy([7, 8, 9].contains))
        let penalised = try #require(try completion(["frequency_penalty": 2, "presence_penalty": 2,
                                                     "repetition_penalty": 1.5])["token_ids"] as? [Int])
        #expect(penalised.count == 8 && Set(penalised).count == 8, "penalties this strong leave no repeat in these 8 tokens: \(penalised)")
        #expect(penalised != plain || Set(plain).count == 8)
        // The stop token's text stays in the output with include_stop_str_in_output.
        let stopped = try completion(["stop_token_ids": [plain[2]], "include_stop_str_in_output": true, "return_token_ids": true])
        let dropped = try completion(["stop_token_ids": [plain[2]]])
        await server.stop()
        let keptText = try #require(stopped["text"] as? String), droppedText = try #require(dropped["text"] as? String)
        #expect(keptText.hasPrefix(droppedText) && keptText.count > droppedText.count)
        #expect(stopped["finish_reason"] as? String == "stop" && stopped["stop_reason"] as? Int == plain[2])
    }

    @Test("echo with logprobs scores the prompt (first token null), with max_tokens 0 too, streamed or not")
    func echoScoresThePrompt() async throws {
        let server = try TestServer()
        func choice(_ extra: [String: Any]) throws -> [String: Any] {
            let json = try server.post("/v1/completions", json: body([
                "prompt": "Hello world, hello", "echo": true, "logprobs": 2, "temperature": 0, "ignore_eos": true,
                "return_token_ids": true,
            ].merging(extra) { $1 })).json()
            return try #require((json["choices"] as? [[String: Any]])?.first, "no choice in \(json)")
        }
        let scoring = try choice(["max_tokens": 0])
        let promptIds = try #require(scoring["prompt_token_ids"] as? [Int])
        let promptLogprobs = try #require(scoring["logprobs"] as? [String: Any])
        let values = try #require(promptLogprobs["token_logprobs"] as? [Any])
        #expect(values.count == promptIds.count && values.first is NSNull)
        #expect(values.dropFirst().allSatisfy { ($0 as? Double).map { $0 <= 0 } ?? false })
        #expect((promptLogprobs["top_logprobs"] as? [Any])?.first is NSNull)
        #expect(scoring["text"] as? String == "Hello world, hello" && scoring["finish_reason"] as? String == "length")
        #expect((scoring["token_ids"] as? [Int])?.isEmpty == true)
        let vllmForm = try #require(scoring["prompt_logprobs"] as? [Any])
        #expect(vllmForm.count == promptIds.count && vllmForm.first is NSNull)
        let second = try #require(vllmForm[1] as? [String: [String: Any]])
        #expect(second[String(promptIds[1])]?["logprob"] as? Double == (values[1] as? Double))

        // With generated tokens the prompt's entries come first, the same numbers.
        let generated = try choice(["max_tokens": 3])
        let both = try #require((generated["logprobs"] as? [String: Any])?["token_logprobs"] as? [Any])
        #expect(both.count == promptIds.count + 3)
        #expect(both.prefix(promptIds.count).dropFirst().map { $0 as? Double } == values.dropFirst().map { $0 as? Double })

        // Streamed: the first chunk carries the prompt and its scores.
        let stream = try server.post("/v1/completions", json: body([
            "prompt": "Hello world, hello", "echo": true, "logprobs": 2, "temperature": 0, "ignore_eos": true,
            "max_tokens": 3, "stream": true,
        ]))
        await server.stop()
        let firstEvent = try #require(stream.events.first)
        let first = try #require(try JSONSerialization.jsonObject(with: Data(firstEvent.utf8)) as? [String: Any])
        let firstChoice = try #require((first["choices"] as? [[String: Any]])?.first)
        let streamed = try #require((firstChoice["logprobs"] as? [String: Any])?["token_logprobs"] as? [Any])
        #expect(streamed.count >= promptIds.count && streamed.first is NSNull)
        #expect((firstChoice["text"] as? String)?.hasPrefix("Hello world, hello") == true)
    }

    @Test("chat answers prompt_logprobs for its rendered prompt, one entry per token, the first null")
    func chatPromptLogprobs() async throws {
        let server = try TestServer()
        let json = try server.post("/v1/chat/completions", json: body([
            "messages": [["role": "user", "content": "Hello there"]], "max_tokens": 2, "temperature": 0, "prompt_logprobs": 1,
        ])).json()
        await server.stop()
        let entries = try #require(json["prompt_logprobs"] as? [Any])
        #expect(entries.count == (try usageCounts(json))["prompt_tokens"])
        #expect(entries.first is NSNull)
        let second = try #require(entries[1] as? [String: [String: Any]])
        #expect((1...2).contains(second.count) && second.values.allSatisfy { ($0["logprob"] as? Double ?? 1) <= 0 })
    }

    @Test("a model whose generation_config sets repetition_penalty (as Qwen's do) serves requests with it as the default")
    func generationConfigPenaltyIsServed() async throws {
        // The tiny model's files beside a Qwen-style generation_config.json (repetition_penalty
        // 1.05, temperature 0.6, top_k 20): before penalties were implemented, every request to
        // such a model was refused.
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("gen-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let tiny = TestServer.fixtures.appendingPathComponent("tiny-llama")
        for name in try FileManager.default.contentsOfDirectory(atPath: tiny.path) {
            try FileManager.default.copyItem(at: tiny.appendingPathComponent(name), to: folder.appendingPathComponent(name))
        }
        try FileManager.default.copyItem(at: TestServer.fixtures.appendingPathComponent("sampling-generation_config.json"),
                                         to: folder.appendingPathComponent("generation_config.json"))
        let server = try TestServer(modelFolder: folder)
        func tokens(_ extra: [String: Any]) throws -> [Int]? {
            let json = try server.post("/v1/completions", json: body([
                "prompt": "abc", "max_tokens": 8, "seed": 7, "ignore_eos": true, "return_token_ids": true,
            ].merging(extra) { $1 })).json()
            return (json["choices"] as? [[String: Any]])?.first?["token_ids"] as? [Int]
        }
        let defaulted = try tokens([:])
        let explicit = try tokens(["repetition_penalty": 1.05, "temperature": 0.6, "top_k": 20, "top_p": 0.95])
        let unpenalised = try tokens(["repetition_penalty": 1, "temperature": 0.6, "top_k": 20, "top_p": 0.95])
        await server.stop()
        #expect(defaulted?.count == 8)
        #expect(defaulted == explicit)
        #expect(unpenalised?.count == 8)
    }

    @Test("logprobs come back per token with the chosen token among the alternatives")
    func logprobs() async throws {
        let server = try TestServer()
        let json = try server.post("/v1/completions", json: body([
            "prompt": "Hi", "max_tokens": 5, "temperature": 0, "logprobs": 2, "ignore_eos": true,
            // Token ids as keys: byte tokens that decode to the same text would collapse in the dict.
            "return_tokens_as_token_ids": true,
        ])).json()
        await server.stop()
        let logprobs = try #require((json["choices"] as? [[String: Any]])?.first?["logprobs"] as? [String: Any])
        let tokens = try #require(logprobs["tokens"] as? [String])
        let values = try #require(logprobs["token_logprobs"] as? [Double])
        let top = try #require(logprobs["top_logprobs"] as? [[String: Double]])
        #expect(tokens.count == 5)
        #expect(values.count == 5)
        #expect(tokens.allSatisfy { $0.hasPrefix("token_id:") })
        for (i, entry) in top.enumerated() {
            #expect(entry.count >= 1 && entry.count <= 3)
            #expect(values[i] <= 0)
            // Greedy: the chosen token is the most likely one.
            #expect(abs((entry.values.max() ?? 0) - values[i]) < 1e-4)
        }
    }

    @Test("echo with max_tokens 0 returns the prompt, streamed or not, and /metrics counts it as vLLM does")
    func echoOnly() async throws {
        let server = try TestServer()
        let request: [String: Any] = ["prompt": "Echo me", "max_tokens": 0, "echo": true]
        let json = try server.post("/v1/completions", json: body(request)).json()
        var streamedRequest = request
        streamedRequest["stream"] = true
        streamedRequest["stream_options"] = ["include_usage": true]
        let streamed = try server.post("/v1/completions", json: body(streamedRequest))
        let usage = try usageCounts(json)
        let expectedPromptTokens = Double(2 * (usage["prompt_tokens"] ?? 0))
        // Counters are updated at the end of an engine step, a moment after the answers.
        let finished = try await server.metric("vllm:request_success_total{engine=\"0\",finished_reason=\"length\"", settlingTo: 2)
        let promptTokens = try await server.metric("vllm:prompt_tokens_total{", settlingTo: expectedPromptTokens)
        await server.stop()
        let choice = try #require((json["choices"] as? [[String: Any]])?.first)
        #expect(choice["text"] as? String == "Echo me")
        #expect(choice["finish_reason"] as? String == "length")
        #expect(usage["completion_tokens"] == 0)
        var text = ""
        for event in streamed.events.dropLast() {
            let chunk = try #require(try JSONSerialization.jsonObject(with: Data(event.utf8)) as? [String: Any])
            text += (chunk["choices"] as? [[String: Any]])?.first?["text"] as? String ?? ""
        }
        #expect(text == "Echo me")
        #expect(streamed.events.last == "[DONE]")
        // vLLM generates one token and drops it: the request is a finished one like any other.
        #expect(finished == 2)
        #expect(promptTokens == expectedPromptTokens)
    }

    @Test("chat renders the template, answers as the assistant, and streams role then content")
    func chat() async throws {
        let server = try TestServer()
        let request: [String: Any] = ["messages": [["role": "user", "content": "Hi"]], "max_tokens": 8,
                                      "temperature": 0, "ignore_eos": true]
        let whole = try server.post("/v1/chat/completions", json: body(request))
        var streamedRequest = request
        streamedRequest["stream"] = true
        let streamed = try server.post("/v1/chat/completions", json: body(streamedRequest))
        let tokenized = try server.post("/tokenize", json: body(["messages": [["role": "user", "content": "Hi"]]])).json()
        await server.stop()
        #expect(whole.status == 200)
        let json = try whole.json()
        #expect(json["object"] as? String == "chat.completion")
        let message = try #require((json["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any])
        #expect(message["role"] as? String == "assistant")
        let usage = try usageCounts(json)
        #expect(usage["prompt_tokens"] == tokenized["count"] as? Int)
        let events = streamed.events
        #expect(events.last == "[DONE]")
        let first = try #require(try JSONSerialization.jsonObject(with: Data(events[0].utf8)) as? [String: Any])
        let delta = try #require((first["choices"] as? [[String: Any]])?.first?["delta"] as? [String: String])
        #expect(delta == ["role": "assistant", "content": ""])
        var content = ""
        for event in events.dropLast() {
            let chunk = try #require(try JSONSerialization.jsonObject(with: Data(event.utf8)) as? [String: Any])
            content += ((chunk["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any])?["content"] as? String ?? ""
        }
        #expect(content == message["content"] as? String)
    }

    @Test("continue_final_message cuts the chat right after the final message, even when its text also occurs in the template's own",
          arguments: ["", "m", ">", "end", "he ", "Hi"])
    func continueFinalMessage(content: String) async throws {
        let server = try TestServer()
        let template = "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
        let chat = try server.post("/tokenize", json: body([
            "messages": [["role": "user", "content": "Hi"], ["role": "assistant", "content": content]],
            "continue_final_message": true, "add_generation_prompt": false, "chat_template": template,
        ])).json()
        let text = "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n" + content
        let plain = try server.post("/tokenize", json: body(["prompt": text, "add_special_tokens": false])).json()
        await server.stop()
        #expect(chat["tokens"] as? [Int] == plain["tokens"] as? [Int])
    }

    @Test("tokenize and detokenize round-trip, and /v1/models lists the served name")
    func utilities() async throws {
        let server = try TestServer()
        let tokens = try server.post("/tokenize", json: body(["prompt": "hello there", "return_token_strs": true])).json()
        let ids = try #require(tokens["tokens"] as? [Int])
        let text = try server.post("/detokenize", json: body(["tokens": ids])).json()
        let models = try server.get("/v1/models").json()
        let health = try server.get("/health")
        let version = try server.get("/version").json()
        await server.stop()
        #expect(text["prompt"] as? String == "hello there")
        #expect((tokens["token_strs"] as? [String])?.count == ids.count)
        #expect(tokens["max_model_len"] as? Int == 256)
        #expect(((models["data"] as? [[String: Any]])?.first?["id"]) as? String == "tiny")
        #expect(health.status == 200 && health.body.isEmpty)
        #expect(version["version"] as? String != nil)
    }
}
