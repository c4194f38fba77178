// vLLM's metric set for one served model: scheduler gauges, token counters, finish reasons,
// latency histograms with vLLM's buckets, and the speculative-decoding counters. Names, help
// texts, labels (`model_name`, `engine="0"`) and buckets follow vLLM so that its Grafana
// dashboards and alert rules work unchanged.

/// Timings and sizes of one finished (sub-)request.
public struct FinishedRequestStats: Sendable, Equatable {
    public var finishReason: FinishReason
    /// Arrival → finish (wall clock).
    public var e2eLatency: Double
    /// First queued → first scheduled.
    public var queueTime: Double
    /// First scheduled → first token.
    public var prefillTime: Double
    /// First token → last token.
    public var decodeTime: Double
    /// First scheduled → last token.
    public var inferenceTime: Double
    public var promptTokens: Int
    public var generationTokens: Int
    /// The request's `max_tokens`, when it sent one.
    public var maxTokensParam: Int?

    public init(finishReason: FinishReason, e2eLatency: Double, queueTime: Double, prefillTime: Double,
                decodeTime: Double, inferenceTime: Double, promptTokens: Int, generationTokens: Int,
                maxTokensParam: Int? = nil) {
        self.finishReason = finishReason
        self.e2eLatency = e2eLatency
        self.queueTime = queueTime
        self.prefillTime = prefillTime
        self.decodeTime = decodeTime
        self.inferenceTime = inferenceTime
        self.promptTokens = promptTokens
        self.generationTokens = generationTokens
        self.maxTokensParam = maxTokensParam
    }
}

/// The served model's metrics. Every update is a lock and a few additions on a pre-created
/// series; nothing is looked up or allocated per token.
public final class ServingMetrics: Sendable {
    public static let timeToFirstTokenBuckets: [Double] = [
        0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80, 160, 640, 2560]
    public static let interTokenLatencyBuckets: [Double] = [
        0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80]
    public static let requestLatencyBuckets: [Double] = [
        0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120, 240, 480, 960, 1920, 7680]
    public static let iterationTokenBuckets: [Double] = [
        1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384]
    public static let requestParamsNBuckets: [Double] = [1, 2, 5, 10, 20]

    /// vLLM's "1-2-5" series up to `maxValue`: 1, 2, 5, 10, 20, 50, ...
    public static func oneTwoFiveBuckets(upTo maxValue: Int) -> [Double] {
        var buckets: [Double] = []
        var scale = 1
        while true {
            for m in [1, 2, 5] {
                let (value, overflow) = m.multipliedReportingOverflow(by: scale)
                if overflow || value > maxValue { return buckets.isEmpty ? [1] : buckets }
                buckets.append(Double(value))
            }
            scale *= 10
        }
    }

    public let registry: MetricsRegistry
    public let modelName: String
    /// Largest draft length tracked per position; nil when no speculator is configured.
    public let numSpeculativeTokens: Int?

    public let requestsRunning: Gauge
    public let requestsWaiting: Gauge
    public let kvCacheUsage: Gauge
    private let gpuCacheUsage: Gauge
    private let prefixCacheQueries: Counter
    private let prefixCacheHits: Counter
    private let preemptions: Counter
    public let promptTokens: Counter
    public let generationTokens: Counter
    private let requestSuccess: [FinishReason: Counter]
    private let requestPromptTokens: Histogram
    private let requestGenerationTokens: Histogram
    private let iterationTokens: Histogram
    private let requestMaxGenerationTokens: Histogram
    private let requestParamsN: Histogram
    private let requestParamsMaxTokens: Histogram
    private let timeToFirstToken: Histogram
    private let timePerOutputToken: Histogram
    private let interTokenLatency: Histogram
    private let requestTimePerOutputToken: Histogram
    private let e2eLatency: Histogram
    private let queueTime: Histogram
    private let inferenceTime: Histogram
    private let prefillTime: Histogram
    private let decodeTime: Histogram
    private let specDrafts: Counter?
    private let specDraftTokens: Counter?
    private let specAcceptedTokens: Counter?
    private let specAcceptedPerPosition: [Counter]
    private let specLog: LockedValue<SpecDecodingLogAggregator>

