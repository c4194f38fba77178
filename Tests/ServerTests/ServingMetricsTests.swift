import Foundation
import Testing
import Server

@Suite("vLLM's metric set: names, labels, buckets and update rules")
struct ServingMetricsTests {
    func sample(_ text: String, _ line: String) -> Double? {
        for l in text.split(separator: "\n") where l.hasPrefix(line + " ") {
            return Double(l.dropFirst(line.count + 1))
        }
        return nil
    }

    func makeMetrics(k: Int? = 3) throws -> ServingMetrics {
        try ServingMetrics(modelName: "smollm2", maxModelLen: 2048, numSpeculativeTokens: k,
                           registry: MetricsRegistry(clock: { 1_733_000_000 }))
    }

    @Test("Draft verification counts drafts, draft tokens, accepted tokens and per-position acceptance")
    func specDecodeCounters() throws {
        let m = try makeMetrics()
        m.recordDraftVerification(draftTokens: 3, acceptedTokens: 2)
        m.recordDraftVerification(draftTokens: 3, acceptedTokens: 3)
        m.recordDraftVerification(draftTokens: 2, acceptedTokens: 0)  // trimmed draft, all rejected
        m.recordDraftVerification(draftTokens: 0, acceptedTokens: 0)  // no drafts: not a draft
        let text = m.exposition()
        let labels = #"{engine="0",model_name="smollm2"}"#
        #expect(sample(text, "vllm:spec_decode_num_drafts_total" + labels) == 3)
        #expect(sample(text, "vllm:spec_decode_num_draft_tokens_total" + labels) == 8)
        #expect(sample(text, "vllm:spec_decode_num_accepted_tokens_total" + labels) == 5)
        let perPos = "vllm:spec_decode_num_accepted_tokens_per_pos_total"
        #expect(sample(text, perPos + #"{engine="0",model_name="smollm2",position="0"}"#) == 2)
        #expect(sample(text, perPos + #"{engine="0",model_name="smollm2",position="1"}"#) == 2)
        #expect(sample(text, perPos + #"{engine="0",model_name="smollm2",position="2"}"#) == 1)
        #expect(sample(text, "vllm:spec_decode_num_drafts_created" + labels) == 1_733_000_000)
    }

    @Test("Without a speculator there are no spec-decode families; per-position series exist from the start")
    func specDecodePresence() throws {
        #expect(!(try makeMetrics(k: nil)).exposition().contains("spec_decode"))
        let fresh = try makeMetrics(k: 2).exposition()
        #expect(fresh.contains(#"vllm:spec_decode_num_accepted_tokens_per_pos_total{engine="0",model_name="smollm2",position="1"} 0.0"#))
        #expect(!fresh.contains(#"position="2""#))
    }

