import Engine
import Foundation
import Logging
import Testing
import Server

@Suite("Server configuration: the shipped files, key-path errors, and flag overrides")
struct ConfigurationTests {
    func decode(_ json: String) throws(ConfigurationError) -> ServerConfiguration {
        try ServerConfiguration.decode(Data(json.utf8))
    }

    func error(_ json: String) -> ConfigurationError? {
        do { _ = try decode(json); return nil } catch { return error }
    }

    @Test("config/server.json loads, validates and equals the documented defaults")
    func shippedServerConfig() throws {
        let url = Fixtures.repositoryRoot.appendingPathComponent("config/server.json")
        let config = try ServerConfiguration.load(from: url)
        var expected = ServerConfiguration()
        expected.servedModelName = "SmolLM2-135M-Instruct"
        #expect(config == expected)
        #expect(config.model == "models/SmolLM2-135M-Instruct.Q4_1.gguf")
        #expect(config.speculator == "assets/drafts/smollm2-135m-eagle3")
        #expect(config.numSpeculativeTokens == .adaptive)
        #expect(config.logLevel.loggerLevel == .info)
    }

    @Test("config/models.json loads and names the default verifier and speculator")
    func shippedModelSet() throws {
        let set = try ModelSet.load(from: Fixtures.repositoryRoot.appendingPathComponent("config/models.json"))
        let entry = try #require(set.defaultEntry)
        #expect(entry.verifier == "models/SmolLM2-135M-Instruct.Q4_1.gguf")
        #expect(entry.speculator == "assets/drafts/smollm2-135m-eagle3")
        #expect(entry.verifierSHA256 == "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53")
        #expect(set.entry(named: "nope") == nil)
    }

