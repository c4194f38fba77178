import Engine
import Foundation

// The JSON form of `ServerConfiguration`: snake_case keys as in config/server.json.

extension ServerConfiguration: Codable {
    static let topLevelKeys: Set<String> = [
        "host", "port", "model", "served_model_name", "speculator", "num_speculative_tokens", "confidence_gate",
        "quantized_weights", "max_batch", "max_queue", "max_model_len", "generation_config", "api_key", "allowed_origins",
        "registry", "threads", "timeouts", "limits", "log_level", "metrics_log_interval_seconds"]

    public init(from decoder: any Decoder) throws {
        let c: KeyedDecodingContainer<ConfigKey>
        do { c = try decoder.container(keyedBy: ConfigKey.self) } catch {
            throw ConfigurationError(path: configPath(decoder.codingPath), problem: "must be a JSON object")
        }
        try c.rejectUnknownKeys(Self.topLevelKeys)
        var s = ServerConfiguration()
        s.host = try c.value("host", String.self, expected: "a string", default: s.host)
        s.port = try c.value("port", Int.self, expected: "an integer", default: s.port)
        s.model = try c.value("model", String.self, expected: "a string", default: s.model)
        s.servedModelName = try c.optional("served_model_name", String.self, expected: "a string or null")
        if c.contains(ConfigKey("speculator")) {
            s.speculator = try c.optional("speculator", String.self, expected: "a string or null")
        }
        s.numSpeculativeTokens = try Self.decodeSpeculativeTokens(c)
        // "speculator": null serves the verifier alone: the default "adaptive" then means no drafts
        // (only a draft length the file itself gives without a speculator is an error).
        if s.speculator == nil, !c.contains(ConfigKey("num_speculative_tokens")) { s.numSpeculativeTokens = .fixed(0) }
        s.confidenceGate = try c.value("confidence_gate", Bool.self, expected: "true or false", default: s.confidenceGate)
        s.verifierWeights = try Self.decodeVerifierWeights(c)
        s.maxBatch = try c.value("max_batch", Int.self, expected: "an integer", default: s.maxBatch)
        s.maxQueue = try c.value("max_queue", Int.self, expected: "an integer", default: s.maxQueue)
        if c.contains(ConfigKey("max_model_len")) {
            s.maxModelLen = try c.optional("max_model_len", Int.self, expected: "an integer or null")
        }
        s.generationConfig = try c.value("generation_config", GenerationConfigMode.self,
                                         expected: "\"auto\" or \"vllm\"", default: s.generationConfig)
        s.apiKey = try c.value("api_key", String.self, expected: "a string", default: s.apiKey)
        s.allowedOrigins = try c.value("allowed_origins", [String].self, expected: "a list of origins (\"*\" for any)",
                                       default: s.allowedOrigins)
        s.registry = try c.value("registry", String.self, expected: "a string", default: s.registry)
        s.threads = try c.value("threads", Int.self, expected: "an integer", default: s.threads)
        s.timeouts = try c.value("timeouts", Timeouts.self, expected: "an object", default: s.timeouts)
        s.limits = try c.value("limits", Limits.self, expected: "an object", default: s.limits)
        s.logLevel = try c.value("log_level", LogLevel.self,
                                 expected: "one of " + LogLevel.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", "),
                                 default: s.logLevel)
        s.metricsLogIntervalSeconds = try c.value("metrics_log_interval_seconds", Double.self, expected: "a number",
                                                  default: s.metricsLogIntervalSeconds)
        try s.validate()
        self = s
    }

    private static func decodeSpeculativeTokens(_ c: KeyedDecodingContainer<ConfigKey>) throws -> SpeculativeTokens {
        let key = ConfigKey("num_speculative_tokens")
        guard c.contains(key) else { return ServerConfiguration().numSpeculativeTokens }
        if try c.decodeNil(forKey: key) { return .fromSpeculator }
        if let k = try? c.decode(Int.self, forKey: key) { return .fixed(k) }
        if let s = try? c.decode(String.self, forKey: key), s == "adaptive" { return .adaptive }
        throw ConfigurationError(path: "num_speculative_tokens",
                                 problem: "must be an integer, \"adaptive\", or null (take it from the speculator)")
    }

    private static func decodeVerifierWeights(_ c: KeyedDecodingContainer<ConfigKey>) throws -> VerifierWeights {
        let key = ConfigKey("quantized_weights")
        guard c.contains(key) else { return ServerConfiguration().verifierWeights }
        if let required = try? c.decode(Bool.self, forKey: key) { return required ? .quantized : .float32 }
        if let s = try? c.decode(String.self, forKey: key), s == VerifierWeights.automatic.rawValue { return .automatic }
        throw ConfigurationError(path: "quantized_weights",
                                 problem: "must be true, false or \"auto\" (the blocks when the checkpoint has them)")
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: ConfigKey.self)
        try c.encode(host, forKey: ConfigKey("host"))
        try c.encode(port, forKey: ConfigKey("port"))
        try c.encode(model, forKey: ConfigKey("model"))
        try c.encode(servedModelName, forKey: ConfigKey("served_model_name"))
        try c.encode(speculator, forKey: ConfigKey("speculator"))
        switch numSpeculativeTokens {
        case .fromSpeculator: try c.encodeNil(forKey: ConfigKey("num_speculative_tokens"))
        case .fixed(let k): try c.encode(k, forKey: ConfigKey("num_speculative_tokens"))
        case .adaptive: try c.encode("adaptive", forKey: ConfigKey("num_speculative_tokens"))
        }
        try c.encode(confidenceGate, forKey: ConfigKey("confidence_gate"))
        switch verifierWeights {
        case .automatic: try c.encode(VerifierWeights.automatic.rawValue, forKey: ConfigKey("quantized_weights"))
        case .quantized: try c.encode(true, forKey: ConfigKey("quantized_weights"))
        case .float32: try c.encode(false, forKey: ConfigKey("quantized_weights"))
        }
        try c.encode(maxBatch, forKey: ConfigKey("max_batch"))
        try c.encode(maxQueue, forKey: ConfigKey("max_queue"))
        try c.encode(maxModelLen, forKey: ConfigKey("max_model_len"))
        try c.encode(generationConfig, forKey: ConfigKey("generation_config"))
        try c.encode(apiKey, forKey: ConfigKey("api_key"))
        try c.encode(allowedOrigins, forKey: ConfigKey("allowed_origins"))
        try c.encode(registry, forKey: ConfigKey("registry"))
        try c.encode(threads, forKey: ConfigKey("threads"))
        try c.encode(timeouts, forKey: ConfigKey("timeouts"))
        try c.encode(limits, forKey: ConfigKey("limits"))
        try c.encode(logLevel, forKey: ConfigKey("log_level"))
        try c.encode(metricsLogIntervalSeconds, forKey: ConfigKey("metrics_log_interval_seconds"))
    }
}

