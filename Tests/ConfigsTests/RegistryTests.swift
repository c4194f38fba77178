import Foundation
import Testing
import Configs

/// The registries pick the type by discriminator, list the known types on a miss, and every
/// registered type reads, defaults and writes its fields.
@Suite struct RegistryTests {
    /// A minimal document of a type: only the discriminator and the speculators block.
    static func minimal(_ type: String) throws -> JSONObject {
        let speculators = try #require(try Fixtures.baseConfig()["speculators_config"])
        return ["speculators_model_type": .string(type), "speculators_config": speculators.objectValue.map {
            .object($0.merging(["algorithm": .string(type)]))
        } ?? .null]
    }

    @Test("The model-type registry lists the library's seven types in its order")
    func modelTypeNames() {
        #expect(SpeculatorRegistry.names == ["dflash", "dflash2", "dspark", "eagle3", "mtp", "peagle", "xpress"])
        #expect(ProposalRegistry.names == ["greedy"])
    }

    @Test("Each registered type is chosen by its speculators_model_type and reads its class defaults",
          arguments: SpeculatorRegistry.names)
    func decodesRegisteredType(name: String) throws {
        let report = SpeculatorConfigValidator.validate(json: .object(try Self.minimal(name)))
        #expect(report.errors.isEmpty, "\(report.errors)")
        let config = try #require(report.config)
        #expect(config.speculatorsModelType == name)
        #expect(type(of: config).speculatorsModelType == name)
        #expect(report.configClass == type(of: config).schemaTitle)
        // Defaults are written out in full, and the written form reads back identically.
        let dict = config.toDict()
        for name in type(of: config).fieldNames { #expect(dict[name] != nil, "\(name)") }
        let again = try SpeculatorModelConfig.fromDict(dict)
        #expect(again.toDict() == dict)
    }

    @Test("Subclass types override the defaults the library overrides")
    func subclassDefaults() throws {
        let peagle = try #require(try SpeculatorModelConfig.fromDict(try Self.minimal("peagle")) as? PEagleSpeculatorConfig)
        #expect(peagle.eagle3.embedRequiresGrad)
        #expect(peagle.architectures == ["PEagleSpeculator"])
        #expect(peagle.maskTokenId == nil)
        let eagle = try #require(try SpeculatorModelConfig.fromDict(try Self.minimal("eagle3")) as? Eagle3SpeculatorConfig)
        #expect(!eagle.embedRequiresGrad)
        #expect(eagle.architectures == ["Eagle3Speculator"])
        #expect(eagle.transformerLayerConfig.modelType == "qwen3")
        #expect(eagle.transformerLayerConfig.vocabSize == 151936)
        #expect(eagle.draftVocabSize == 32000)
        let dspark = try #require(try SpeculatorModelConfig.fromDict(try Self.minimal("dspark")) as? DSparkSpeculatorConfig)
        #expect(dspark.dflash.sampleFromAnchor)
        #expect(dspark.markovHeadType == "vanilla")
        let dflash = try #require(try SpeculatorModelConfig.fromDict(try Self.minimal("dflash")) as? DFlashSpeculatorConfig)
        #expect(!dflash.sampleFromAnchor)
        #expect(dflash.blockSize == 8)
        let dflash2 = try #require(try SpeculatorModelConfig.fromDict(try Self.minimal("dflash2")) as? DFlash2SpeculatorConfig)
        #expect(dflash2.dflash.slidingWindowNonCausal)
        #expect(dflash2.architectures == ["DFlash2DraftModel"])
        let mtp = try #require(try SpeculatorModelConfig.fromDict(try Self.minimal("mtp")) as? MTPSpeculatorConfig)
        #expect(mtp.transformerLayerConfig.modelType == "qwen2")
        #expect(mtp.draftVocabSize == mtp.vocabSize)
        let xpress = try #require(try SpeculatorModelConfig.fromDict(try Self.minimal("xpress")) as? XPressSpeculatorConfig)
        #expect(xpress.numJacobiPasses == 6)
    }

    @Test("Subclass types carry every field of their parent type")
    func inheritedFields() {
        let eagle = Set(Eagle3SpeculatorConfig.fields.map(\.name))
        #expect(Set(PEagleSpeculatorConfig.fields.map(\.name)) == eagle.union(["mask_token_id"]))
        let dflash = Set(DFlashSpeculatorConfig.fields.map(\.name))
        for fields in [DSparkSpeculatorConfig.fields.map(\.name), DFlash2SpeculatorConfig.fields.map(\.name), XPressSpeculatorConfig.fields.map(\.name)] {
            #expect(dflash.isSubset(of: Set(fields)))
            #expect(Set(fields).count == fields.count, "field names are unique")
        }
    }

    @Test("P-EAGLE applies the EAGLE-3 rules, and DFlash2 its lower bounds")
    func inheritedRules() throws {
        var peagle = try Self.minimal("peagle")
        peagle["fc_norm"] = true
        peagle["norm_before_fc"] = true
        #expect(SpeculatorConfigValidator.validate(json: .object(peagle)).errors.map(\.rule) == [.normFlagsExclusive])
        var dflash2 = try Self.minimal("dflash2")
        dflash2["selector_top_k"] = 0
        let errors = SpeculatorConfigValidator.validate(json: .object(dflash2)).errors
        #expect(errors.map(\.rule) == [.minimum])
        #expect(errors.map(\.path) == ["selector_top_k"])
    }

    @Test("An unknown speculators_model_type names every registered type")
    func unknownModelType() throws {
        var object = try Fixtures.baseConfig()
        object["speculators_model_type"] = "eagle9"
        let error = try #require(SpeculatorConfigValidator.validate(json: .object(object)).errors.first)
        #expect(error.rule == .unknownSpeculatorsModelType)
        #expect(error.value == "eagle9")
        #expect(error.message.contains("'dflash', 'dflash2', 'dspark', 'eagle3', 'mtp', 'peagle', 'xpress'"))
    }

    @Test("A non-string discriminator is an unknown type, not a crash")
    func nonStringDiscriminator() throws {
        var object = try Fixtures.baseConfig()
        object["speculators_model_type"] = 3
        #expect(SpeculatorConfigValidator.validate(json: .object(object)).errors.map(\.rule) == [.unknownSpeculatorsModelType])
        object = object.setting("speculators_config.proposal_methods[0].proposal_type", to: .null)
        object["speculators_model_type"] = "eagle3"
        #expect(SpeculatorConfigValidator.validate(json: .object(object)).errors.map(\.rule) == [.unknownProposalType])
    }

    @Test("An unknown proposal_type names every registered proposal type")
    func unknownProposalType() throws {
        let object = try Fixtures.baseConfig().setting("speculators_config.proposal_methods[0].proposal_type", to: "beam")
        let error = try #require(SpeculatorConfigValidator.validate(json: .object(object)).errors.first)
        #expect(error.rule == .unknownProposalType)
        #expect(error.message.contains("'greedy'"))
    }

    @Test("Reading through a concrete type rejects another type's discriminator")
    func concreteTypeLiteral() throws {
        var object = try Fixtures.baseConfig()
        object["speculators_model_type"] = "peagle"
        var issues = IssueCollector()
        #expect(Eagle3SpeculatorConfig.decode(.object(object), issues: &issues) == nil)
        #expect(issues.issues.filter { $0.severity == .error }.map(\.rule) == [.literal])
        #expect(issues.issues.first { $0.severity == .error }?.path == "speculators_model_type")
    }

    @Test("The default proposal is the first method of the default type; its speculative_tokens is vLLM's K")
    func defaultProposal() throws {
        let config = try SpeculatorModelConfig.fromDict(try Fixtures.object("valid", "llama-greedy-two-methods.json"))
        let speculators = try #require(config.speculatorsConfig)
        #expect(speculators.proposalMethods.count == 2)
        #expect(speculators.speculativeTokens == 2)
        #expect((speculators.defaultProposal as? GreedyTokenProposalConfig)?.verifierAcceptK == 1)
        #expect(config.verifier?.nameOrPath == "tiny-llama")
    }
}