    @Test("Every key documented in config/README.md is a key of config/server.json, and the reverse")
    func documentationCoversEveryKey() throws {
        let readme = try String(contentsOf: Fixtures.repositoryRoot.appendingPathComponent("config/README.md"), encoding: .utf8)
        let json = try #require(try JSONSerialization.jsonObject(
            with: Data(contentsOf: Fixtures.repositoryRoot.appendingPathComponent("config/server.json"))) as? [String: Any])
        var keys: [String] = []
        for (key, value) in json {
            if let nested = value as? [String: Any] { keys += nested.keys.map { "\(key).\($0)" } } else { keys.append(key) }
        }
        for key in keys { #expect(readme.contains("| `\(key)` |"), "config/README.md does not document \(key)") }
        let documented = readme.split(separator: "\n").compactMap { line -> String? in
            guard line.hasPrefix("| `"), let end = line.dropFirst(3).firstIndex(of: "`") else { return nil }
            return String(line[line.index(line.startIndex, offsetBy: 3)..<end])
        }.filter { !$0.hasPrefix("models") && $0 != "default" }
        #expect(Set(documented) == Set(keys))
    }

    @Test("An empty object gives the defaults; encoding and decoding round-trips")
    func defaultsAndRoundTrip() throws {
        #expect(try decode("{}") == ServerConfiguration())
        var config = ServerConfiguration()
        config.numSpeculativeTokens = .adaptive
        config.maxModelLen = nil
        config.speculator = "d"
        config.timeouts.readSeconds = 2.5
        let data = try JSONEncoder().encode(config)
        #expect(try ServerConfiguration.decode(data) == config)
        config.numSpeculativeTokens = .fixed(4)
        #expect(try ServerConfiguration.decode(try JSONEncoder().encode(config)) == config)
    }

    @Test("num_speculative_tokens accepts an integer, \"adaptive\" or null; a speculator can be switched off")
    func speculativeTokens() throws {
        #expect(try decode(#"{"num_speculative_tokens": 5}"#).numSpeculativeTokens == .fixed(5))
        #expect(try decode(#"{"num_speculative_tokens": "adaptive"}"#).numSpeculativeTokens == .adaptive)
        #expect(try decode(#"{"num_speculative_tokens": null}"#).numSpeculativeTokens == .fromSpeculator)
        let off = try decode(#"{"speculator": null, "num_speculative_tokens": 0}"#)
        #expect(off.speculator == nil && off.numSpeculativeTokens == .fixed(0))
        // The documented "null serves the verifier alone", with the draft length left at its default.
        let alone = try decode(#"{"speculator": null}"#)
        #expect(alone.speculator == nil && alone.numSpeculativeTokens == .fixed(0))
    }

    @Test("Errors name the key path and the problem", arguments: [
        (#"{"port": 70000}"#, "port", "must be an integer in 0...65535, got 70000"),
        (#"{"port": "80"}"#, "port", "must be an integer"),
        (#"{"prot": 80}"#, "prot", "is not a known key"),
        (#"{"limits": {"max_n": 0}}"#, "limits.max_n", "must be an integer in 1...1024, got 0"),
        (#"{"limits": {"max_nn": 1}}"#, "limits.max_nn", "is not a known key"),
        (#"{"limits": 5}"#, "limits", "must be an object"),
        (#"{"timeouts": {"read_seconds": 0}}"#, "timeouts.read_seconds", "must be a positive number of seconds, got 0.0"),
        (#"{"timeouts": {"read_seconds": "x"}}"#, "timeouts.read_seconds", "must be a number"),
        (#"{"num_speculative_tokens": 33}"#, "num_speculative_tokens", "must be an integer in 0...32, got 33"),
        (#"{"num_speculative_tokens": "lots"}"#, "num_speculative_tokens", "must be an integer, \"adaptive\", or null"),
        (#"{"speculator": null, "num_speculative_tokens": 3}"#, "num_speculative_tokens", "without a speculator"),
        (#"{"speculator": null, "num_speculative_tokens": "adaptive"}"#, "num_speculative_tokens", "no speculator"),
        (#"{"log_level": "loud"}"#, "log_level", "must be one of \"trace\""),
        (#"{"generation_config": "model"}"#, "generation_config", "must be \"auto\" or \"vllm\""),
        (#"{"model": ""}"#, "model", "must be a non-empty string"),
        (#"{"max_model_len": 0}"#, "max_model_len", "must be an integer in 1..."),
        (#"{"max_batch": 1.5}"#, "max_batch", "must be an integer"),
        (#"{"metrics_log_interval_seconds": -1}"#, "metrics_log_interval_seconds", "non-negative"),
        (#"{"quantized_weights": "yes"}"#, "quantized_weights", "must be true, false or \"auto\""),
        (#"[1]"#, "(top level)", "must be a JSON object"),
        (#"{"port": 80,}"#, "(top level)",
         "is not valid JSON: Expecting property name enclosed in double quotes (line 1, column 13)"),
    ])
    func errors(json: String, path: String, problem: String) {
        let e = error(json)
        #expect(e?.path == path, "got \(String(describing: e))")
        #expect(e?.problem.contains(problem) == true, "got \(String(describing: e))")
    }

    @Test("Quantised weights asked of a checkpoint without quantised matrices fail to load, saying so; by default (\"auto\") it loads with float32 weights; the key takes true, false or \"auto\"")
    func quantizedWeightsNeedBlocks() throws {
        var configuration = ServerConfiguration()
        configuration.model = Fixtures.directory.appendingPathComponent("tiny-llama").path
        configuration.speculator = nil
        configuration.numSpeculativeTokens = .fixed(0)
        configuration.verifierWeights = .quantized
        #expect(throws: QuantizedWeightsUnavailable.self) {
            _ = try InferenceServer.load(configuration: configuration, logger: Logger(label: "test"))
        }
        // By default ("auto") such a checkpoint is served from its float32 weights.
        configuration.verifierWeights = ServerConfiguration().verifierWeights
        #expect(configuration.verifierWeights == .automatic)
        let server = try InferenceServer.load(configuration: configuration, logger: Logger(label: "test"))
        #expect(!server.service.model.bundle.verifier.usesQuantizedWeights)
        for (json, weights) in [("true", VerifierWeights.quantized), ("false", .float32), (#""auto""#, .automatic)] {
            let decoded = try ServerConfiguration.decode(Data(#"{"quantized_weights": \#(json)}"#.utf8))
            #expect(decoded.verifierWeights == weights, "\(json)")
            let encoded = try JSONEncoder().encode(decoded)
            #expect(try ServerConfiguration.decode(encoded).verifierWeights == weights, "\(json) round trip")
        }
    }

    @Test("A file error names the file")
    func fileErrors() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("serverapi-bad-\(UInt32.random(in: 0...UInt32.max)).json")
        try Data(#"{"limits": {"max_connections": 0}}"#.utf8).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        let e = #expect(throws: ConfigurationError.self) { try ServerConfiguration.load(from: url) }
        #expect(e?.description == "\(url.path): limits.max_connections must be an integer in 1...65536, got 0")
        let missing = #expect(throws: ConfigurationError.self) {
            try ServerConfiguration.load(from: url.appendingPathExtension("missing"))
        }
        #expect(missing?.problem.hasPrefix("cannot be read") == true)
    }

    @Test("Command-line overrides win and are validated again")
    func overrides() throws {
        var flags = ServerConfiguration.Overrides()
        flags.port = 9000
        flags.host = "0.0.0.0"
        flags.numSpeculativeTokens = "adaptive"
        flags.logLevel = "DEBUG"
        flags.generationConfig = "vllm"
        flags.apiKey = "secret"
        flags.maxModelLen = 4096
        let config = try ServerConfiguration().applying(flags)
        #expect(config.port == 9000 && config.host == "0.0.0.0")
        #expect(config.numSpeculativeTokens == .adaptive && config.logLevel == .debug)
        #expect(config.generationConfig == .vllm && config.apiKey == "secret" && config.maxModelLen == 4096)

        var off = ServerConfiguration.Overrides()
        off.speculator = .some(nil)
        off.numSpeculativeTokens = "auto"
        #expect(try ServerConfiguration().applying(off).speculator == nil)

        var bad = ServerConfiguration.Overrides()
        bad.numSpeculativeTokens = "three"
        #expect(throws: ConfigurationError(path: "num_speculative_tokens",
                                           problem: "must be an integer, \"adaptive\" or \"auto\", got \"three\"")) {
            try ServerConfiguration().applying(bad)
        }
        var badPort = ServerConfiguration.Overrides()
        badPort.port = -1
        #expect(throws: ConfigurationError.self) { try ServerConfiguration().applying(badPort) }
    }

    @Test("The validation context takes limits from the configuration and drops defaults in vllm mode")
    func validationContext() throws {
        var config = ServerConfiguration()
        config.limits.maxN = 3
        let defaults = SamplingDefaults(temperature: 0.6)
        let context = config.validationContext(maxModelLen: 512, vocabularySize: 100, samplingDefaults: defaults,
                                               maxSpeculativeTokens: 3)
        #expect(context.servedModelNames == ["SmolLM2-135M-Instruct.Q4_1"])
        #expect(context.maxChoices == 3 && context.maxModelLen == 512 && context.samplingDefaults == defaults)
        config.generationConfig = .vllm
        config.servedModelName = "smol"
        let plain = config.validationContext(maxModelLen: 512, vocabularySize: 100, samplingDefaults: defaults,
                                             maxSpeculativeTokens: nil)
        #expect(plain.samplingDefaults == SamplingDefaults() && plain.primaryModelName == "smol")
    }

    @Test("Model sets reject duplicates, a dangling default, bad checksums and unknown keys")
    func modelSetErrors() {
        func problem(_ json: String) -> String? {
            do { _ = try JSONDecoder().decode(ModelSet.self, from: Data(json.utf8)); return nil } catch {
                return (error as? ConfigurationError)?.description
            }
        }
        let entry = #"{"name": "a", "verifier": "v.gguf"}"#
        #expect(problem(#"{"default": "a", "models": [\#(entry)]}"#) == nil)
        #expect(problem(#"{"default": "b", "models": [\#(entry)]}"#)?.hasPrefix("default must name one of the models") == true)
        #expect(problem(#"{"default": "a", "models": [\#(entry), \#(entry)]}"#) == "models[1].name repeats the name \"a\"")
        #expect(problem(#"{"default": "a", "models": []}"#) == "models must list at least one model")
        #expect(problem(#"{"default": "a", "models": [{"name": "a", "verifier": "v", "verifier_sha256": "xyz"}]}"#)
                == "models[0].verifier_sha256 must be 64 hexadecimal digits")
        #expect(problem(#"{"default": "a", "models": [{"name": "a"}]}"#) == "models[0].verifier is required")
        #expect(problem(#"{"default": "a", "models": [{"name": "a", "verifier": "v", "k": 1}]}"#)?
                    .hasPrefix("models[0].k is not a known key") == true)
    }
}

@Suite("Server-side sampling defaults from generation_config.json")
struct SamplingDefaultsTests {
    @Test("SmolLM2's generation config sets no sampling defaults and no extra stop ids")
    func smollm2() throws {
        let d = try SamplingDefaults(generationConfig: Fixtures.data("smollm2-generation_config.json"), primaryEOS: 2)
        #expect(d == SamplingDefaults())
    }

    @Test("Sampling keys become defaults, max_new_tokens a cap, extra EOS ids stop ids")
    func samplingKeys() throws {
        let d = try SamplingDefaults(generationConfig: Fixtures.data("sampling-generation_config.json"), primaryEOS: 2)
        #expect(d == SamplingDefaults(temperature: 0.6, topP: 0.95, topK: 20, minP: 0, repetitionPenalty: 1.05,
                                      maxTokensCap: 512, stopTokenIDs: [7, 11]))
    }

    @Test("A malformed generation config names the key")
    func errors() {
        #expect(throws: ConfigurationError(path: "generation_config.top_k", problem: "must be an integer")) {
            try SamplingDefaults(generationConfig: Data(#"{"top_k": 1.5}"#.utf8), primaryEOS: nil)
        }
        #expect(throws: ConfigurationError(path: "generation_config.eos_token_id[1]", problem: "must be an integer")) {
            try SamplingDefaults(generationConfig: Data(#"{"eos_token_id": [1, "x"]}"#.utf8), primaryEOS: nil)
        }
        #expect(throws: ConfigurationError.self) {
            try SamplingDefaults(generationConfig: Data("nope".utf8), primaryEOS: nil)
        }
    }
}

@Suite("Deployment files stay consistent with the configuration code")
struct DeploymentFileTests {
    @Test("The server.json embedded in the Kubernetes ConfigMap decodes and listens on all interfaces")
    func kubernetesConfigMap() throws {
        let yaml = try String(contentsOf: Fixtures.repositoryRoot.appendingPathComponent("deploy/kubernetes/configmap.yaml"),
                              encoding: .utf8)
        let lines = yaml.split(separator: "\n", omittingEmptySubsequences: false)
        let start = try #require(lines.firstIndex { $0.hasSuffix("server.json: |") })
        let json = lines[(start + 1)...].prefix { $0.hasPrefix("    ") || $0.isEmpty }.map { $0.dropFirst(4) }
            .joined(separator: "\n")
        let config = try ServerConfiguration.decode(Data(json.utf8))
        #expect(config.host == "0.0.0.0" && config.port == 8000 && config.threads == 2)
        // Otherwise the repository's defaults: the same speculator, policy and registry.
        let repository = try ServerConfiguration.load(from: Fixtures.repositoryRoot.appendingPathComponent("config/server.json"))
        #expect(config.speculator == repository.speculator && config.registry == repository.registry)
        #expect(config.numSpeculativeTokens == repository.numSpeculativeTokens)
    }

    @Test("The Docker image holds the paths the default configuration names, draft weights included")
    func dockerImageContents() throws {
        let root = Fixtures.repositoryRoot
        let dockerfile = try String(contentsOf: root.appendingPathComponent("deploy/docker/Dockerfile"), encoding: .utf8)
        let ignore = try String(contentsOf: root.appendingPathComponent("deploy/docker/Dockerfile.dockerignore"), encoding: .utf8)
        let repository = try ServerConfiguration.load(from: root.appendingPathComponent("config/server.json"))
        for path in [repository.registry, try #require(repository.speculator)] {
            let top = String(path.split(separator: "/").prefix(2).joined(separator: "/"))
            #expect(dockerfile.contains("COPY \(top) "), "the image lacks \(path)")
        }
        #expect(ignore.contains("!\(repository.registry)/**/*.safetensors"), "the build context drops the drafts' weights")
        let entrypoint = try String(contentsOf: root.appendingPathComponent("deploy/docker/entrypoint.sh"), encoding: .utf8)
        #expect(entrypoint.contains("--host 0.0.0.0 --port 8000 \"$@\""))
    }
}
