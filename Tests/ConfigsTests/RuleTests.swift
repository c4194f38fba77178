import Foundation
import Testing
import Configs

/// One test per validation rule: a minimal change to a valid config triggers exactly that rule
/// at the expected path and severity.
@Suite struct RuleTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var rule: ValidationRule
        var severity: IssueSeverity
        var path: JSONPath
        /// Builds the document (as bytes, so malformed JSON can be tested too).
        var document: @Sendable () throws -> Data
        var verifierLayers: Int?
        var verifier: VerifierShape?
        var testDescription: String { rule.rawValue }
    }

    static func mutated(_ changes: [(JSONPath, JSONValue?)]) -> @Sendable () throws -> Data {
        { () throws -> Data in
            var object = try Fixtures.baseConfig()
            for (path, value) in changes { object = object.setting(path, to: value) }
            return Data(PythonJSONWriter.configFile(.object(object)).utf8)
        }
    }

    static func of(_ type: String, _ changes: [(JSONPath, JSONValue?)] = []) -> @Sendable () throws -> Data {
        mutated([("speculators_model_type", .string(type)), ("speculators_config.algorithm", .string(type)),
                 ("eagle_aux_hidden_state_layer_ids", nil), ("norm_before_residual", nil), ("norm_before_fc", nil),
                 ("fc_norm", nil), ("norm_output", nil), ("embed_requires_grad", nil), ("draft_vocab_size", nil),
                 ("target_hidden_size", nil)] + changes)
    }

    static let proposal: JSONPath = "speculators_config.proposal_methods[0]"

    static let cases: [Case] = [
        Case(rule: .invalidJSON, severity: .error, path: .root, document: { Data("{\"a\": ".utf8) }),
        Case(rule: .fileAccess, severity: .error, path: .root, document: { Data() }),
        Case(rule: .notAnObject, severity: .error, path: .root, document: { Data("[1, 2]".utf8) }),
        Case(rule: .missingSpeculatorsModelType, severity: .error, path: "speculators_model_type", document: mutated([("speculators_model_type", nil)])),
        Case(rule: .unknownSpeculatorsModelType, severity: .error, path: "speculators_model_type", document: mutated([("speculators_model_type", "medusa")])),
        Case(rule: .missingProposalType, severity: .error, path: proposal, document: mutated([("speculators_config.proposal_methods[0].proposal_type", nil)])),
        Case(rule: .unknownProposalType, severity: .error, path: "speculators_config.proposal_methods[0].proposal_type", document: mutated([("speculators_config.proposal_methods[0].proposal_type", "tree")])),
        Case(rule: .required, severity: .error, path: "speculators_config.algorithm", document: mutated([("speculators_config.algorithm", nil)])),
        Case(rule: .expectedObject, severity: .error, path: "speculators_config", document: mutated([("speculators_config", [])])),
        Case(rule: .expectedList, severity: .error, path: "speculators_config.proposal_methods", document: mutated([("speculators_config.proposal_methods", ["proposal_type": "greedy"])])),
        Case(rule: .expectedInteger, severity: .error, path: "draft_vocab_size", document: mutated([("draft_vocab_size", "ninety-six")])),
        Case(rule: .fractionalInteger, severity: .error, path: "draft_vocab_size", document: mutated([("draft_vocab_size", 96.5)])),
        Case(rule: .expectedNumber, severity: .error, path: "speculators_config.proposal_methods[0].accept_tolerance", document: mutated([("speculators_config.proposal_methods[0].accept_tolerance", "lots")])),
        Case(rule: .expectedBoolean, severity: .error, path: "norm_output", document: mutated([("norm_output", 2)])),
        Case(rule: .expectedString, severity: .error, path: "speculators_config.algorithm", document: mutated([("speculators_config.algorithm", 3)])),
        Case(rule: .literal, severity: .error, path: "markov_head_type", document: of("dspark", [("markov_head_type", "lstm")])),
        Case(rule: .minimum, severity: .error, path: "speculators_config.proposal_methods[0].verifier_accept_k", document: mutated([("speculators_config.proposal_methods[0].verifier_accept_k", 0)])),
        Case(rule: .defaultProposalMethod, severity: .error, path: "speculators_config.default_proposal_method", document: mutated([("speculators_config.default_proposal_method", "tree")])),
        Case(rule: .normFlagsExclusive, severity: .error, path: "fc_norm", document: mutated([("fc_norm", true), ("norm_before_fc", true)])),
        Case(rule: .unknownLayerModelType, severity: .error, path: "transformer_layer_config.model_type", document: mutated([("transformer_layer_config.model_type", "not-a-model")])),
        Case(rule: .mtpLayerCount, severity: .error, path: "num_nextn_predict_layers", document: of("mtp", [("num_nextn_predict_layers", 2)])),
        Case(rule: .layerConfigValue, severity: .error, path: "transformer_layer_config.hidden_size", document: mutated([("transformer_layer_config.hidden_size", "64")])),
        Case(rule: .readOnlyKey, severity: .error, path: "target_vocab_size", document: mutated([("target_vocab_size", 384)])),
        Case(rule: .missingSpeculatorsConfig, severity: .error, path: "speculators_config", document: mutated([("speculators_config", nil)]), verifierLayers: 4),
        Case(rule: .auxLayerIds, severity: .error, path: "eagle_aux_hidden_state_layer_ids", document: mutated([("eagle_aux_hidden_state_layer_ids", [0, 2, 5])]), verifierLayers: 4),
        Case(rule: .verifierMismatch, severity: .error, path: "transformer_layer_config.vocab_size", document: mutated([]),
             verifier: VerifierShape(layerCount: 4, vocabSize: 49152, hiddenSize: 64)),
        Case(rule: .coercedValue, severity: .warning, path: "draft_vocab_size", document: mutated([("draft_vocab_size", "96")])),
        Case(rule: .unknownKeyDropped, severity: .warning, path: "speculators_config.verifier.revision", document: mutated([("speculators_config.verifier.revision", "main")])),
        Case(rule: .unknownKeyKept, severity: .warning, path: "my_extra", document: mutated([("my_extra", 5)])),
        Case(rule: .droppedOnSave, severity: .warning, path: "has_no_defaults_at_init", document: mutated([("has_no_defaults_at_init", false)])),
        Case(rule: .algorithmMismatch, severity: .warning, path: "speculators_config.algorithm", document: mutated([("speculators_config.algorithm", "eagle")])),
        Case(rule: .draftVocabSize, severity: .warning, path: "draft_vocab_size", document: mutated([("draft_vocab_size", -1)])),
        Case(rule: .acceptTolerance, severity: .warning, path: "speculators_config.proposal_methods[0].accept_tolerance", document: mutated([("speculators_config.proposal_methods[0].accept_tolerance", 0.5)])),
        Case(rule: .layerConfigDefaultClass, severity: .warning, path: "transformer_layer_config.model_type", document: mutated([("transformer_layer_config.model_type", nil)])),
        Case(rule: .layerConfigDefaultedKey, severity: .warning, path: "transformer_layer_config.vocab_size", document: mutated([("transformer_layer_config.vocab_size", nil), ("draft_vocab_size", 96)])),
        Case(rule: .layerModelTypeUnsupported, severity: .warning, path: "transformer_layer_config.model_type", document: mutated([("transformer_layer_config.model_type", "mistral")])),
        Case(rule: .layerGeometry, severity: .warning, path: "transformer_layer_config.num_key_value_heads", document: mutated([("transformer_layer_config.num_key_value_heads", 3)])),
        Case(rule: .verifierPathNull, severity: .warning, path: "speculators_config.verifier.name_or_path", document: mutated([("speculators_config.verifier.name_or_path", .null)])),
        Case(rule: .auxLayerIdsUnset, severity: .warning, path: "eagle_aux_hidden_state_layer_ids", document: mutated([("eagle_aux_hidden_state_layer_ids", .null)])),
    ]

    /// Rules reported by checks outside this module, tested where they run: `checkpoint`
    /// (a folder's tensors against its config) in ConversionTests' RegistryTests.
    static let testedElsewhere: Set<ValidationRule> = [.checkpoint]

    @Test("Every rule has a test case")
    func everyRuleCovered() {
        #expect(Set(Self.cases.map(\.rule)) == Set(ValidationRule.allCases).subtracting(Self.testedElsewhere))
        #expect(Self.cases.count + Self.testedElsewhere.count == ValidationRule.allCases.count)
    }

    @Test("A minimal change triggers the rule at the expected path, and no other error", arguments: cases)
    func rule(_ testCase: Case) throws {
        let report: ValidationReport
        if testCase.rule == .fileAccess {
            report = SpeculatorConfigValidator.validate(path: "/nonexistent/speculator/config.json")
        } else {
            report = SpeculatorConfigValidator.validate(data: try testCase.document(), verifierLayerCount: testCase.verifierLayers,
                                                        verifier: testCase.verifier)
        }
        let issues = testCase.severity == .error ? report.errors : report.warnings
        let matching = issues.filter { $0.rule == testCase.rule }
        #expect(matching.map(\.path) == [testCase.path], "\(report.errors + report.warnings)")
        #expect(matching.allSatisfy { !$0.message.isEmpty })
        if testCase.severity == .error {
            #expect(report.errors.count == 1, "\(report.errors)")
            #expect(!report.isValid)
        } else {
            #expect(report.isValid, "\(report.errors)")
        }
    }

    @Test("All errors of a document are reported at once, each at its own path")
    func allErrorsAtOnce() throws {
        let data = try Self.mutated([
            ("draft_vocab_size", "many"),
            ("speculators_config.proposal_methods[0].speculative_tokens", 0),
            ("speculators_config.verifier.architectures", nil),
            ("transformer_layer_config", "llama"),
            ("norm_output", "sometimes"),
        ])()
        let report = SpeculatorConfigValidator.validate(data: data)
        #expect(report.errors.map(\.path).sorted() == [
            "draft_vocab_size", "norm_output", "speculators_config.proposal_methods[0].speculative_tokens",
            "speculators_config.verifier.architectures", "transformer_layer_config",
        ])
    }

    @Test("Cross-field rules skip values that failed to read instead of judging placeholders")
    func crossFieldRulesSkipFailedFields() throws {
        // proposal_methods fails, so the default-method rule must not also fire on an empty list.
        let data = try Self.mutated([("speculators_config.proposal_methods[0].speculative_tokens", "x")])()
        let report = SpeculatorConfigValidator.validate(data: data)
        #expect(report.errors.map(\.rule) == [.expectedInteger])
    }

    /// Tables checked against pydantic 2.13 (`BaseModel` fields `int = Field(ge=1)`, `bool`, `float = Field(ge=0)`).
    @Test("Integers accept exactly pydantic's lax inputs", arguments: [
        (JSONValue.string(" 12 "), true), ("+3", true), ("3.00", true), (" 3.0 ", true), ("3.5", false), ("1_000", true),
        ("1__0", false), ("_1", false), ("", false), ("１", false), ("1e3", false), ("0x10", false), ("-0", false),
        (.double(3.0), true), (.bool(true), true), (.double(.nan), false), (.null, false), (JSONValue.array([1]), false),
    ])
    func integerCoercion(value: JSONValue, accepted: Bool) throws {
        let data = try Self.mutated([("speculators_config.proposal_methods[0].speculative_tokens", value)])()
        let report = SpeculatorConfigValidator.validate(data: data)
        #expect(report.isValid == accepted, "\(report.errors)")
    }

    @Test("Booleans accept pydantic's strings and 0/1 only", arguments: [
        (JSONValue.string("YES"), true), ("off", true), ("t", true), ("N", true), (0, true), (1.0, true),
        ("sometimes", false), (2, false), ("", false), (.null, false), ("True ", false), (" yes", false), (0.5, false), ("1.0", false),
    ])
    func booleanCoercion(value: JSONValue, accepted: Bool) throws {
        let report = SpeculatorConfigValidator.validate(data: try Self.mutated([("norm_output", value)])())
        #expect(report.isValid == accepted)
    }

    @Test("Numbers accept pydantic's lax inputs, including inf, and reject NaN by the lower bound", arguments: [
        (JSONValue.string("1.5"), true), (" 2 ", true), ("inf", true), ("1_0", true), ("-0.0", true), (.bool(true), true),
        ("nan", false), ("lots", false), (.double(.nan), false), ("1__0", false),
    ])
    func numberCoercion(value: JSONValue, accepted: Bool) throws {
        let data = try Self.mutated([("speculators_config.proposal_methods[0].accept_tolerance", value)])()
        #expect(SpeculatorConfigValidator.validate(data: data).isValid == accepted)
    }
}
