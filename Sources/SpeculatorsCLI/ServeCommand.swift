import ArgumentParser
import Foundation
import Logging
import Server

/// `speculators serve`: the OpenAI-compatible server with EAGLE-3 speculative decoding.
/// Settings come from a JSON file (config/server.json) and flags override them.
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the OpenAI-compatible API (completions, chat, metrics, speculator registry).")

    @Option(help: "Server configuration file (absent keys keep their defaults). Default: config/server.json when it exists.")
    var config: String?
    @Option(help: "Address to bind (127.0.0.1 keeps the server local).") var host: String?
    @Option(help: "Port to bind (0 picks a free one).") var port: Int?
    @Option(help: "Verifier: a .gguf file or a Hugging Face folder.") var model: String?
    @Option(help: "Name clients use for the model.") var servedModelName: String?
    @Option(help: "EAGLE-3 speculator folder.") var speculator: String?
    @Flag(help: "Serve without a speculator (plain decoding).") var noSpeculator = false
    @Option(help: "Draft tokens per step: an integer, 'auto' (the speculator's) or 'adaptive'.")
    var numSpeculativeTokens: String?
    @Flag(inversion: .prefixedNo,
          help: "With adaptive k, let requests at plain decoding draft one token verified only when the draft is sure of it.")
    var confidenceGate: Bool?
    @Flag(inversion: .prefixedNo,
          help: "Compute from the GGUF verifier's Q4_x/Q5_x/Q8_0/Q4_K/Q5_K/Q6_K blocks, dequantised exactly on the fly: the same outputs bit for bit, a fifth of the bytes per token and of the memory. Default: the config's quantized_weights (\"auto\": whenever the file has such blocks).")
    var quantizedWeights: Bool?
    @Option(help: "Bearer key required on /v1/* (health and metrics stay open). Default: $VLLM_API_KEY, which keeps the key out of the process list.")
    var apiKey: String?
    @Option(help: "Origins whose browser pages may call the API (CORS), comma-separated; '*' for any (the default, as vLLM's), '' for none.")
    var allowedOrigins: String?
    @Option(help: "Requests decoded together per engine step.") var maxBatch: Int?
    @Option(help: "Requests waiting beyond the batch; more get 503.") var maxQueue: Int?
    @Option(help: "Context length (prompt + output).") var maxModelLen: Int?
    @Option(help: "Default sampling from generation_config.json ('auto') or OpenAI defaults ('vllm').")
    var generationConfig: String?
    @Option(help: "Folder of speculator checkpoints for /v1/speculators.") var registry: String?
    @Option(help: "Compute threads (0 = one per core).") var threads: Int?
    @Option(help: "trace, debug, info, notice, warning, error or critical.") var logLevel: String?
    @Option(help: "Seconds between throughput / acceptance log lines (0 = off).") var metricsLogInterval: Double?

    func run() throws {
        let configuration = try resolvedConfiguration()
        let level = configuration.logLevel.loggerLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "speculators.serve")
        logger.info("starting", metadata: ["config": "\(configFile ?? "(built-in defaults)")",
                                           "api_key": "\(configuration.apiKey.isEmpty ? "none" : "required on /v1")"])
        let server: InferenceServer
        do {
            server = try InferenceServer.load(configuration: configuration, logger: logger)
        } catch {
            throw CommandFailure("cannot load the models: \(error)")
        }
        let port: Int
        do {
            port = try server.start()
        } catch {
            throw CommandFailure("cannot listen on \(configuration.host):\(configuration.port): \(error)")
        }
        let shownHost = configuration.host.contains(":") ? "[\(configuration.host)]" : configuration.host
        // Written straight to the file descriptor so that a pipe reader sees it at once.
        FileHandle.standardOutput.write(Data("Serving \(server.service.model.servedName) on http://\(shownHost):\(port)\n".utf8))
        server.runUntilSignalled()
        logger.notice("stopped")
    }

    /// The configuration file read: `--config`, else config/server.json when it exists.
    var configFile: String? {
        config ?? (FileManager.default.fileExists(atPath: "config/server.json") ? "config/server.json" : nil)
    }

    /// The file's settings (or the defaults) with the flags applied.
    func resolvedConfiguration() throws -> ServerConfiguration {
        if noSpeculator, speculator != nil {
            throw ValidationError("--speculator and --no-speculator contradict each other; give one")
        }
        var base = ServerConfiguration()
        if let file = configFile {
            do { base = try ServerConfiguration.load(from: URL(fileURLWithPath: file)) } catch {
                throw CommandFailure("\(error)")
            }
        }
        var overrides = ServerConfiguration.Overrides()
        overrides.host = host
        overrides.port = port
        overrides.model = model
        overrides.servedModelName = servedModelName
        if noSpeculator {
            overrides.speculator = .some(nil)
        } else if let speculator {
            overrides.speculator = .some(speculator)
        }
        // Without a speculator there is nothing to draft: a config file's k (say "adaptive") no
        // longer applies unless the command line names one, which then fails validation clearly.
        overrides.numSpeculativeTokens = numSpeculativeTokens ?? (noSpeculator ? "0" : nil)
        overrides.confidenceGate = confidenceGate
        overrides.quantizedWeights = quantizedWeights
        overrides.maxBatch = maxBatch
        overrides.maxQueue = maxQueue
        overrides.maxModelLen = maxModelLen
        overrides.generationConfig = generationConfig
        overrides.apiKey = apiKey ?? ProcessInfo.processInfo.environment["VLLM_API_KEY"]
        overrides.allowedOrigins = allowedOrigins.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }
        overrides.registry = registry
        overrides.threads = threads
        overrides.logLevel = logLevel
        overrides.metricsLogIntervalSeconds = metricsLogInterval
        do { return try base.applying(overrides) } catch { throw CommandFailure("\(error)") }
    }
}
