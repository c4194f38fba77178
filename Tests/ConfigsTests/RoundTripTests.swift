import Foundation
import Testing
import Configs

/// Reading and writing configs: byte-identical files, dictionary round trips, kept and dropped keys.
@Suite struct RoundTripTests {
    @Test("Loading then saving a library-written config reproduces the file byte for byte",
          arguments: Fixtures.libraryWrittenNames)
    func byteIdentical(name: String) throws {
        let original = try Fixtures.text("valid", name)
        let config = try SpeculatorModelConfig.fromJSON(original)
        #expect(config.configFileText() == original)

        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("configs-roundtrip-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let written = try config.save(toFolder: folder.path)
        #expect(try Data(contentsOf: URL(fileURLWithPath: written)) == Data(original.utf8))
        let reloaded = try SpeculatorModelConfig.load(from: folder.path)
        #expect(reloaded.toDict() == config.toDict())
    }

    @Test("from_dict(to_dict()) gives back an equal config for every valid fixture", arguments: Fixtures.validNames)
    func dictionaryRoundTrip(name: String) throws {
        let config = try SpeculatorModelConfig.fromDict(try Fixtures.object("valid", name))
        let again = try SpeculatorModelConfig.fromDict(config.toDict())
        #expect(again.toDict() == config.toDict())
        #expect((again as? Eagle3SpeculatorConfig) == (config as? Eagle3SpeculatorConfig))
    }

    @Test("Saving an accepted-but-odd config writes the normalised values, which then load without coercion warnings",
          arguments: Fixtures.acceptedNames)
    func normalisedOnSave(name: String) throws {
        let config = try SpeculatorModelConfig.fromJSON(try Fixtures.text("valid", name))
        let saved = config.configFileText()
        let report = SpeculatorConfigValidator.validate(data: Data(saved.utf8))
        #expect(report.isValid)
        #expect(!report.warnings.contains { $0.rule == .coercedValue || $0.rule == .layerConfigDefaultClass || $0.rule == .layerConfigDefaultedKey })
        #expect(saved.hasSuffix("}\n"))
    }

    @Test("Coerced values are saved in their proper JSON type")
    func coercedValuesSaved() throws {
        let numeric = try SpeculatorModelConfig.fromJSON(try Fixtures.text("valid", "accepted-draft-vocab-size-numeric-string.json"))
        #expect(numeric.toDiffDict()["draft_vocab_size"] == .int(96))
        let yes = try SpeculatorModelConfig.fromJSON(try Fixtures.text("valid", "accepted-norm-before-residual-string-yes.json"))
        #expect(yes.toDiffDict()["norm_before_residual"] == .bool(true))
        let missing = try SpeculatorModelConfig.fromJSON(try Fixtures.text("valid", "accepted-layer-config-missing-hidden-size.json"))
        #expect(missing.toDiffDict()["transformer_layer_config"]?.objectValue?["hidden_size"] == .int(4096))
        let noType = try SpeculatorModelConfig.fromJSON(try Fixtures.text("valid", "accepted-transformer-layer-config-no-model-type.json"))
        let layer = try #require(noType.toDiffDict()["transformer_layer_config"]?.objectValue)
        #expect(layer["model_type"] == "qwen3")
        #expect(layer["layer_types"] == ["full_attention"])
        #expect(layer["max_window_layers"] == 28)
        #expect(layer["mlp_bias"] == false, "llama keys are kept as extra attributes")
    }

    @Test("Unknown top-level keys such as auto_map and future fields are kept; nested unknown keys are dropped")
    func unknownKeys() throws {
        var object = try Fixtures.baseConfig()
        object["my_extra"] = 5
        object = object.setting("speculators_config.verifier.revision", to: "main")
        object = object.setting("speculators_config.proposal_methods[0].beam_width", to: 4)
        let report = SpeculatorConfigValidator.validate(json: .object(object))
        let config = try #require(report.config)
        let saved = config.toDiffDict()
        #expect(saved["my_extra"] == 5)
        #expect(saved["auto_map"] == ["": "config.Eagle3SpeculatorConfig"])
        #expect(JSONValue.object(saved)["speculators_config.verifier.revision"] == nil)
        #expect(JSONValue.object(saved)["speculators_config.proposal_methods[0].beam_width"] == nil)
        #expect(report.warnings.filter { $0.rule == .unknownKeyDropped }.map(\.path) ==
                ["speculators_config.proposal_methods[0].beam_width", "speculators_config.verifier.revision"])
        #expect(report.warnings.filter { $0.rule == .unknownKeyKept }.map(\.path) == ["my_extra"])
    }

