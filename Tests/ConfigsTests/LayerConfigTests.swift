import Foundation
import Testing
import Configs

/// `transformer_layer_config`: class defaults, both RoPE spellings, and the typed values the
/// model loader reads.
@Suite struct LayerConfigTests {
    static func layer(_ settings: JSONObject, defaultModelType: String = "qwen3") throws -> (TransformerLayerConfig?, [ValidationIssue]) {
        var issues = IssueCollector()
        let config = TransformerLayerConfig.decode(.object(settings), at: "transformer_layer_config", defaultModelType: defaultModelType, issues: &issues)
        return (config, issues.issues)
    }

    @Test("The llama fixture's typed values are the ones in the file")
    func llamaTyped() throws {
        let config = try #require(try SpeculatorModelConfig.fromDict(try Fixtures.baseConfig()) as? Eagle3SpeculatorConfig)
        let layer = config.transformerLayerConfig
        #expect(layer.modelType == "llama")
        #expect(layer.configClassName == "LlamaConfig")
        #expect((layer.vocabSize, layer.hiddenSize, layer.intermediateSize, layer.numHiddenLayers) == (384, 64, 160, 1))
        #expect((layer.numAttentionHeads, layer.numKeyValueHeads, layer.headDim) == (4, 2, 16))
        #expect(layer.hiddenAct == "silu")
        #expect(layer.rmsNormEps == 1e-5)
        #expect(layer.rope.theta == 10000)
        #expect(layer.rope.type == "default")
        #expect(!layer.attentionBias && !layer.mlpBias)
        #expect(layer.layerTypes == nil)
        #expect(layer.slidingWindow == nil)
        #expect(config.draftVocabSize == 96)
        #expect(config.targetVocabSize == 384)
        #expect(config.normBeforeResidual && !config.normBeforeFc && !config.fcNorm && !config.normOutput)
        #expect(config.eagleAuxHiddenStateLayerIds == [1, 2, 3])
        #expect(config.verifier?.architectures == ["LlamaForCausalLM"])
    }

    @Test("The qwen3 and train-CLI fixtures expose layer types and the sliding window")
    func qwenAndTrainCLI() throws {
        let qwen = try #require(try SpeculatorModelConfig.fromDict(try Fixtures.object("valid", "qwen3-draftvocab.json")) as? Eagle3SpeculatorConfig)
        #expect(qwen.transformerLayerConfig.modelType == "qwen3")
        #expect(qwen.transformerLayerConfig.layerTypes == ["full_attention"])
        #expect(qwen.transformerLayerConfig.slidingWindow == nil)
        #expect(!qwen.transformerLayerConfig.useSlidingWindow)
        let cli = try #require(try SpeculatorModelConfig.fromDict(try Fixtures.object("valid", "llama-train-cli-layer-config.json")) as? Eagle3SpeculatorConfig)
        #expect(cli.transformerLayerConfig.layerTypes == ["full_attention"])
        #expect(cli.transformerLayerConfig.slidingWindow == 2048)
        #expect(!cli.transformerLayerConfig.useSlidingWindow)
    }

