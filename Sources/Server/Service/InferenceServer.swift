import Engine
import Foundation
import HTTP
import Logging
import Models
import Tensors

// Assembly: models → engine → scheduler → service → HTTP server, from a ServerConfiguration,
// and the orderly shutdown (stop accepting, let running requests finish, stop the engine).

/// A running inference server.
public final class InferenceServer: Sendable {
    public let service: InferenceService
    public let scheduler: Scheduler
    public let http: HTTPServer
    public let configuration: ServerConfiguration
    private let logger: Logger

    /// Builds the server around already loaded models.
    public init(configuration: ServerConfiguration, bundle: ModelBundle, draft: Eagle3DraftModel?, pool: ThreadPool,
                logger: Logger = Logger(label: "speculators.server")) throws {
        self.configuration = configuration
        self.logger = logger
        let maxModelLen = min(configuration.maxModelLen ?? Int.max, bundle.verifier.config.maxPositions)
        // The speculator's own k, within the bound an explicit num_speculative_tokens has (a draft
        // trained with many TTT steps records that many).
        let draftLength = min(draft?.config.speculativeTokens ?? 0, ServerConfiguration.maxSpeculativeTokens)
        if let recorded = draft?.config.speculativeTokens, recorded > ServerConfiguration.maxSpeculativeTokens {
            logger.warning("the speculator's speculative_tokens is above the largest draft length served; using the largest",
                           metadata: ["speculative_tokens": "\(recorded)", "k": "\(ServerConfiguration.maxSpeculativeTokens)"])
        }
        let maxK: Int
        let pinned: Int?
        switch configuration.numSpeculativeTokens {
        case .fromSpeculator: (maxK, pinned) = (draftLength, draftLength)
        case .adaptive: (maxK, pinned) = (draftLength, nil)
        case .fixed(let k): (maxK, pinned) = (k, k)
        }
        let engine = SpeculativeEngine(
            verifier: bundle.verifier, draft: draft,
            configuration: .init(maxSpeculativeTokens: maxK, speculativeTokens: pinned, maxModelLength: maxModelLen,
                                 eosTokenIds: bundle.eosTokenIds, confidenceGate: configuration.confidenceGate),
            pool: pool, makeTextStream: { bundle.textStream(skipSpecialTokens: $0) })
        if draft != nil, pinned == nil {
            // Adaptive draft lengths are planned from measured pass costs: measure them now
            // rather than learn them from the first minutes of traffic.
            let start = Date()
            try engine.calibrateCosts(maxRows: min(64, max(1, configuration.maxBatch) * (maxK + 1)))
            logger.info("measured pass costs for adaptive speculation",
                        metadata: ["seconds": "\(String(format: "%.2f", Date().timeIntervalSince(start)))",
                                   "ms_by_rows": "\(engine.costs.summary(upTo: 64))"])
        }
        scheduler = Scheduler(engine: engine, maxRunning: configuration.maxBatch, maxWaiting: configuration.maxQueue,
                              logger: logger)
        let model = ServedModel(
            bundle: bundle, servedName: configuration.effectiveServedModelName, root: configuration.model,
            maxModelLen: maxModelLen, speculatorPath: draft == nil ? nil : configuration.speculator,
            maxSpeculativeTokens: draft == nil ? nil : maxK,
            samplingDefaults: configuration.generationConfig == .auto
                ? try ServedModel.samplingDefaults(modelPath: URL(fileURLWithPath: configuration.model),
                                                   eosTokenId: bundle.tokenizer.eosTokenIds.min())
                : SamplingDefaults())
        let metrics = try ServingMetrics(modelName: model.servedName, maxModelLen: maxModelLen,
                                         numSpeculativeTokens: model.maxSpeculativeTokens)
        let telemetry = ServiceTelemetry(metrics: metrics, logger: logger)
        telemetry.attach(to: scheduler)
        service = InferenceService(
            model: model, scheduler: scheduler, telemetry: telemetry,
            options: .init(apiKey: configuration.apiKey, registryFolder: URL(fileURLWithPath: configuration.registry),
                           requestTimeoutSeconds: configuration.timeouts.requestSeconds, limits: configuration.limits),
            logger: logger)
        let timeouts = configuration.timeouts
        var limits = HTTPParserLimits()
        limits.maxBodyBytes = configuration.limits.maxBodyBytes
        var httpConfiguration = HTTPServerConfiguration(
            host: configuration.host, port: configuration.port, maxConnections: configuration.limits.maxConnections,
            limits: limits, headerReadTimeout: .seconds(timeouts.readSeconds),
            bodyReadTimeout: .seconds(timeouts.readSeconds),
            keepAliveTimeout: .seconds(timeouts.idleConnectionSeconds), serverName: "speculators",
            errorResponse: { status, message in
                APIError(status: status.code, message: message, type: status.reasonPhrase).response
            },
            logger: logger)
        httpConfiguration.crossOrigin = CrossOriginPolicy(allowedOrigins: configuration.allowedOrigins)
        // Liveness and readiness probes and Prometheus still get through at the connection bound.
        httpConfiguration.probePaths = ["/health", "/ping", "/metrics", "/version"]
        http = HTTPServer(configuration: httpConfiguration, handler: service)
    }