    @Test("Leaked generic keys are dropped on save with a warning; torch_dtype is kept and mirrored to dtype")
    func leakedAndLegacyKeys() throws {
        var object = try Fixtures.baseConfig()
        object["base_model_ep_plan"] = nil
        object["has_no_defaults_at_init"] = false
        object["torch_dtype"] = "bfloat16"
        object["_name_or_path"] = "somewhere"
        object["base_model_ep_plan"] = .null
        let report = SpeculatorConfigValidator.validate(json: .object(object))
        let saved = try #require(report.config).toDiffDict()
        #expect(saved["has_no_defaults_at_init"] == nil)
        #expect(saved["base_model_ep_plan"] == nil)
        #expect(saved["torch_dtype"] == "bfloat16")
        #expect(saved["dtype"] == "bfloat16")
        #expect(saved["_name_or_path"] == "somewhere")
        #expect(Set(report.warnings.filter { $0.rule == .droppedOnSave }.map(\.path)) == ["base_model_ep_plan", "has_no_defaults_at_init"])
    }

    @Test("A key of another speculator type is kept as an extra with a warning naming its owner")
    func foreignField() throws {
        var object = try Fixtures.baseConfig()
        object["block_size"] = 16
        let report = SpeculatorConfigValidator.validate(json: .object(object))
        #expect(report.isValid)
        let warning = try #require(report.warnings.first { $0.path == "block_size" })
        #expect(warning.rule == .unknownKeyKept)
        #expect(warning.message.contains("'dflash'"))
        #expect(report.config?.toDiffDict()["block_size"] == 16)
    }

    @Test("from_dict overrides replace top-level keys before validation")
    func overrides() throws {
        let config = try SpeculatorModelConfig.fromDict(try Fixtures.baseConfig(), overrides: ["draft_vocab_size": 128, "norm_output": true])
        let eagle = try #require(config as? Eagle3SpeculatorConfig)
        #expect(eagle.draftVocabSize == 128)
        #expect(eagle.normOutput)
        #expect(throws: ConfigError.self) {
            try SpeculatorModelConfig.fromDict(try Fixtures.baseConfig(), overrides: ["fc_norm": true, "norm_before_fc": true])
        }
    }

    @Test("A fresh config saves with the library's defaults, metadata and auto_map")
    func freshConfig() throws {
        var config = Eagle3SpeculatorConfig()
        config.transformerLayerConfig = try TransformerLayerConfig(modelType: "llama", settings: ["hidden_size": 64, "num_attention_heads": 4])
        config.speculatorsConfig = SpeculatorsConfig(
            algorithm: "eagle3", proposalMethods: [GreedyTokenProposalConfig(speculativeTokens: 3)],
            defaultProposalMethod: "greedy", verifier: VerifierConfig(nameOrPath: "tiny-llama", architectures: ["LlamaForCausalLM"]))
        let saved = try #require(try JSONParser.parse(config.configFileText()).objectValue)
        #expect(saved["speculators_version"] == "0.9.0")
        #expect(saved["transformers_version"] == "5.19.0")
        #expect(saved["auto_map"] == ["": "config.Eagle3SpeculatorConfig"])
        #expect(saved["architectures"] == ["Eagle3Speculator"])
        #expect(saved["draft_vocab_size"] == 32000)
        #expect(saved["eagle_aux_hidden_state_layer_ids"] == .null)
        let layer = try #require(saved["transformer_layer_config"]?.objectValue)
        #expect(layer["head_dim"] == 16)
        #expect(layer["num_key_value_heads"] == 4)
        #expect(layer["rope_parameters"] == ["rope_theta": 10000.0, "rope_type": "default"])
        let reread = try #require(try SpeculatorModelConfig.fromJSON(config.configFileText()) as? Eagle3SpeculatorConfig)
        #expect(reread.transformerLayerConfig == config.transformerLayerConfig)
        #expect(reread.speculatorsConfig == config.speculatorsConfig)
        #expect(reread.extraKeys == ["auto_map": ["": "config.Eagle3SpeculatorConfig"], "transformers_version": "5.19.0"])
        #expect(reread.configFileText() == config.configFileText())
    }
}
