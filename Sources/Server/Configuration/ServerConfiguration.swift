import Engine
import Foundation
import Logging

// Everything `speculators serve` needs to start, loaded from config/server.json (documented in
// config/README.md), validated, and overridable from command-line flags.

/// The draft length policy.
public enum SpeculativeTokens: Sendable, Equatable {
    /// Take `k` from the speculator's config (`speculative_tokens` of its proposal method).
    case fromSpeculator
    /// A fixed `k`; 0 disables speculation.
    case fixed(Int)
    /// Let the engine choose `k` per step (e.g. by batch size), up to the speculator's `k`.
    case adaptive
}

/// Where default sampling parameters come from (vLLM `--generation-config`).
public enum GenerationConfigMode: String, Sendable, Equatable, Codable, CaseIterable {
    /// The model's generation_config.json, when present.
    case auto
    /// OpenAI defaults only (temperature 1, top_p 1, ...).
    case vllm
}

/// Log verbosity, the swift-log levels.
public enum LogLevel: String, Sendable, Equatable, Codable, CaseIterable {
    case trace, debug, info, notice, warning, error, critical

    public var loggerLevel: Logger.Level {
        switch self {
        case .trace: return .trace
        case .debug: return .debug
        case .info: return .info
        case .notice: return .notice
        case .warning: return .warning
        case .error: return .error
        case .critical: return .critical
        }
    }
}

/// The server's configuration.
public struct ServerConfiguration: Sendable, Equatable {
    /// Time limits, in seconds.
    public struct Timeouts: Sendable, Equatable {
        /// Longest time a generation request may take before it is aborted.
        public var requestSeconds: Double = 600
        /// How long a kept-alive connection may sit idle.
        public var idleConnectionSeconds: Double = 60
        /// How long reading one request's header and body may take.
        public var readSeconds: Double = 30
        /// On SIGTERM: how long in-flight requests may run before they are aborted.
        public var shutdownGraceSeconds: Double = 30

        public init() {}
    }

    /// Size and count limits.
    public struct Limits: Sendable, Equatable {
        /// Largest request body.
        public var maxBodyBytes: Int = 4 << 20
        /// Simultaneous connections; more are refused.
        public var maxConnections: Int = 256
        /// Prompts in one /v1/completions batch.
        public var maxPromptsPerRequest: Int = 64
        /// Largest `n`.
        public var maxN: Int = 16
        /// Largest `logprobs` / `top_logprobs` (-1 = unbounded).
        public var maxLogprobs: Int = 20

        public init() {}
    }

    public var host = "127.0.0.1"
    /// 0 picks a free port.
    public var port = 8000
    /// The verifier: a GGUF file or a Hugging Face folder (or a speculators checkpoint, whose
    /// verifier is then used).
    public var model = "models/SmolLM2-135M-Instruct.Q4_1.gguf"
    /// The name clients use and responses echo; nil = derived from `model`.
    public var servedModelName: String?
    /// The EAGLE-3 draft folder; nil = no speculation.
    public var speculator: String? = "assets/drafts/smollm2-135m-eagle3"
    /// Adaptive by default: a weak draft then never makes decoding meaningfully slower.
    public var numSpeculativeTokens: SpeculativeTokens = .adaptive
    /// Adaptive only: requests for which plain decoding wins may still draft one token, verified
    /// only when the draft is sure enough of it for the verifier row to pay (`ConfidenceCalibration`).
    /// Off by default (see `SpeculativeEngine.Configuration.confidenceGate`).
    public var confidenceGate = false
    /// Whether the verifier computes from its Q4_x/Q5_x/Q8_0/Q4_K/Q5_K/Q6_K blocks (a GGUF
    /// file's), dequantised exactly on the fly (`QuantizedWeights`): bit-identical outputs from a
    /// fifth of the bytes per token and of the layers' memory. By default it does whenever the
    /// checkpoint has such blocks (`quantized_weights`: "auto"); `true` requires them, `false`
    /// keeps float32 weights (the form the benchmarks' ratio targets are defined on).
    public var verifierWeights = VerifierWeights.automatic
    /// Requests decoded together per engine step.
    public var maxBatch = 8
    /// Requests waiting beyond the batch; more are answered 503.
    public var maxQueue = 64
    /// Context length; nil = the model's maximum.
    public var maxModelLen: Int? = 2048
    public var generationConfig: GenerationConfigMode = .auto
    /// Bearer key required on /v1/*; empty = no authentication.
    public var apiKey = ""
    /// Origins whose browser pages may call the API (CORS): `["*"]` for any, as vLLM's
    /// `--allowed-origins` default; empty turns CORS off.
    public var allowedOrigins = ["*"]
    /// Folder of speculator checkpoints the registry endpoints list and validate.
    public var registry = "assets/drafts"
    /// Compute threads; 0 = one per core.
    public var threads = 0
    public var timeouts = Timeouts()
    public var limits = Limits()
    public var logLevel: LogLevel = .info
    /// Seconds between statistics log lines (vLLM's ~10 s); 0 disables them.
    public var metricsLogIntervalSeconds: Double = 10

    /// The defaults (the same values config/server.json ships with).
    public init() {}

