/// How bad an issue is. Errors make a config invalid; warnings flag configs the Python library
/// accepts but that are probably not what their author meant.
public enum IssueSeverity: String, Sendable, Hashable, Codable {
    case error
    case warning
}

/// One problem found in a config: where (JSON path), what was there (value), which rule, and a
/// sentence for a person.
public struct ValidationIssue: Sendable, Hashable, CustomStringConvertible {
    public var severity: IssueSeverity
    public var path: JSONPath
    /// The offending value as found in the document; `nil` when the key is missing or the issue
    /// concerns the whole document.
    public var value: JSONValue?
    public var rule: ValidationRule
    public var message: String

    public init(_ severity: IssueSeverity, _ rule: ValidationRule, at path: JSONPath, value: JSONValue?, _ message: String) {
        self.severity = severity
        self.rule = rule
        self.path = path
        self.value = value
        self.message = message
    }

    public static func error(_ rule: ValidationRule, at path: JSONPath, value: JSONValue?, _ message: String) -> ValidationIssue {
        ValidationIssue(.error, rule, at: path, value: value, message)
    }

    public static func warning(_ rule: ValidationRule, at path: JSONPath, value: JSONValue?, _ message: String) -> ValidationIssue {
        ValidationIssue(.warning, rule, at: path, value: value, message)
    }

    /// `path: message [rule]`, the one-line form used by the CLI.
    public var description: String {
        let location = path.isRoot ? "(document)" : path.description
        return "\(location): \(message) [\(rule.rawValue)]"
    }

    /// Stable JSON form: `{"message", "path", "rule", "severity", "value"?}`.
    public var jsonValue: JSONValue {
        var object: JSONObject = [
            "severity": .string(severity.rawValue),
            "path": .string(path.description),
            "rule": .string(rule.rawValue),
            "message": .string(message),
        ]
        if let value { object["value"] = value }
        return .object(object)
    }
}

/// Collects issues while a document is decoded, and remembers which paths failed so that
/// cross-field rules can skip values that were never read.
public struct IssueCollector: Sendable {
    public private(set) var issues: [ValidationIssue] = []
    private var failedPaths: Set<JSONPath> = []

    public init() {}

    public var errorCount: Int { issues.count(where: { $0.severity == .error }) }

    public mutating func add(_ issue: ValidationIssue) {
        issues.append(issue)
        if issue.severity == .error { failedPaths.insert(issue.path) }
    }

    public mutating func add(contentsOf other: [ValidationIssue]) { other.forEach { add($0) } }

    /// True when an error was reported at `path` or anywhere below it.
    public func failed(at path: JSONPath) -> Bool {
        failedPaths.contains { $0.components.starts(with: path.components) }
    }
}