extension ServerConfiguration.Timeouts: Codable {
    static let keys: Set<String> = ["request_seconds", "idle_connection_seconds", "read_seconds", "shutdown_grace_seconds"]

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: ConfigKey.self)
        try c.rejectUnknownKeys(Self.keys)
        self.init()
        requestSeconds = try c.value("request_seconds", Double.self, expected: "a number", default: requestSeconds)
        idleConnectionSeconds = try c.value("idle_connection_seconds", Double.self, expected: "a number",
                                            default: idleConnectionSeconds)
        readSeconds = try c.value("read_seconds", Double.self, expected: "a number", default: readSeconds)
        shutdownGraceSeconds = try c.value("shutdown_grace_seconds", Double.self, expected: "a number",
                                           default: shutdownGraceSeconds)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: ConfigKey.self)
        try c.encode(requestSeconds, forKey: ConfigKey("request_seconds"))
        try c.encode(idleConnectionSeconds, forKey: ConfigKey("idle_connection_seconds"))
        try c.encode(readSeconds, forKey: ConfigKey("read_seconds"))
        try c.encode(shutdownGraceSeconds, forKey: ConfigKey("shutdown_grace_seconds"))
    }
}

extension ServerConfiguration.Limits: Codable {
    static let keys: Set<String> = ["max_body_bytes", "max_connections", "max_prompts_per_request", "max_n", "max_logprobs"]

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: ConfigKey.self)
        try c.rejectUnknownKeys(Self.keys)
        self.init()
        maxBodyBytes = try c.value("max_body_bytes", Int.self, expected: "an integer", default: maxBodyBytes)
        maxConnections = try c.value("max_connections", Int.self, expected: "an integer", default: maxConnections)
        maxPromptsPerRequest = try c.value("max_prompts_per_request", Int.self, expected: "an integer",
                                           default: maxPromptsPerRequest)
        maxN = try c.value("max_n", Int.self, expected: "an integer", default: maxN)
        maxLogprobs = try c.value("max_logprobs", Int.self, expected: "an integer", default: maxLogprobs)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: ConfigKey.self)
        try c.encode(maxBodyBytes, forKey: ConfigKey("max_body_bytes"))
        try c.encode(maxConnections, forKey: ConfigKey("max_connections"))
        try c.encode(maxPromptsPerRequest, forKey: ConfigKey("max_prompts_per_request"))
        try c.encode(maxN, forKey: ConfigKey("max_n"))
        try c.encode(maxLogprobs, forKey: ConfigKey("max_logprobs"))
    }
}