    /// Registers the whole set in `registry` (a fresh one by default). Spec-decoding counters
    /// exist only when `numSpeculativeTokens` is given, with per-position series 0..<k from the
    /// start.
    public init(modelName: String, maxModelLen: Int, numSpeculativeTokens: Int?,
                registry: MetricsRegistry = MetricsRegistry()) throws(MetricsError) {
        self.registry = registry
        self.modelName = modelName
        self.numSpeculativeTokens = numSpeculativeTokens
        let labels = ["model_name", "engine"]
        let values = [modelName, "0"]
        let r = registry

        if let k = numSpeculativeTokens {
            specDrafts = try r.counter("vllm:spec_decode_num_drafts", help: "Number of spec decoding drafts.",
                                       labelNames: labels).labels(values)
            specDraftTokens = try r.counter("vllm:spec_decode_num_draft_tokens", help: "Number of draft tokens.",
                                            labelNames: labels).labels(values)
            specAcceptedTokens = try r.counter("vllm:spec_decode_num_accepted_tokens",
                                               help: "Number of accepted tokens.", labelNames: labels).labels(values)
            let perPosition = try r.counter("vllm:spec_decode_num_accepted_tokens_per_pos",
                                            help: "Accepted tokens per draft position.",
                                            labelNames: labels + ["position"])
            var series: [Counter] = []
            for position in 0..<max(0, k) { series.append(try perPosition.labels(values + [String(position)])) }
            specAcceptedPerPosition = series
        } else {
            specDrafts = nil
            specDraftTokens = nil
            specAcceptedTokens = nil
            specAcceptedPerPosition = []
        }
        specLog = LockedValue(SpecDecodingLogAggregator(numSpeculativeTokens: numSpeculativeTokens ?? 0))

        requestsRunning = try r.gauge("vllm:num_requests_running", help: "Number of requests in model execution batches.",
                                      labelNames: labels).labels(values)
        requestsWaiting = try r.gauge("vllm:num_requests_waiting", help: "Number of requests waiting to be processed.",
                                      labelNames: labels).labels(values)
        gpuCacheUsage = try r.gauge("vllm:gpu_cache_usage_perc",
                                    help: "GPU KV-cache usage. 1 means 100 percent usage."
                                        + "DEPRECATED: Use vllm:kv_cache_usage_perc instead.",
                                    labelNames: labels).labels(values)
        kvCacheUsage = try r.gauge("vllm:kv_cache_usage_perc", help: "KV-cache usage. 1 means 100 percent usage.",
                                   labelNames: labels).labels(values)
        prefixCacheQueries = try r.counter("vllm:prefix_cache_queries",
                                           help: "Prefix cache queries, in terms of number of queried tokens.",
                                           labelNames: labels).labels(values)
        prefixCacheHits = try r.counter("vllm:prefix_cache_hits",
                                        help: "Prefix cache hits, in terms of number of cached tokens.",
                                        labelNames: labels).labels(values)
        preemptions = try r.counter("vllm:num_preemptions", help: "Cumulative number of preemption from the engine.",
                                    labelNames: labels).labels(values)
        promptTokens = try r.counter("vllm:prompt_tokens", help: "Number of prefill tokens processed.",
                                     labelNames: labels).labels(values)
        generationTokens = try r.counter("vllm:generation_tokens", help: "Number of generation tokens processed.",
                                         labelNames: labels).labels(values)
        let success = try r.counter("vllm:request_success", help: "Count of successfully processed requests.",
                                    labelNames: labels + ["finished_reason"])
        var successSeries: [FinishReason: Counter] = [:]
        for reason in FinishReason.allCases { successSeries[reason] = try success.labels(values + [reason.rawValue]) }
        requestSuccess = successSeries

        let tokenBuckets = Self.oneTwoFiveBuckets(upTo: maxModelLen)
        func histogram(_ name: String, _ help: String, _ buckets: [Double]) throws(MetricsError) -> Histogram {
            try r.histogram(name, help: help, labelNames: labels, buckets: buckets).labels(values)
        }
        requestPromptTokens = try histogram("vllm:request_prompt_tokens", "Number of prefill tokens processed.",
                                            tokenBuckets)
        requestGenerationTokens = try histogram("vllm:request_generation_tokens",
                                                "Number of generation tokens processed.", tokenBuckets)
        iterationTokens = try histogram("vllm:iteration_tokens_total",
                                        "Histogram of number of tokens per engine_step.", Self.iterationTokenBuckets)
        requestMaxGenerationTokens = try histogram("vllm:request_max_num_generation_tokens",
                                                   "Histogram of maximum number of requested generation tokens.",
                                                   tokenBuckets)
        requestParamsN = try histogram("vllm:request_params_n", "Histogram of the n request parameter.",
                                       Self.requestParamsNBuckets)
        requestParamsMaxTokens = try histogram("vllm:request_params_max_tokens",
                                               "Histogram of the max_tokens request parameter.", tokenBuckets)
        timeToFirstToken = try histogram("vllm:time_to_first_token_seconds",
                                         "Histogram of time to first token in seconds.", Self.timeToFirstTokenBuckets)
        timePerOutputToken = try histogram("vllm:time_per_output_token_seconds",
                                           "Histogram of time per output token in seconds.",
                                           Self.interTokenLatencyBuckets)
        interTokenLatency = try histogram("vllm:inter_token_latency_seconds",
                                          "Histogram of inter-token latency in seconds.", Self.interTokenLatencyBuckets)
        requestTimePerOutputToken = try histogram("vllm:request_time_per_output_token_seconds",
                                                  "Histogram of time_per_output_token_seconds per request.",
                                                  Self.interTokenLatencyBuckets)
        e2eLatency = try histogram("vllm:e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.",
                                   Self.requestLatencyBuckets)
        queueTime = try histogram("vllm:request_queue_time_seconds",
                                  "Histogram of time spent in WAITING phase for request.", Self.requestLatencyBuckets)
        inferenceTime = try histogram("vllm:request_inference_time_seconds",
                                      "Histogram of time spent in RUNNING phase for request.",
                                      Self.requestLatencyBuckets)
        prefillTime = try histogram("vllm:request_prefill_time_seconds",
                                    "Histogram of time spent in PREFILL phase for request.", Self.requestLatencyBuckets)
        decodeTime = try histogram("vllm:request_decode_time_seconds",
                                   "Histogram of time spent in DECODE phase for request.", Self.requestLatencyBuckets)
    }