    @Test("Finished requests feed finish reasons, latency histograms and the per-request TPOT")
    func finishedRequests() throws {
        let m = try makeMetrics()
        m.recordFinished(FinishedRequestStats(finishReason: .stop, e2eLatency: 1.2, queueTime: 0.1, prefillTime: 0.2,
                                              decodeTime: 0.9, inferenceTime: 1.1, promptTokens: 6,
                                              generationTokens: 10, maxTokensParam: 16))
        m.recordFinished(FinishedRequestStats(finishReason: .abort, e2eLatency: 0.2, queueTime: 0, prefillTime: 0,
                                              decodeTime: 0, inferenceTime: 0, promptTokens: 3, generationTokens: 1))
        let text = m.exposition()
        func success(_ reason: String) -> Double? {
            sample(text, #"vllm:request_success_total{engine="0",finished_reason="\#(reason)",model_name="smollm2"}"#)
        }
        #expect(success("stop") == 1 && success("abort") == 1 && success("length") == 0 && success("error") == 0)
        let labels = #"{engine="0",model_name="smollm2"}"#
        #expect(sample(text, "vllm:e2e_request_latency_seconds_count" + labels) == 2)
        #expect(sample(text, "vllm:e2e_request_latency_seconds_sum" + labels) == 1.4)
        #expect(sample(text, #"vllm:e2e_request_latency_seconds_bucket{engine="0",le="0.3",model_name="smollm2"}"#) == 1)
        #expect(sample(text, #"vllm:e2e_request_latency_seconds_bucket{engine="0",le="1.5",model_name="smollm2"}"#) == 2)
        #expect(sample(text, "vllm:request_time_per_output_token_seconds_count" + labels) == 1)
        #expect(sample(text, "vllm:request_time_per_output_token_seconds_sum" + labels) == 0.1)
        #expect(sample(text, "vllm:request_params_max_tokens_count" + labels) == 1)
        #expect(sample(text, "vllm:request_prompt_tokens_sum" + labels) == 9)
    }

    @Test("TTFT, inter-token latency (also under its old name) and scheduler gauges")
    func latenciesAndGauges() throws {
        let m = try makeMetrics()
        m.recordFirstToken(seconds: 0.03)
        m.recordInterTokenLatency(seconds: 0.02)
        m.recordInterTokenLatency(seconds: 0.2)
        m.recordSchedulerState(running: 2, waiting: 5, kvCacheUsage: 0.25)
        m.recordGeneratedTokens(4)
        m.recordIteration(promptTokens: 6, generationTokens: 4, preemptions: 1)
        m.recordRequestParameters(n: 2, maxGenerationTokens: 32)
        let text = m.exposition()
        let labels = #"{engine="0",model_name="smollm2"}"#
        #expect(sample(text, #"vllm:time_to_first_token_seconds_bucket{engine="0",le="0.04",model_name="smollm2"}"#) == 1)
        #expect(sample(text, #"vllm:time_to_first_token_seconds_bucket{engine="0",le="0.02",model_name="smollm2"}"#) == 0)
        #expect(sample(text, "vllm:inter_token_latency_seconds_count" + labels) == 2)
        #expect(sample(text, "vllm:time_per_output_token_seconds_count" + labels) == 2)
        #expect(sample(text, "vllm:num_requests_running" + labels) == 2)
        #expect(sample(text, "vllm:num_requests_waiting" + labels) == 5)
        #expect(sample(text, "vllm:kv_cache_usage_perc" + labels) == 0.25)
        #expect(sample(text, "vllm:gpu_cache_usage_perc" + labels) == 0.25)
        #expect(sample(text, "vllm:prompt_tokens_total" + labels) == 6)
        #expect(sample(text, "vllm:generation_tokens_total" + labels) == 4)
        #expect(sample(text, "vllm:num_preemptions_total" + labels) == 1)
        #expect(sample(text, #"vllm:iteration_tokens_total_bucket{engine="0",le="16.0",model_name="smollm2"}"#) == 1)
        #expect(sample(text, #"vllm:request_params_n_bucket{engine="0",le="2.0",model_name="smollm2"}"#) == 1)
        #expect(sample(text, "vllm:request_max_num_generation_tokens_sum" + labels) == 32)
    }

    @Test("Histograms use vLLM's bucket lists; token histograms use the 1-2-5 series up to max_model_len")
    func buckets() throws {
        #expect(ServingMetrics.oneTwoFiveBuckets(upTo: 100) == [1, 2, 5, 10, 20, 50, 100])
        #expect(ServingMetrics.oneTwoFiveBuckets(upTo: 2048) == [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000])
        #expect(ServingMetrics.timeToFirstTokenBuckets.count == 22 && ServingMetrics.timeToFirstTokenBuckets.last == 2560)
        #expect(ServingMetrics.interTokenLatencyBuckets.count == 19 && ServingMetrics.interTokenLatencyBuckets.first == 0.01)
        #expect(ServingMetrics.requestLatencyBuckets.count == 21 && ServingMetrics.requestLatencyBuckets.last == 7680)
        let text = try makeMetrics().exposition()
        #expect(text.contains(#"vllm:request_prompt_tokens_bucket{engine="0",le="2000.0",model_name="smollm2"} 0.0"#))
        #expect(text.contains(#"vllm:e2e_request_latency_seconds_bucket{engine="0",le="7680.0",model_name="smollm2"} 0.0"#))
    }

    @Test("Every family a vLLM dashboard reads is exposed, with HELP and TYPE lines")
    func familyNames() throws {
        let m = try makeMetrics()
        let text = m.exposition()
        for (name, type) in [("vllm:num_requests_running", "gauge"), ("vllm:num_requests_waiting", "gauge"),
                             ("vllm:kv_cache_usage_perc", "gauge"), ("vllm:prompt_tokens_total", "counter"),
                             ("vllm:generation_tokens_total", "counter"), ("vllm:request_success_total", "counter"),
                             ("vllm:prefix_cache_queries_total", "counter"), ("vllm:prefix_cache_hits_total", "counter"),
                             ("vllm:time_to_first_token_seconds", "histogram"),
                             ("vllm:inter_token_latency_seconds", "histogram"),
                             ("vllm:e2e_request_latency_seconds", "histogram"),
                             ("vllm:request_queue_time_seconds", "histogram"),
                             ("vllm:request_prefill_time_seconds", "histogram"),
                             ("vllm:request_decode_time_seconds", "histogram"),
                             ("vllm:request_inference_time_seconds", "histogram"),
                             ("vllm:spec_decode_num_drafts_total", "counter")] {
            #expect(text.contains("# TYPE \(name) \(type)\n"), "missing \(name)")
        }
        #expect(MetricsRegistry.contentType == "text/plain; version=0.0.4; charset=utf-8")
        // For scripts/check_metrics.py: SERVER_METRICS_DUMP=/tmp/m.txt swift test --filter familyNames
        if let path = ProcessInfo.processInfo.environment["SERVER_METRICS_DUMP"] {
            m.recordDraftVerification(draftTokens: 3, acceptedTokens: 2)
            m.recordFinished(FinishedRequestStats(finishReason: .length, e2eLatency: 2, queueTime: 0.1, prefillTime: 0.3,
                                                  decodeTime: 1.5, inferenceTime: 1.8, promptTokens: 20,
                                                  generationTokens: 16, maxTokensParam: 16))
            try m.exposition().write(toFile: path, atomically: true, encoding: .utf8)
        }
    }

    @Test("The SpecDecoding log line has vLLM's wording and resets after each interval")
    func logLine() throws {
        var aggregator = SpecDecodingLogAggregator(numSpeculativeTokens: 3)
        #expect(aggregator.logLine(elapsedSeconds: 10) == nil)
        aggregator.observe(draftTokens: 3, acceptedTokens: 3)
        aggregator.observe(draftTokens: 3, acceptedTokens: 1)
        aggregator.observe(draftTokens: 3, acceptedTokens: 0)
        aggregator.observe(draftTokens: 3, acceptedTokens: 9)  // clamped to the 3 drafted
        #expect(aggregator.drafts == 4 && aggregator.acceptedPerPosition == [3, 2, 2])
        #expect(aggregator.logLine(elapsedSeconds: 2) == "SpecDecoding metrics: Mean acceptance length: 2.75, "
                + "Accepted throughput: 3.5 tokens/s, Drafted throughput: 6.0 tokens/s, Accepted: 7 tokens, "
                + "Drafted: 12 tokens, Per-position acceptance rate: 0.750, 0.500, 0.500, Avg Draft acceptance rate: 58.3%")
        #expect(aggregator.drafts == 0 && aggregator.logLine(elapsedSeconds: 2) == nil)

        let m = try makeMetrics()
        m.recordDraftVerification(draftTokens: 2, acceptedTokens: 1)
        #expect(m.specDecodingLogLine(elapsedSeconds: 1)?.hasPrefix("SpecDecoding metrics: Mean acceptance length: 2.00,") == true)
        #expect(m.specDecodingLogLine(elapsedSeconds: 1) == nil)
    }
}
