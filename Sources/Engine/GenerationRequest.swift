/// What a client asks of the engine, in token ids (the server tokenizes).
public struct GenerationRequest: Sendable {
    public var prompt: [Int]
    public var sampling: SamplingParameters
    /// Tokens to generate at most.
    public var maxTokens: Int
    /// EOS and stop tokens are ignored until this many tokens were generated.
    public var minTokens: Int
    public var stopTokenIds: Set<Int>
    /// Generation ends at the first of these strings found in the output text (the text is cut
    /// before it, or after it with `includeStopStringInOutput`).
    public var stopStrings: [String]
    public var ignoreEOS: Bool
    /// Keep the matched stop string, or the text of the stop token or EOS that ended the request,
    /// in the output text (vLLM's `include_stop_str_in_output`).
    public var includeStopStringInOutput: Bool
    /// Leave special tokens (`<|im_end|>`) out of the output text (vLLM's default).
    public var skipSpecialTokens: Bool
    /// Return log-probabilities of each emitted token and this many alternatives.
    public var logprobs: Int?
    /// Return log-probabilities of each prompt token after the first (given the tokens before
    /// it) and this many alternatives: vLLM's `prompt_logprobs`, and `echo` with `logprobs`.
    public var promptLogprobs: Int?
    /// Pins the number of draft tokens per step (0 = plain decoding); nil lets the engine adapt.
    public var speculativeTokens: Int?

    public init(prompt: [Int], sampling: SamplingParameters = .greedy, maxTokens: Int, minTokens: Int = 0,
                stopTokenIds: Set<Int> = [], stopStrings: [String] = [], ignoreEOS: Bool = false,
                includeStopStringInOutput: Bool = false, skipSpecialTokens: Bool = true,
                logprobs: Int? = nil, promptLogprobs: Int? = nil, speculativeTokens: Int? = nil) {
        self.prompt = prompt
        self.sampling = sampling
        self.maxTokens = maxTokens
        self.minTokens = minTokens
        self.stopTokenIds = stopTokenIds
        self.stopStrings = stopStrings
        self.ignoreEOS = ignoreEOS
        self.includeStopStringInOutput = includeStopStringInOutput
        self.skipSpecialTokens = skipSpecialTokens
        self.logprobs = logprobs
        self.promptLogprobs = promptLogprobs
        self.speculativeTokens = speculativeTokens
    }

    /// What is wrong with this request's limits and sampling parameters, or nil. The server
    /// answers such requests with a 400 before they get here; this keeps every other caller
    /// (the CLI, the library) from running a request whose meaning is undefined.
    public var problem: String? {
        let s = sampling
        if maxTokens < 1 { return "max_tokens must be at least 1, got \(maxTokens)" }
        if minTokens < 0 || minTokens > maxTokens { return "min_tokens must be in [0, max_tokens=\(maxTokens)], got \(minTokens)" }
        if !(s.temperature.isFinite && s.temperature >= 0) { return "temperature must be a non-negative number, got \(s.temperature)" }
        if !(s.topP > 0 && s.topP <= 1) { return "top_p must be in (0, 1], got \(s.topP)" }
        if s.topK < -1 { return "top_k must be -1 or 0 (all tokens) or at least 1, got \(s.topK)" }
        if !(s.minP >= 0 && s.minP <= 1) { return "min_p must be in [0, 1], got \(s.minP)" }
        if !(s.repetitionPenalty.isFinite && s.repetitionPenalty > 0) {
            return "repetition_penalty must be a finite number greater than zero, got \(s.repetitionPenalty)"
        }
        if !(s.presencePenalty >= -2 && s.presencePenalty <= 2) { return "presence_penalty must be in [-2, 2], got \(s.presencePenalty)" }
        if !(s.frequencyPenalty >= -2 && s.frequencyPenalty <= 2) {
            return "frequency_penalty must be in [-2, 2], got \(s.frequencyPenalty)"
        }
        if let bad = s.logitBias.first(where: { !$0.value.isFinite }) { return "logit_bias of token \(bad.key) is not a finite number" }
        if let allowed = s.allowedTokenIds, allowed.isEmpty { return "allowed_token_ids must not be empty" }
        if let logprobs, logprobs < 0 { return "logprobs must be 0 or more, got \(logprobs)" }
        if let promptLogprobs, promptLogprobs < 0 { return "prompt_logprobs must be 0 or more, got \(promptLogprobs)" }
        if let speculativeTokens, speculativeTokens < 0 {
            return "the number of speculative tokens must be non-negative, got \(speculativeTokens)"
        }
        return nil
    }
}

public enum FinishReason: String, Sendable, Equatable {
    /// EOS, a stop token or a stop string.
    case stop
    /// `max_tokens` or the context length.
    case length
    /// Cancelled (client gone, server shutting down) or failed.
    case abort
}

/// What stopped a request with `FinishReason.stop` (OpenAI's `stop_reason`).
public enum StopReason: Sendable, Equatable {
    case eos
    case token(Int)
    case string(String)
}

