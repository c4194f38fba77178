import Foundation

// vLLM resolves every sampling field as request value → server default → OpenAI default, the
// server defaults coming from the model's generation_config.json unless that is switched off.

/// Server-side defaults for sampling fields a request leaves out (nil = OpenAI default).
public struct SamplingDefaults: Sendable, Equatable {
    public var temperature: Double?
    public var topP: Double?
    public var topK: Int?
    public var minP: Double?
    public var repetitionPenalty: Double?
    /// `max_new_tokens` from the generation config: an upper cap on any request's `max_tokens`.
    public var maxTokensCap: Int?
    /// Extra stop ids (further EOS ids) merged into every request's `stop_token_ids`.
    public var stopTokenIDs: [Int]

    public init(temperature: Double? = nil, topP: Double? = nil, topK: Int? = nil, minP: Double? = nil,
                repetitionPenalty: Double? = nil, maxTokensCap: Int? = nil, stopTokenIDs: [Int] = []) {
        self.temperature = temperature
        self.topP = topP
        self.topK = topK
        self.minP = minP
        self.repetitionPenalty = repetitionPenalty
        self.maxTokensCap = maxTokensCap
        self.stopTokenIDs = stopTokenIDs
    }

    /// Reads a Hugging Face `generation_config.json`: `temperature`, `top_p`, `top_k`, `min_p`,
    /// `repetition_penalty`, `max_new_tokens`, and `eos_token_id` (an int or a list; ids other
    /// than `primaryEOS` become extra stop ids). Other keys (including `do_sample`) are ignored,
    /// as in vLLM.
    public init(generationConfig data: Data, primaryEOS: Int?) throws(ConfigurationError) {
        let json: RequestJSON
        do { json = try RequestJSONParser.parse(Array(data)) } catch {
            throw ConfigurationError(path: "generation_config", problem: "is not valid JSON: \(error.reason) at byte \(error.offset)")
        }
        guard case .object = json else {
            throw ConfigurationError(path: "generation_config", problem: "must be a JSON object")
        }
        func number(_ key: String) throws(ConfigurationError) -> Double? {
            guard let v = json.member(key), !v.isNull else { return nil }
            guard case .number(let n) = v, n.doubleValue.isFinite else {
                throw ConfigurationError(path: "generation_config.\(key)", problem: "must be a number")
            }
            return n.doubleValue
        }
        func integer(_ key: String) throws(ConfigurationError) -> Int? {
            guard let v = json.member(key), !v.isNull else { return nil }
            guard case .number(let n) = v, let i = n.int64Value else {
                throw ConfigurationError(path: "generation_config.\(key)", problem: "must be an integer")
            }
            return Int(i)
        }
        self.init()
        temperature = try number("temperature")
        topP = try number("top_p")
        topK = try integer("top_k")
        minP = try number("min_p")
        repetitionPenalty = try number("repetition_penalty")
        maxTokensCap = try integer("max_new_tokens")
        switch json.member("eos_token_id") {
        case .number(let n)?:
            if let id = n.int64Value, Int(id) != primaryEOS { stopTokenIDs = [Int(id)] }
        case .array(let ids)?:
            for (i, element) in ids.enumerated() {
                guard case .number(let n) = element, let id = n.int64Value else {
                    throw ConfigurationError(path: "generation_config.eos_token_id[\(i)]", problem: "must be an integer")
                }
                if Int(id) != primaryEOS, !stopTokenIDs.contains(Int(id)) { stopTokenIDs.append(Int(id)) }
            }
        case nil, .null?: break
        default:
            throw ConfigurationError(path: "generation_config.eos_token_id", problem: "must be an integer or a list of integers")
        }
    }
}
