import Testing
import Server

@Suite("CompletionRequest decoding into validated values")
struct CompletionRequestTests {
    let context = ValidationContext(servedModelNames: ["smollm2", "alias"], maxModelLen: 256, vocabularySize: 384,
                                    maxSpeculativeTokens: 3)

    func decode(_ json: String, context: ValidationContext? = nil) throws -> CompletionRequest {
        try CompletionRequest.decode(json.bytes, context: context ?? self.context)
    }

    @Test("A minimal request gets the OpenAI defaults and the served model name")
    func defaults() throws {
        let r = try decode(#"{"prompt": "Hello"}"#)
        #expect(r.model == "smollm2")
        #expect(r.prompt == .text("Hello"))
        #expect(r.maxTokens == 16)
        #expect(r.n == 1)
        #expect(!r.echo && !r.stream)
        #expect(r.logprobs == nil && r.promptLogprobs == nil)
        #expect(r.sampling == SamplingSettings())
        #expect(r.stop == StopSettings())
        #expect(r.decoding == DecodingOptions())
        #expect(r.addSpecialTokens)
        #expect(r.streamOptions == StreamOptions())
        #expect(r.numSpeculativeTokens == nil && r.requestID == nil && r.user == nil)
    }

    @Test("The four prompt shapes are told apart; a flat int list is one prompt")
    func promptShapes() throws {
        #expect(try decode(#"{"prompt": "a"}"#).prompt == .text("a"))
        #expect(try decode(#"{"prompt": ["a", "b"]}"#).prompt == .texts(["a", "b"]))
        #expect(try decode(#"{"prompt": [1, 2, 3]}"#).prompt == .tokens([1, 2, 3]))
        #expect(try decode(#"{"prompt": [[1, 2], [3]]}"#).prompt == .tokenBatches([[1, 2], [3]]))
        let batch = try decode(#"{"prompt": [[1, 2], [3]], "n": 2, "temperature": 1}"#)
        #expect(batch.prompt.count == 2)
        #expect(batch.prompt.items == [.tokens([1, 2]), .tokens([3])])
    }

    @Test("Sampling fields are read, and greedy requests switch top-p, top-k and min-p off")
    func samplingFields() throws {
        let r = try decode(#"""
            {"prompt": "x", "temperature": 0.7, "top_p": 0.9, "top_k": 40, "min_p": 0.05, "seed": 42,
             "presence_penalty": 0.5, "frequency_penalty": -0.5, "repetition_penalty": 1.1,
             "logit_bias": {"5": 250, " 7 ": -1.5}, "allowed_token_ids": [1, 2]}
            """#)
        #expect(r.sampling == SamplingSettings(temperature: 0.7, topP: 0.9, topK: 40, minP: 0.05,
                                               repetitionPenalty: 1.1, presencePenalty: 0.5, frequencyPenalty: -0.5,
                                               seed: 42, logitBias: [5: 100, 7: -1.5], allowedTokenIDs: [1, 2]))
        let greedy = try decode(#"{"prompt": "x", "temperature": 0, "top_p": 0.5, "top_k": 3, "min_p": 0.2}"#)
        #expect(greedy.sampling.isGreedy)
        #expect(greedy.sampling.topP == 1 && greedy.sampling.topK == 0 && greedy.sampling.minP == 0)
    }

    @Test("A tiny positive temperature is raised to 0.01, and top_k -1 and seed -1 mean off")
    func normalisation() throws {
        let r = try decode(#"{"prompt": "x", "temperature": 0.000001, "top_k": -1, "seed": -1}"#)
        #expect(r.sampling.temperature == 0.01)
        #expect(!r.sampling.isGreedy)
        #expect(r.sampling.topK == 0)
        #expect(r.sampling.seed == nil)
    }

    @Test("Server defaults fill absent sampling fields; request values win")
    func serverDefaults() throws {
        var ctx = context
        ctx.samplingDefaults = SamplingDefaults(temperature: 0.6, topP: 0.95, topK: 20, minP: 0.1,
                                                repetitionPenalty: 1.05, stopTokenIDs: [7, 9])
        let r = try decode(#"{"prompt": "x", "top_p": 0.5, "stop_token_ids": [9, 3, 3]}"#, context: ctx)
        #expect(r.sampling.temperature == 0.6)
        #expect(r.sampling.topP == 0.5)
        #expect(r.sampling.topK == 20)
        #expect(r.sampling.minP == 0.1)
        #expect(r.sampling.repetitionPenalty == 1.05)
        #expect(r.stop.tokenIDs == [9, 3, 7])
    }

    @Test("A server default temperature of 0 makes n > 1 a greedy-sampling error")
    func greedyDefaultWithN() throws {
        var ctx = context
        ctx.samplingDefaults = SamplingDefaults(temperature: 0)
        #expect(throws: APIError.badRequest("n must be 1 when using greedy sampling, got 2.")) {
            try decode(#"{"prompt": "x", "n": 2}"#, context: ctx)
        }
    }

    @Test("Stop settings: a bare string is a one-element list; include_stop_str_in_output is kept")
    func stopSettings() throws {
        let r = try decode(#"{"prompt": "x", "stop": "END", "min_tokens": 2, "ignore_eos": true}"#)
        #expect(r.stop.strings == ["END"])
        #expect(r.stop.minTokens == 2 && r.stop.ignoreEOS && !r.stop.includeStopStringInOutput)
        let list = try decode(#"{"prompt": "x", "stop": ["a", "ünï"], "include_stop_str_in_output": false}"#)
        #expect(list.stop.strings == ["a", "ünï"])
        let kept = try decode(#"{"prompt": "x", "stop": ["abcdef"], "include_stop_str_in_output": true}"#)
        #expect(kept.stop.includeStopStringInOutput)
    }

    @Test("include_usage counts only with stream_options, continuous stats only with include_usage")
    func streamOptions() throws {
        let r = try decode(#"{"prompt": "x", "stream": true, "stream_options": {"include_usage": true, "continuous_usage_stats": true}}"#)
        #expect(r.stream && r.streamOptions == StreamOptions(includeUsage: true, continuousUsageStats: true))
        let noUsage = try decode(#"{"prompt": "x", "stream": true, "stream_options": {"continuous_usage_stats": true}}"#)
        #expect(noUsage.streamOptions == StreamOptions())
        let absent = try decode(#"{"prompt": "x", "stream": true}"#)
        #expect(absent.streamOptions == StreamOptions())
        var forced = context
        forced.forceIncludeUsage = true
        #expect(try decode(#"{"prompt": "x", "stream": true}"#, context: forced).streamOptions
                == StreamOptions(includeUsage: true, continuousUsageStats: true))
    }

    @Test("echo makes prompt_logprobs default to logprobs, and allows max_tokens 0")
    func echo() throws {
        let r = try decode(#"{"prompt": "x", "echo": true, "logprobs": 3, "max_tokens": 0}"#)
        #expect(r.echo && r.maxTokens == 0)
        #expect(r.logprobs == 3 && r.promptLogprobs == 3)
    }

    @Test("Extensions and vLLM extras are carried through")
    func extras() throws {
        let r = try decode(#"""
            {"prompt": "x", "model": "alias", "num_speculative_tokens": 2, "request_id": "abc", "user": "u",
             "skip_special_tokens": false, "spaces_between_special_tokens": false, "add_special_tokens": false,
             "truncate_prompt_tokens": -1, "return_token_ids": true, "return_tokens_as_token_ids": true,
             "max_tokens": null}
            """#)
        #expect(r.model == "smollm2")
        #expect(r.numSpeculativeTokens == 2)
        #expect(r.requestID == "abc" && r.user == "u")
        #expect(r.decoding == DecodingOptions(skipSpecialTokens: false, spacesBetweenSpecialTokens: false))
        #expect(!r.addSpecialTokens)
        #expect(r.truncatePromptTokens == -1)
        #expect(r.returnTokenIDs && r.returnTokensAsTokenIDs)
        #expect(r.maxTokens == 16)
    }

    @Test("A repeated key takes its last value, as Python's json does")
    func duplicateKeys() throws {
        #expect(try decode(#"{"prompt": "x", "temperature": 5, "temperature": 0.5}"#).sampling.temperature == 0.5)
    }

    @Test("String escapes, surrogate pairs and raw UTF-8 decode exactly")
    func unicode() throws {
        let r = try decode(#"{"prompt": "caf\u00e9 \ud83d\ude00 \"q\" \\ \n\t/ naïve 日本"}"#)
        #expect(r.prompt == .text("café 😀 \"q\" \\ \n\t/ naïve 日本"))
    }

    @Test("Bodies that are not valid JSON or UTF-8 are 400s, never crashes")
    func malformedBodies() {
        let bad: [[UInt8]] = [
            Array(#"{"prompt": "\#u{00}"}"#.utf8), [0x7B, 0x22, 0x70, 0x22, 0x3A, 0x22, 0xFF, 0x22, 0x7D],
            Array(#"{"prompt": "x"} extra"#.utf8), Array(#"{"prompt": "\x"}"#.utf8), Array(#"{"prompt": "\u12"}"#.utf8),
            Array(#"{"prompt": 01}"#.utf8), Array(#"{"prompt": 1.}"#.utf8), Array(#"{"prompt": -}"#.utf8),
            Array(#"{"prompt" "x"}"#.utf8), Array(#"{"prompt": "x""#.utf8), Array("{".utf8),
            Array(String(repeating: "[", count: 100_000).utf8),
        ]
        for body in bad {
            #expect(throws: APIError.self) { try CompletionRequest.decode(body, context: context) }
            let status = (try? CompletionRequest.decode(body, context: context)).map { _ in 200 } ?? 400
            #expect(status == 400)
        }
    }

    @Test("Deeply nested unknown fields are refused with a 400 at the depth limit")
    func depthLimit() throws {
        let deep = #"{"prompt": "x", "extra": "# + String(repeating: "[", count: 70) + String(repeating: "]", count: 70) + "}"
        let error = #expect(throws: APIError.self) { try decode(deep) }
        #expect(error?.status == 400)
        #expect(error?.message.contains("Nesting deeper than 64 levels") == true)
        let shallow = #"{"prompt": "x", "extra": "# + String(repeating: "[", count: 30) + String(repeating: "]", count: 30) + "}"
        #expect(try decode(shallow).prompt == .text("x"))
    }
}