/// Log-probability of an emitted token and the most likely alternatives at its position.
public struct TokenLogprob: Sendable, Equatable {
    public let token: Int
    public let logprob: Float
    /// 1-based rank of `token`: how many tokens are at least as likely (vLLM's rule).
    public let rank: Int
    /// The most likely tokens, most likely first (rank = position + 1).
    public let top: [Alternative]

    public struct Alternative: Sendable, Equatable {
        public let token: Int
        public let logprob: Float
    }
}

/// Acceptance counters, per request and in total.
public struct SpeculationStats: Sendable, Equatable {
    /// Verification steps that checked at least one draft token.
    public var drafts = 0
    public var draftTokens = 0
    public var acceptedTokens = 0
    /// `acceptedPerPosition[i]`: drafts whose token at position i was accepted.
    public var acceptedPerPosition: [Int] = []
    /// Verifier passes that emitted tokens for the request, and the tokens they emitted.
    public var verifierSteps = 0
    public var emittedTokens = 0

    public init() {}

    /// Emitted tokens per verifier pass (1 without speculation).
    public var meanAcceptanceLength: Double {
        verifierSteps == 0 ? 0 : Double(emittedTokens) / Double(verifierSteps)
    }

    /// vLLM's definition: 1 + accepted / drafts.
    public var vllmAcceptanceLength: Double {
        drafts == 0 ? 1 : 1 + Double(acceptedTokens) / Double(drafts)
    }

    mutating func record(draftCount: Int, accepted: Int) {
        guard draftCount > 0 else { return }
        drafts += 1
        draftTokens += draftCount
        acceptedTokens += accepted
        if acceptedPerPosition.count < draftCount {
            acceptedPerPosition.append(contentsOf: repeatElement(0, count: draftCount - acceptedPerPosition.count))
        }
        for position in 0..<accepted { acceptedPerPosition[position] += 1 }
    }

    /// Back to zero, keeping `acceptedPerPosition`'s storage.
    mutating func reset() {
        drafts = 0
        draftTokens = 0
        acceptedTokens = 0
        acceptedPerPosition.removeAll(keepingCapacity: true)
        verifierSteps = 0
        emittedTokens = 0
    }

    public mutating func add(_ other: SpeculationStats) {
        drafts += other.drafts
        draftTokens += other.draftTokens
        acceptedTokens += other.acceptedTokens
        verifierSteps += other.verifierSteps
        emittedTokens += other.emittedTokens
        if acceptedPerPosition.count < other.acceptedPerPosition.count {
            acceptedPerPosition += Array(repeating: 0, count: other.acceptedPerPosition.count - acceptedPerPosition.count)
        }
        for (index, value) in other.acceptedPerPosition.enumerated() { acceptedPerPosition[index] += value }
    }
}

/// Output of one engine step for one request.
public struct GenerationEvent: Sendable {
    public let requestId: Int
    /// Tokens emitted this step (after stop handling).
    public let tokens: [Int]
    /// Text that became final this step (stop-string prefixes are held back until resolved).
    public let text: String
    public let logprobs: [TokenLogprob]
    /// On the first event after the prompt ran, for requests that asked for `promptLogprobs`:
    /// one entry per prompt token after the first.
    public var promptLogprobs: [TokenLogprob]? = nil
    public let finish: FinishReason?
    public let stopReason: StopReason?
    /// Set on the finishing event.
    public let stats: SpeculationStats?
    public let promptTokens: Int
    public let generatedTokens: Int
    /// On the finishing event of an engine with `captureLayers`: the captured layers' outputs
    /// for every position of prompt + output (`positions × layers × hidden`, positions in
    /// order, layers in the configured order). Every position is there: the final token, never
    /// fed while generating, is run once more when the request finishes (a cache always has
    /// room for it).
    public var capturedStates: [Float]? = nil
}

/// Turns emitted token ids into text incrementally, never splitting a UTF-8 character.
public protocol TextStream {
    mutating func append(_ token: Int) -> String
    mutating func finish() -> String
}

/// What one engine step did, for metrics that are updated as the work happens.
public struct StepReport: Sendable {
    /// Verifier rows (prompt chunks, last tokens and drafts).
    public var scheduledTokens = 0
    public var prefillTokens = 0
    /// Drafts verified this step and how many of their tokens were accepted.
    public var speculation = SpeculationStats()
    /// The planner's predictions against the steps so far (totals since the engine started).
    public var plannerAudit = PlannerAudit()
    /// Steps the confidence gate ran in and gated drafts it dropped (totals since the engine started).
    public var gatedSteps = 0
    public var gatedDraftsDropped = 0
    public init() {}

    /// Starts the report of a new step: the per-step counts go to zero (the totals are set by
    /// the step), and the acceptance counts keep their storage.
    mutating func startStep() {
        scheduledTokens = 0
        prefillTokens = 0
        speculation.reset()
    }
}
