/// The outcome of validating one config: its errors and warnings, the type it resolved to, and
/// the decoded config when it is valid. This is what `speculators validate` prints and what the
/// server returns for `POST /v1/speculators/validate` (`jsonValue`).
public struct ValidationReport: Sendable {
    /// The file the config came from, if any.
    public var source: String?
    /// The registered `speculators_model_type` the document resolved to, if it did.
    public var speculatorsModelType: String?
    /// The config class of that type (`"Eagle3SpeculatorConfig"`).
    public var configClass: String?
    public var errors: [ValidationIssue]
    public var warnings: [ValidationIssue]
    /// The decoded config; nil when there are errors.
    public var config: (any SpeculatorTypeConfig)?

    public var isValid: Bool { errors.isEmpty }

    /// Adds an issue found by a check outside this module (the checkpoint's tensors); an error
    /// makes the report invalid and drops its config.
    public mutating func add(_ issue: ValidationIssue) {
        if issue.severity == .error {
            errors.append(issue)
            config = nil
        } else {
            warnings.append(issue)
        }
    }

    public init(source: String?, speculatorsModelType: String?, configClass: String?, issues: [ValidationIssue], config: (any SpeculatorTypeConfig)?) {
        self.source = source
        self.speculatorsModelType = speculatorsModelType
        self.configClass = configClass
        self.errors = issues.filter { $0.severity == .error }
        self.warnings = issues.filter { $0.severity == .warning }
        self.config = errors.isEmpty ? config : nil
    }

    /// Stable JSON form. Keys: `valid`, `source`, `speculators_model_type`, `config_class`,
    /// `errors` and `warnings` (lists of issues: `severity`, `path`, `rule`, `message`, `value`),
    /// and `config` (the config as it would be saved) when valid. Absent facts are `null`.
    public var jsonValue: JSONValue {
        var object: JSONObject = [
            "valid": .bool(isValid),
            "source": source.map { .string($0) } ?? .null,
            "speculators_model_type": speculatorsModelType.map { .string($0) } ?? .null,
            "config_class": configClass.map { .string($0) } ?? .null,
            "errors": .array(errors.map(\.jsonValue)),
            "warnings": .array(warnings.map(\.jsonValue)),
        ]
        object["config"] = config.map { .object($0.toDiffDict()) } ?? .null
        return .object(object)
    }

    /// `jsonValue` as text: sorted keys, two-space indent, trailing newline.
    public var jsonText: String { PythonJSONWriter.configFile(jsonValue) }

    /// Human-readable lines: a verdict, then one line per error and warning.
    public var text: String {
        let name = source ?? "<config>"
        var verdict: String
        if isValid {
            verdict = "\(name): valid"
            if let speculatorsModelType, let configClass { verdict += " (\(speculatorsModelType), \(configClass))" }
        } else {
            verdict = "\(name): INVALID, \(Self.count(errors.count, "error"))"
        }
        if !warnings.isEmpty { verdict += (isValid ? ", " : "; ") + Self.count(warnings.count, "warning") }
        let lines = [verdict] + errors.map { "  error: \($0)" } + warnings.map { "  warning: \($0)" }
        return lines.joined(separator: "\n") + "\n"
    }

    static func count(_ n: Int, _ noun: String) -> String { n == 1 ? "1 \(noun)" : "\(n) \(noun)s" }
}

/// Several reports together, as `speculators validate a.json b/ ...` produces them.
public struct ValidationSummary: Sendable {
    public var reports: [ValidationReport]

    public init(reports: [ValidationReport]) { self.reports = reports }

    public var allValid: Bool { reports.allSatisfy(\.isValid) }

    /// The CLI's exit status: 0 when every config is valid, 1 otherwise.
    public var exitCode: Int32 { allValid ? 0 : 1 }

    /// `{"all_valid": Bool, "reports": [...]}`, sorted keys, trailing newline.
    public var jsonText: String {
        PythonJSONWriter.configFile(["all_valid": .bool(allValid), "reports": .array(reports.map(\.jsonValue))])
    }

    public var text: String {
        let valid = reports.count(where: \.isValid)
        return reports.map(\.text).joined() + "\(valid) of \(reports.count) config\(reports.count == 1 ? "" : "s") valid\n"
    }
}
