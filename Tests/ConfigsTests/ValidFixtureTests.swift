import Foundation
import Testing
import Configs

/// Every valid reference config is accepted, and our typed view matches the library's parsed view.
@Suite struct ValidFixtureTests {
    /// The warnings each accepted-but-odd fixture must raise (rule and path), and the one
    /// library-written fixture that warns; every other valid fixture must raise none.
    static let expectedWarnings: [String: [(ValidationRule, JSONPath)]] = [
        "accepted-accept-tolerance-huge.json": [
            (.acceptTolerance, "speculators_config.proposal_methods[0].accept_tolerance"),
            (.acceptTolerance, "speculators_config.proposal_methods[0].accept_tolerance"),
        ],
        "accepted-draft-vocab-size-float-integral.json": [(.coercedValue, "draft_vocab_size")],
        "accepted-draft-vocab-size-larger-than-target.json": [(.draftVocabSize, "draft_vocab_size")],
        "accepted-draft-vocab-size-numeric-string.json": [(.coercedValue, "draft_vocab_size")],
        "accepted-draft-vocab-size-zero.json": [(.draftVocabSize, "draft_vocab_size")],
        "accepted-layer-config-missing-hidden-size.json": [(.layerConfigDefaultedKey, "transformer_layer_config.hidden_size")],
        "accepted-norm-before-residual-int-1.json": [(.coercedValue, "norm_before_residual")],
        "accepted-norm-before-residual-string-yes.json": [(.coercedValue, "norm_before_residual")],
        "accepted-speculative-tokens-numeric-string.json": [(.coercedValue, "speculators_config.proposal_methods[0].speculative_tokens")],
        "accepted-transformer-layer-config-no-model-type.json": [(.layerConfigDefaultClass, "transformer_layer_config.model_type")],
        "accepted-unknown-algorithm.json": [(.algorithmMismatch, "speculators_config.algorithm")],
        "accepted-unknown-extra-field.json": [(.unknownKeyKept, "some_future_field")],
        "accepted-verifier-name-or-path-null.json": [(.verifierPathNull, "speculators_config.verifier.name_or_path")],
        "smollm2-aux-ids-unset.json": [(.auxLayerIdsUnset, "eagle_aux_hidden_state_layer_ids")],
    ]

    @Test("The fixture set is complete: 13 accepted and 15 library-written valid configs")
    func fixtureCounts() {
        #expect(Fixtures.acceptedNames.count == 13)
        #expect(Fixtures.libraryWrittenNames.count == 15)
        #expect(Set(Self.expectedWarnings.keys).isSubset(of: Set(Fixtures.validNames)))
    }

    @Test("Every valid fixture is accepted as an eagle3 config with exactly the expected warnings",
          arguments: Fixtures.validNames)
    func accepted(name: String) throws {
        let report = SpeculatorConfigValidator.validate(data: try Fixtures.data("valid", name), source: name)
        #expect(report.errors.isEmpty, "\(report.errors)")
        #expect(report.isValid)
        #expect(report.speculatorsModelType == "eagle3")
        #expect(report.configClass == "Eagle3SpeculatorConfig")
        #expect(report.config is Eagle3SpeculatorConfig)
        let expected = Self.expectedWarnings[name] ?? []
        let got = report.warnings.map { "\($0.rule.rawValue) @ \($0.path)" }.sorted()
        #expect(got == expected.map { "\($0.0.rawValue) @ \($0.1)" }.sorted(), "\(report.warnings)")
    }

    @Test("The typed view of every valid fixture matches the library's parsed view", arguments: Fixtures.validNames)
    func parsedView(name: String) throws {
        let expected = try #require(try Fixtures.json("valid", "expected.json").objectValue?[name]?.objectValue?["parsed"]?.objectValue)
        let config = try #require(try SpeculatorModelConfig.fromJSON(try Fixtures.text("valid", name)) as? Eagle3SpeculatorConfig)
        let layer = config.transformerLayerConfig
        let speculators = try #require(config.speculatorsConfig)
        let view: JSONObject = [
            "class": .string(Eagle3SpeculatorConfig.schemaTitle),
            "speculators_model_type": .string(config.speculatorsModelType),
            "layer_model_type": .string(layer.modelType),
            "layer_config_class": layer.configClassName.map { .string($0) } ?? .null,
            "hidden_size": .int(layer.hiddenSize),
            "num_hidden_layers": .int(layer.numHiddenLayers),
            "target_vocab_size": .int(config.targetVocabSize),
            "draft_vocab_size": .int(config.draftVocabSize),
            "eagle_aux_hidden_state_layer_ids": config.eagleAuxHiddenStateLayerIds.map { .array($0.map { .int($0) }) } ?? .null,
            "target_hidden_size": config.targetHiddenSize.map { .int($0) } ?? .null,
            "norm_before_residual": .bool(config.normBeforeResidual),
            "norm_before_fc": .bool(config.normBeforeFc),
            "fc_norm": .bool(config.fcNorm),
            "norm_output": .bool(config.normOutput),
            "algorithm": .string(speculators.algorithm),
            "default_proposal_method": .string(speculators.defaultProposalMethod),
            "proposal_methods": .array(try speculators.proposalMethods.map { method in
                let greedy = try #require(method as? GreedyTokenProposalConfig)
                return [
                    "proposal_type": .string(greedy.proposalType),
                    "speculative_tokens": .int(greedy.speculativeTokens),
                    "verifier_accept_k": .int(greedy.verifierAcceptK),
                    "accept_tolerance": .double(greedy.acceptTolerance),
                ]
            }),
            "verifier": [
                "name_or_path": speculators.verifier.nameOrPath.map { .string($0) } ?? .null,
                "architectures": .array(speculators.verifier.architectures.map { .string($0) }),
            ],
        ]
        #expect(view == expected)
    }
}