    /// Reads and validates a configuration file. Absent keys keep their defaults; unknown keys,
    /// wrong types and out-of-range values are errors naming the key path and the file.
    public static func load(from url: URL) throws(ConfigurationError) -> ServerConfiguration {
        let data: Data
        var isDirectory: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory)
        do { data = try Data(contentsOf: url) } catch {
            let problem = !exists ? "no such file" : isDirectory.boolValue ? "it is a folder, not a file" : "not readable"
            throw ConfigurationError(path: "(file)", problem: "cannot be read: \(problem)", file: url.path)
        }
        do { return try decode(data) } catch {
            var located = error
            located.file = url.path
            throw located
        }
    }

    /// Decodes and validates configuration JSON.
    public static func decode(_ data: Data) throws(ConfigurationError) -> ServerConfiguration {
        try checkJSONSyntax(data)
        do {
            return try JSONDecoder().decode(ServerConfiguration.self, from: data)
        } catch let error as ConfigurationError {
            throw error
        } catch let DecodingError.dataCorrupted(context) {
            let reason = (context.underlyingError as NSError?)?.localizedDescription ?? context.debugDescription
            throw ConfigurationError(path: configPath(context.codingPath), problem: "is not valid JSON: \(reason)")
        } catch {
            throw ConfigurationError(path: "(top level)", problem: "must be a JSON object (\(error))")
        }
    }

    /// Strict JSON syntax first (Foundation's decoder tolerates trailing commas), with the line
    /// and column of the first problem.
    static func checkJSONSyntax(_ data: Data) throws(ConfigurationError) {
        let bytes = Array(data)
        do { _ = try RequestJSONParser.parse(bytes) } catch {
            let before = bytes.prefix(error.offset)
            let line = before.filter { $0 == 0x0A }.count + 1
            let column = error.offset - (before.lastIndex(of: 0x0A).map { $0 + 1 } ?? 0) + 1
            throw ConfigurationError(path: "(top level)",
                                     problem: "is not valid JSON: \(error.reason) (line \(line), column \(column))")
        }
    }

    /// Cross-field and range checks; `load`, `decode` and `applying` all run them.
    public func validate() throws(ConfigurationError) {
        try ConfigCheck.nonEmpty(host, "host")
        try ConfigCheck.integer(port, "port", in: 0...65535)
        try ConfigCheck.nonEmpty(model, "model")
        if let servedModelName { try ConfigCheck.nonEmpty(servedModelName, "served_model_name") }
        if let speculator { try ConfigCheck.nonEmpty(speculator, "speculator") }
        switch numSpeculativeTokens {
        case .fixed(let k):
            try ConfigCheck.integer(k, "num_speculative_tokens", in: 0...Self.maxSpeculativeTokens)
            if k > 0 && speculator == nil {
                throw ConfigurationError(path: "num_speculative_tokens",
                                         problem: "was provided but without a speculator (set \"speculator\")")
            }
        case .adaptive where speculator == nil:
            throw ConfigurationError(path: "num_speculative_tokens", problem: "is \"adaptive\" but no speculator is set")
        case .adaptive, .fromSpeculator:
            break
        }
        try ConfigCheck.integer(maxBatch, "max_batch", in: 1...4096)
        try ConfigCheck.integer(maxQueue, "max_queue", in: 0...1_000_000)
        if let maxModelLen { try ConfigCheck.integer(maxModelLen, "max_model_len", in: 1...Int(Int32.max)) }
        try ConfigCheck.nonEmpty(registry, "registry")
        try ConfigCheck.integer(threads, "threads", in: 0...1024)
        try ConfigCheck.positive(timeouts.requestSeconds, "timeouts.request_seconds")
        try ConfigCheck.positive(timeouts.idleConnectionSeconds, "timeouts.idle_connection_seconds")
        try ConfigCheck.positive(timeouts.readSeconds, "timeouts.read_seconds")
        try ConfigCheck.positive(timeouts.shutdownGraceSeconds, "timeouts.shutdown_grace_seconds", allowZero: true)
        try ConfigCheck.integer(limits.maxBodyBytes, "limits.max_body_bytes", in: 1024...(1 << 30))
        try ConfigCheck.integer(limits.maxConnections, "limits.max_connections", in: 1...65536)
        try ConfigCheck.integer(limits.maxPromptsPerRequest, "limits.max_prompts_per_request", in: 1...65536)
        try ConfigCheck.integer(limits.maxN, "limits.max_n", in: 1...1024)
        try ConfigCheck.integer(limits.maxLogprobs, "limits.max_logprobs", in: -1...1_000_000)
        try ConfigCheck.positive(metricsLogIntervalSeconds, "metrics_log_interval_seconds", allowZero: true)
    }

    /// The largest draft length accepted (vLLM's older per-step cap).
    public static let maxSpeculativeTokens = 32

    /// The name responses carry: `served_model_name`, else the model file or folder name without
    /// a `.gguf` extension.
    public var effectiveServedModelName: String {
        if let servedModelName { return servedModelName }
        let last = URL(fileURLWithPath: model).lastPathComponent
        return last.hasSuffix(".gguf") ? String(last.dropLast(5)) : last
    }
}
