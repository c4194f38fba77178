import Foundation
import Testing
import Configs

/// Configs the Python library (speculators 0.9.0 on transformers 5.19) refuses or accepts, found
/// by loading mutations of the llama fixture there: each refusal is an error here at the key the
/// library names, and each acceptance stays valid.
@Suite struct PythonParityTests {
    struct Refused: Sendable, CustomTestStringConvertible {
        var change: [(JSONPath, JSONValue?)]
        var path: JSONPath
        var testDescription: String { path.description }
    }

    static let layer: JSONPath = "transformer_layer_config"

    static let refused: [Refused] = [
        // Keys inherited from PretrainedConfig are pydantic fields of the library's classes.
        Refused(change: [("dtype", "bf16")], path: "dtype"),
        Refused(change: [("torch_dtype", "float7")], path: "torch_dtype"),
        Refused(change: [("transformers_version", 5)], path: "transformers_version"),
        Refused(change: [("return_dict", "x")], path: "return_dict"),
        Refused(change: [("output_hidden_states", 5)], path: "output_hidden_states"),
        Refused(change: [("is_encoder_decoder", "x")], path: "is_encoder_decoder"),
        Refused(change: [("chunk_size_feed_forward", 1.5)], path: "chunk_size_feed_forward"),
        Refused(change: [("id2label", [1, 2])], path: "id2label"),
        Refused(change: [("problem_type", "bogus")], path: "problem_type"),
        // Read-only properties, and an explicit null where the library wants an object.
        Refused(change: [("use_return_dict", true)], path: "use_return_dict"),
        Refused(change: [("speculators_config", .null)], path: "speculators_config"),
        // transformers' strict dataclass and class validators on the layer config.
        Refused(change: [("transformer_layer_config.rms_norm_eps", 0)], path: "transformer_layer_config.rms_norm_eps"),
        Refused(change: [("transformer_layer_config.initializer_range", 1.5)], path: "transformer_layer_config.initializer_range"),
        Refused(change: [("transformer_layer_config.hidden_size", 63)], path: "transformer_layer_config.hidden_size"),
        Refused(change: [("transformer_layer_config.layer_types", ["bogus_attention"])], path: "transformer_layer_config.layer_types"),
        Refused(change: [("transformer_layer_config.layer_types", ["full_attention", "full_attention"])],
                path: "transformer_layer_config.layer_types"),
        Refused(change: [("transformer_layer_config.dtype", "auto")], path: "transformer_layer_config.dtype"),
        Refused(change: [("transformer_layer_config.rope_parameters", ["rope_type": "llama3", "rope_theta": 10000.0])],
                path: "transformer_layer_config.rope_parameters"),
        Refused(change: [("transformer_layer_config.rope_parameters", ["rope_type": "linear"])],
                path: "transformer_layer_config.rope_parameters"),
        // A number that does not fit 64 bits is that key's error, not a JSON error.
        Refused(change: [("draft_vocab_size", .double(9.223372036854775808e18))], path: "draft_vocab_size"),
    ]

    @Test("A config the Python library refuses is an error at the key it names, and the only error", arguments: refused)
    func refusedConfig(_ testCase: Refused) throws {
        var object = try Fixtures.baseConfig()
        for (path, value) in testCase.change { object = object.setting(path, to: value) }
        let report = SpeculatorConfigValidator.validate(json: .object(object))
        #expect(report.errors.map(\.path) == [testCase.path], "\(report.errors)")
    }

    @Test("Configs the Python library accepts stay valid, with its normalisation",
          arguments: [
            [("transformer_layer_config.sliding_window", JSONValue.string("x"))],
            [("transformer_layer_config.attention_dropout", .null)],
            [("transformer_layer_config.rope_parameters", ["rope_type": "yarn", "factor": 2.0])],
            [("transformer_layer_config.rope_parameters", ["type": "linear", "factor": 2.0])],
            [("dtype", "bfloat16"), ("problem_type", "regression"), ("return_dict", .null), ("id2label", ["0": "A"])],
          ] as [[(JSONPath, JSONValue)]])
    func acceptedConfig(_ change: [(JSONPath, JSONValue)]) throws {
        var object = try Fixtures.baseConfig()
        for (path, value) in change { object = object.setting(path, to: value) }
        let report = SpeculatorConfigValidator.validate(json: .object(object))
        #expect(report.isValid, "\(report.errors)")
    }

    @Test("A yarn or llama3 RoPE gets original_max_position_embeddings from max_position_embeddings, as transformers fills it")
    func ropeOriginalLength() throws {
        let object = try Fixtures.baseConfig().setting("transformer_layer_config.rope_parameters",
                                                       to: ["rope_type": "yarn", "factor": 2.0])
        let config = try #require(try SpeculatorModelConfig.fromDict(object) as? Eagle3SpeculatorConfig)
        #expect(config.transformerLayerConfig.rope.originalMaxPositionEmbeddings == 256)
    }

    @Test("A byte-order mark and an integer beyond 64 bits are reported as the library reports them")
    func bytesPythonRefuses() throws {
        let text = PythonJSONWriter.configFile(.object(try Fixtures.baseConfig()))
        let withMark = SpeculatorConfigValidator.validate(data: Data([0xEF, 0xBB, 0xBF]) + Data(text.utf8))
        #expect(withMark.errors.map(\.rule) == [.invalidJSON])
        let huge = text.replacingOccurrences(of: "\"draft_vocab_size\": 96", with: "\"draft_vocab_size\": 9223372036854775808")
        #expect(huge != text)
        let report = SpeculatorConfigValidator.validate(data: Data(huge.utf8))
        #expect(report.errors.map(\.path) == ["draft_vocab_size"])
    }

    @Test("An infinite accept_tolerance round-trips through the tagged form transformers 5 saves")
    func infiniteTolerance() throws {
        let object = try Fixtures.baseConfig().setting("speculators_config.proposal_methods[0].accept_tolerance", to: .double(.infinity))
        let config = try SpeculatorModelConfig.fromDict(object)
        let text = config.configFileText()
        #expect(text.contains(#""accept_tolerance": {"#) && text.contains(#""__float__": "Infinity""#))
        #expect(!text.contains(": Infinity"))
        let again = try SpeculatorModelConfig.fromJSON(text)
        #expect(again.configFileText() == text)
    }
}