    /// After every engine step: the running and waiting counts and the KV-cache fill (0...1).
    public func recordSchedulerState(running: Int, waiting: Int, kvCacheUsage usage: Double) {
        requestsRunning.set(running)
        requestsWaiting.set(waiting)
        kvCacheUsage.set(usage)
        gpuCacheUsage.set(usage)
    }

    /// Tokens handed to a client, counted before they are sent: a client that has its answer
    /// finds its tokens in `generation_tokens_total` at once. (Counted at the end of the step,
    /// a scrape right after the last answer could miss them.)
    public func recordGeneratedTokens(_ count: Int) {
        generationTokens.increment(by: count)
    }

    /// After every engine step: prompt tokens prefilled, and preemptions; the tokens emitted in the
    /// step (already counted by `recordGeneratedTokens`) join the prompt tokens in the iteration
    /// histogram.
    public func recordIteration(promptTokens prompt: Int, generationTokens generated: Int, preemptions preempted: Int = 0) {
        promptTokens.increment(by: prompt)
        preemptions.increment(by: preempted)
        if prompt + generated > 0 { iterationTokens.observe(Double(prompt + generated)) }
    }

    /// Prefix-cache lookups of a step, in tokens.
    public func recordPrefixCache(queriedTokens: Int, hitTokens: Int) {
        prefixCacheQueries.increment(by: queriedTokens)
        prefixCacheHits.increment(by: hitTokens)
    }

    /// One request's verification in one step: `draftTokens` drafts were scored and the first
    /// `acceptedTokens` accepted (emitted tokens − 1). A step without drafts records nothing.
    public func recordDraftVerification(draftTokens: Int, acceptedTokens: Int) {
        guard draftTokens > 0, let drafts = specDrafts else { return }
        let accepted = min(max(0, acceptedTokens), draftTokens)
        drafts.increment(by: 1.0)
        specDraftTokens?.increment(by: draftTokens)
        specAcceptedTokens?.increment(by: accepted)
        for position in 0..<min(accepted, specAcceptedPerPosition.count) {
            specAcceptedPerPosition[position].increment(by: 1.0)
        }
        specLog.withLock { $0.observe(draftTokens: draftTokens, acceptedTokens: accepted) }
    }

    /// When a request is admitted: its `n` and the most tokens it may generate.
    public func recordRequestParameters(n: Int, maxGenerationTokens: Int) {
        requestParamsN.observe(Double(n))
        requestMaxGenerationTokens.observe(Double(maxGenerationTokens))
    }

    /// Arrival → first output token.
    public func recordFirstToken(seconds: Double) { timeToFirstToken.observe(seconds) }

    /// Time between two engine steps that produced output for a request (one sample per step,
    /// however many tokens speculation emitted in it).
    public func recordInterTokenLatency(seconds: Double) {
        interTokenLatency.observe(seconds)
        timePerOutputToken.observe(seconds)
    }

    /// A finished request: its finish reason, timings and sizes.
    public func recordFinished(_ stats: FinishedRequestStats) {
        requestSuccess[stats.finishReason]?.increment(by: 1.0)
        e2eLatency.observe(stats.e2eLatency)
        queueTime.observe(stats.queueTime)
        prefillTime.observe(stats.prefillTime)
        inferenceTime.observe(stats.inferenceTime)
        decodeTime.observe(stats.decodeTime)
        requestPromptTokens.observe(Double(stats.promptTokens))
        requestGenerationTokens.observe(Double(stats.generationTokens))
        if stats.generationTokens > 1 {
            requestTimePerOutputToken.observe(stats.decodeTime / Double(stats.generationTokens - 1))
        }
        if let m = stats.maxTokensParam { requestParamsMaxTokens.observe(Double(m)) }
    }

    /// vLLM's periodic "SpecDecoding metrics: ..." line for the interval since the last call, or
    /// nil when nothing was drafted (or no speculator is configured).
    public func specDecodingLogLine(elapsedSeconds: Double) -> String? {
        specLog.withLock { $0.logLine(elapsedSeconds: elapsedSeconds) }
    }

    /// The `/metrics` body.
    public func exposition() -> String { registry.exposition() }
}
