import Foundation

/// The one entry point for checking speculator configs: from bytes (the HTTP endpoint), from
/// files or folders (the CLI), and the checks the library only makes when a model is loaded.
public enum SpeculatorConfigValidator {
    /// Validates a `config.json` document. With `verifierLayerCount`, also makes the load-time
    /// checks against a verifier with that many layers.
    public static func validate(data: Data, source: String? = nil, verifierLayerCount: Int? = nil) -> ValidationReport {
        let value: JSONValue
        do {
            value = try JSONParser.parse(data)
        } catch {
            return ValidationReport(source: source, speculatorsModelType: nil, configClass: nil,
                issues: [.error(.invalidJSON, at: .root, value: nil, "not valid JSON: \(error)")], config: nil)
        }
        return validate(json: value, source: source, verifierLayerCount: verifierLayerCount)
    }

    /// Validates an already parsed document.
    public static func validate(json value: JSONValue, source: String? = nil, verifierLayerCount: Int? = nil) -> ValidationReport {
        var issues = IssueCollector()
        let config = SpeculatorModelConfig.decode(value, issues: &issues)
        if let config, let verifierLayerCount {
            issues.add(contentsOf: loadTimeIssues(for: config, verifierLayerCount: verifierLayerCount))
        }
        var type: (any SpeculatorTypeConfig.Type)?
        if case .string(let name)? = value.objectValue?[SpeculatorRegistry.discriminator] {
            type = SpeculatorRegistry.type(named: name)
        }
        return ValidationReport(source: source, speculatorsModelType: type?.speculatorsModelType,
                                configClass: type?.schemaTitle, issues: issues.issues, config: config)
    }

    /// Validates a `config.json` file, or the `config.json` of a speculator folder.
    public static func validate(path: String, verifierLayerCount: Int? = nil) -> ValidationReport {
        let file = SpeculatorConfigFile.configPath(for: path)
        guard let data = FileManager.default.contents(atPath: file) else {
            return ValidationReport(source: file, speculatorsModelType: nil, configClass: nil,
                issues: [.error(.fileAccess, at: .root, value: nil, "cannot read \(file): no such file, or not readable")], config: nil)
        }
        return validate(data: data, source: file, verifierLayerCount: verifierLayerCount)
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
}