    @Test("The transformers-4 spelling rope_theta + rope_scaling is read and saved as rope_parameters")
    func legacyRope() throws {
        let (config, issues) = try Self.layer([
            "model_type": "llama", "hidden_size": 64, "num_attention_heads": 4, "vocab_size": 384, "intermediate_size": 160,
            "num_hidden_layers": 1, "rope_theta": 500000.0,
            "rope_scaling": ["type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192],
        ])
        #expect(issues.filter { $0.severity == .error }.isEmpty)
        let layer = try #require(config)
        #expect(layer.rope.theta == 500000)
        #expect(layer.rope.type == "llama3")
        #expect(layer.rope.factor == 8)
        #expect(layer.rope.lowFreqFactor == 1)
        #expect(layer.rope.highFreqFactor == 4)
        #expect(layer.rope.originalMaxPositionEmbeddings == 8192)
        #expect(layer.values["rope_theta"] == nil)
        #expect(layer.values["rope_scaling"] == nil)
        #expect(layer.values["rope_parameters"]?.objectValue?["rope_theta"] == 500000.0)
        #expect(layer.values["rope_parameters"]?.objectValue?["rope_type"] == "llama3")
    }

    @Test("A null rope_scaling with a rope_theta gives default RoPE with that theta")
    func legacyThetaOnly() throws {
        let (config, _) = try Self.layer(["model_type": "llama", "rope_theta": 100000.0, "rope_scaling": .null])
        let layer = try #require(config)
        #expect(layer.rope.theta == 100000)
        #expect(layer.rope.type == "default")
        #expect(layer.values["rope_parameters"] == ["rope_theta": 100000.0, "rope_type": "default"])
    }

    @Test("A transformers-5 rope_parameters with llama3 scaling is read as is")
    func modernRope() throws {
        let (config, _) = try Self.layer(["model_type": "llama", "rope_parameters": [
            "rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
            "original_max_position_embeddings": 64]])
        let layer = try #require(config)
        #expect(layer.rope.type == "llama3")
        #expect(layer.rope.originalMaxPositionEmbeddings == 64)
    }

    @Test("Qwen3 defaults: window dropped unless enabled, layer types derived from max_window_layers")
    func qwenDerivation() throws {
        let (off, _) = try Self.layer(["model_type": "qwen3", "num_hidden_layers": 2, "sliding_window": 1024])
        #expect(try #require(off).slidingWindow == nil)
        #expect(off?.layerTypes == ["full_attention", "full_attention"])
        let (on, _) = try Self.layer(["model_type": "qwen3", "num_hidden_layers": 3, "use_sliding_window": true, "sliding_window": 1024, "max_window_layers": 1])
        #expect(on?.slidingWindow == 1024)
        #expect(on?.layerTypes == ["full_attention", "sliding_attention", "sliding_attention"])
        #expect(on?.headDim == 128)
        #expect(on?.numKeyValueHeads == 32)
    }

    @Test("Llama defaults derive head_dim and kv heads from the given sizes")
    func llamaDerivation() throws {
        let (config, _) = try Self.layer(["model_type": "llama", "hidden_size": 576, "num_attention_heads": 9])
        let layer = try #require(config)
        #expect(layer.headDim == 64)
        #expect(layer.numKeyValueHeads == 9)
        #expect(layer.values["head_dim"] == 64)
        #expect(layer.rmsNormEps == 1e-6)
    }

    @Test("torch_dtype inside the layer config becomes dtype, as in transformers 5")
    func torchDtype() throws {
        let (config, _) = try Self.layer(["model_type": "llama", "torch_dtype": "float16"])
        #expect(config?.values["dtype"] == "float16")
        #expect(config?.values["torch_dtype"] == nil)
    }

    @Test("Other transformers model types are kept as written, with typed values where present")
    func otherModelType() throws {
        let (config, issues) = try Self.layer(["model_type": "mistral", "hidden_size": 128, "num_attention_heads": 8, "sliding_window": 4096])
        #expect(issues.filter { $0.severity == .error }.isEmpty)
        let layer = try #require(config)
        #expect(layer.configClassName == nil)
        #expect(layer.values.keys == ["model_type", "hidden_size", "num_attention_heads", "sliding_window"])
        #expect(layer.hiddenSize == 128)
        #expect(layer.headDim == 16)
    }

    static let badValues: [(String, JSONValue)] = [
        ("hidden_size", "64"), ("rms_norm_eps", "small"), ("attention_bias", 1), ("layer_types", "full_attention"),
        ("eos_token_id", ["a"]), ("num_hidden_layers", 1_000_000), ("num_attention_heads", 0),
    ]

    @Test("Layer config values are type-checked strictly, with the key in the error", arguments: badValues)
    func strictValues(key: String, value: JSONValue) throws {
        var settings: JSONObject = ["model_type": "llama"]
        settings[key] = value
        let (config, issues) = try Self.layer(settings)
        #expect(config == nil)
        #expect(issues.filter { $0.severity == .error }.map(\.path) == [JSONPath.root.appending("transformer_layer_config").appending(key)])
        #expect(issues.allSatisfy { $0.severity == .warning || $0.rule == .layerConfigValue })
    }

    @Test("A layer config built in Swift equals the library-written one with the same values")
    func builtInSwift() throws {
        let fixture = try #require(try SpeculatorModelConfig.fromDict(try Fixtures.baseConfig()) as? Eagle3SpeculatorConfig)
        var settings = fixture.transformerLayerConfig.values
        settings["model_type"] = nil
        let built = try TransformerLayerConfig(modelType: "llama", settings: settings)
        #expect(built == fixture.transformerLayerConfig)
        #expect(throws: ConfigError.self) { try TransformerLayerConfig(modelType: "llama", settings: ["hidden_size": "big"]) }
    }

    @Test("Unset aux layer ids resolve to [2, N//2, N-3]; bad ids fail with the library's message")
    func auxLayerIds() throws {
        let smol = try #require(try SpeculatorModelConfig.fromDict(try Fixtures.object("valid", "smollm2-aux-ids-unset.json")) as? Eagle3SpeculatorConfig)
        #expect(try smol.resolvedAuxLayerIds(verifierLayerCount: 30) == [2, 15, 27])
        #expect(AuxLayerIds.defaults(verifierLayerCount: 32) == [2, 16, 29])
        #expect {
            try smol.resolvedAuxLayerIds(verifierLayerCount: 4)
        } throws: { error in
            (error as? ConfigError)?.issues.first?.message.hasPrefix("Default target layer ids [2, 2, 1] are invalid for a verifier with 4 hidden layers") == true
        }
        let tiny = try #require(try SpeculatorModelConfig.fromDict(try Fixtures.baseConfig()) as? Eagle3SpeculatorConfig)
        #expect(try tiny.resolvedAuxLayerIds(verifierLayerCount: 4) == [1, 2, 3])
        #expect(throws: ConfigError.self) { try tiny.resolvedAuxLayerIds(verifierLayerCount: 2) }
        #expect(SpeculatorConfigValidator.loadTimeIssues(for: tiny, verifierLayerCount: 4).isEmpty)
        #expect(SpeculatorConfigValidator.loadTimeIssues(for: smol, verifierLayerCount: Int.min).map(\.rule) == [.auxLayerIds])
    }
}