    /// Loads the verifier, tokenizer and speculator the configuration names, then builds the server.
    public static func load(configuration requested: ServerConfiguration, logger: Logger) throws -> InferenceServer {
        let configuration = try resolvingSpeculatorCheckpoint(requested)
        BLAS.configure()
        let started = monotonicSeconds()
        let bundle = try ModelBundle.load(path: URL(fileURLWithPath: configuration.model),
                                          name: configuration.effectiveServedModelName,
                                          weights: configuration.verifierWeights, blocksOnly: true)
        let draft = try configuration.speculator.map {
            try Eagle3DraftModel.load(folder: URL(fileURLWithPath: $0), verifier: bundle.verifier)
        }
        let threads = configuration.threads == 0 ? ProcessInfo.processInfo.activeProcessorCount : configuration.threads
        let server = try InferenceServer(configuration: configuration, bundle: bundle, draft: draft,
                                         pool: ThreadPool(threadCount: threads), logger: logger)
        logger.info("models loaded", metadata: [
            "model": "\(configuration.model)", "served_model_name": "\(server.service.model.servedName)",
            "speculator": "\(configuration.speculator ?? "none")",
            "k": "\(server.service.model.maxSpeculativeTokens.map(String.init) ?? "0")",
            "policy": "\(configuration.numSpeculativeTokens)", "threads": "\(threads)",
            "kernels": "\(SmallBatchProduct.instructionSet)", "blas": "\(BLAS.coreName)",
            "weights": "\(bundle.verifier.usesQuantizedWeights ? "quantized (\(bundle.verifier.quantizedMatrixCount) matrices\(bundle.verifier.hasBlocksOnlyLayers ? ", no float32 copies" : ""))" : "float32")",
            "max_model_len": "\(server.service.model.maxModelLen)", "max_batch": "\(configuration.maxBatch)",
            "max_queue": "\(configuration.maxQueue)",
            "seconds": "\(String(format: "%.2f", monotonicSeconds() - started))",
        ])
        if let asked = configuration.maxModelLen, asked > server.service.model.maxModelLen {
            logger.warning("max_model_len lowered to the model's positions", metadata: [
                "asked": "\(asked)", "max_model_len": "\(server.service.model.maxModelLen)"])
        }
        var isDirectory: ObjCBool = false
        if !FileManager.default.fileExists(atPath: configuration.registry, isDirectory: &isDirectory) || !isDirectory.boolValue {
            logger.warning("the registry folder does not exist; /v1/speculators lists only the loaded speculator",
                           metadata: ["registry": "\(configuration.registry)"])
        }
        return server
    }

    /// vLLM's "serve the speculator" path: when `model` is a speculators-format checkpoint (a
    /// folder whose config.json has `speculators_model_type`), its verifier
    /// (`speculators_config.verifier.name_or_path`) becomes the model and the checkpoint the
    /// speculator. The verifier must be a local file or folder: nothing is downloaded.
    public static func resolvingSpeculatorCheckpoint(_ configuration: ServerConfiguration) throws -> ServerConfiguration {
        let file = URL(fileURLWithPath: configuration.model).appendingPathComponent("config.json")
        guard let data = FileManager.default.contents(atPath: file.path),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              object["speculators_model_type"] != nil else { return configuration }
        guard let verifier = ((object["speculators_config"] as? [String: Any])?["verifier"] as? [String: Any])?["name_or_path"]
                as? String, !verifier.isEmpty else {
            throw ConfigurationError(path: "model", problem: "is a speculator checkpoint whose config.json names no "
                                     + "verifier (speculators_config.verifier.name_or_path)", file: file.path)
        }
        guard FileManager.default.fileExists(atPath: verifier) else {
            throw ConfigurationError(path: "model", problem: "is a speculator checkpoint whose verifier \"\(verifier)\" "
                                     + "is not a local file or folder; pass the verifier as --model and this checkpoint "
                                     + "as --speculator", file: file.path)
        }
        var resolved = configuration
        resolved.speculator = configuration.model
        resolved.model = verifier
        // A null served name is then derived from the verifier's path, as vLLM does.
        try resolved.validate()
        return resolved
    }

    /// Starts the engine thread and the listener; returns the bound port.
    @discardableResult
    public func start() throws -> Int {
        scheduler.start()
        let port = try http.start()
        service.telemetry.startPeriodicLog(every: configuration.metricsLogIntervalSeconds)
        return port
    }

    /// Stops accepting, lets requests in flight finish within the grace period, then stops the
    /// engine. Returns when everything has stopped.
    public func shutdown(grace: Duration? = nil) async {
        let grace = grace ?? .seconds(configuration.timeouts.shutdownGraceSeconds)
        service.stopAccepting()
        await http.shutdown(gracePeriod: grace)
        scheduler.shutdown(grace: .seconds(1))
        service.telemetry.stopPeriodicLog()
    }

    /// Blocks until SIGTERM or SIGINT, then shuts down gracefully (a second signal cuts the wait).
    public func runUntilSignalled() {
        let grace = Duration.seconds(configuration.timeouts.shutdownGraceSeconds)
        http.installSignalHandlers(gracePeriod: grace)
        http.waitUntilStopped()
        service.stopAccepting()
        logger.notice("HTTP server stopped; stopping the engine")
        scheduler.shutdown(grace: .seconds(1))
        service.telemetry.stopPeriodicLog()
    }
}
