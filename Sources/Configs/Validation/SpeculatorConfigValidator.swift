import Foundation

/// The one entry point for checking speculator configs: from bytes (the HTTP endpoint), from
/// files or folders (the CLI), and the checks the library only makes when a model is loaded.
public enum SpeculatorConfigValidator {
    /// Validates a `config.json` document. With `verifierLayerCount`, also makes the load-time
    /// checks against a verifier with that many layers; with `verifier`, also the ones against
    /// its vocabulary and hidden size (the serving endpoint's checklist).
    public static func validate(data: Data, source: String? = nil, verifierLayerCount: Int? = nil,
                                verifier: VerifierShape? = nil) -> ValidationReport {
        let value: JSONValue
        do {
            value = try JSONParser.parse(data)
        } catch {
            return ValidationReport(source: source, speculatorsModelType: nil, configClass: nil,
                issues: [.error(.invalidJSON, at: .root, value: nil, "not valid JSON: \(error)")], config: nil)
        }
        return validate(json: value, source: source, verifierLayerCount: verifierLayerCount, verifier: verifier)
    }

    /// Validates an already parsed document.
    public static func validate(json value: JSONValue, source: String? = nil, verifierLayerCount: Int? = nil,
                                verifier: VerifierShape? = nil) -> ValidationReport {
        var issues = IssueCollector()
        let config = SpeculatorModelConfig.decode(value, issues: &issues)
        if let config, let verifierLayerCount = verifierLayerCount ?? verifier?.layerCount {
            issues.add(contentsOf: loadTimeIssues(for: config, verifierLayerCount: verifierLayerCount))
        }
        if let config, let verifier {
            issues.add(contentsOf: verifierIssues(for: config, verifier: verifier))
        }
        var type: (any SpeculatorTypeConfig.Type)?
        if case .string(let name)? = value.objectValue?[SpeculatorRegistry.discriminator] {
            type = SpeculatorRegistry.type(named: name)
        }
        return ValidationReport(source: source, speculatorsModelType: type?.speculatorsModelType,
                                configClass: type?.schemaTitle, issues: issues.issues, config: config)
    }

    /// Validates a `config.json` file, or the `config.json` of a speculator folder.
    public static func validate(path: String, verifierLayerCount: Int? = nil, verifier: VerifierShape? = nil) -> ValidationReport {
        let file = SpeculatorConfigFile.configPath(for: path)
        guard let data = FileManager.default.contents(atPath: file) else {
            return ValidationReport(source: file, speculatorsModelType: nil, configClass: nil,
                issues: [.error(.fileAccess, at: .root, value: nil, "cannot read \(file): no such file, or not readable")], config: nil)
        }
        return validate(data: data, source: file, verifierLayerCount: verifierLayerCount, verifier: verifier)
    }

    /// Validates several files or folders (what `speculators validate` does).
    public static func validate(paths: [String], verifierLayerCount: Int? = nil) -> ValidationSummary {
        ValidationSummary(reports: paths.map { validate(path: $0, verifierLayerCount: verifierLayerCount) })
    }

    /// The checks the library makes only when a model is built or loaded, against a verifier
    /// with `verifierLayerCount` decoder layers: `speculators_config` must be present, and the
    /// aux layer ids (or their `[2, N/2, N-3]` default) must be distinct and within `[0, N]`.
    /// The model loader calls this once it knows the verifier.
    public static func loadTimeIssues(for config: any SpeculatorTypeConfig, verifierLayerCount: Int) -> [ValidationIssue] {
        var issues: [ValidationIssue] = []
        if config.speculatorsConfig == nil {
            issues.append(.error(.missingSpeculatorsConfig, at: JSONPath.root.appending("speculators_config"), value: nil,
                "speculators_config is missing: a model needs its verifier and proposal methods (the library fails with \"'NoneType' object has no attribute 'verifier'\")"))
        }
        if let (key, ids) = config.auxLayerIdsField {
            do {
                _ = try AuxLayerIds.resolve(ids, key: key, verifierLayerCount: verifierLayerCount)
            } catch {
                issues.append(contentsOf: error.issues)
            }
        }
        return issues
    }

    /// What serving an EAGLE-3 draft on `verifier` needs beyond the library's own checks, which
    /// only weight loading would otherwise find (spec-decode-serving §3.6): a named verifier, at
    /// least one draft layer, the verifier's vocabulary (token ids and embedding are shared), a
    /// draft vocabulary no larger, and `target_hidden_size`, when set, the verifier's width.
    public static func verifierIssues(for config: any SpeculatorTypeConfig, verifier: VerifierShape) -> [ValidationIssue] {
        var issues: [ValidationIssue] = []
        if let name = config.verifier?.nameOrPath, name.trimmingCharacters(in: .whitespaces).isEmpty {
            issues.append(.error(.verifierMismatch, at: "speculators_config.verifier.name_or_path", value: .string(name),
                "is empty; name the verifier the draft was trained for"))
        }
        guard let eagle = config as? Eagle3SpeculatorConfig else { return issues }
        let layer = eagle.transformerLayerConfig
        if layer.numHiddenLayers < 1 {
            issues.append(.error(.verifierMismatch, at: "transformer_layer_config.num_hidden_layers", value: .int(layer.numHiddenLayers),
                "must be at least 1: a draft needs a decoder layer"))
        }
        if layer.vocabSize != verifier.vocabSize {
            issues.append(.error(.verifierMismatch, at: "transformer_layer_config.vocab_size", value: .int(layer.vocabSize),
                "is \(layer.vocabSize) but the verifier's vocabulary has \(verifier.vocabSize) tokens; the draft shares its token ids and embedding"))
        }
        if eagle.draftVocabSize > verifier.vocabSize {
            issues.append(.error(.verifierMismatch, at: "draft_vocab_size", value: .int(eagle.draftVocabSize),
                "is larger than the verifier's vocabulary of \(verifier.vocabSize) tokens"))
        }
        if let target = eagle.targetHiddenSize, target != verifier.hiddenSize {
            issues.append(.error(.verifierMismatch, at: "target_hidden_size", value: .int(target),
                "is \(target) but the verifier's hidden size is \(verifier.hiddenSize)"))
        }
        return issues
    }
}

/// The verifier facts a speculator config is checked against when it is to be served.
public struct VerifierShape: Sendable, Equatable {
    public var layerCount: Int
    public var vocabSize: Int
    public var hiddenSize: Int

    public init(layerCount: Int, vocabSize: Int, hiddenSize: Int) {
        self.layerCount = layerCount
        self.vocabSize = vocabSize
        self.hiddenSize = hiddenSize
    }
}
