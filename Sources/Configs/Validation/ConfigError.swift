/// A config could not be read, built or saved. Carries every error found, not only the first.
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    public var issues: [ValidationIssue]
    /// The file or folder involved, if any.
    public var source: String?

    public init(issues: [ValidationIssue], source: String?) {
        self.issues = issues
        self.source = source
    }

    public init(_ rule: ValidationRule, at path: JSONPath = .root, value: JSONValue? = nil, _ message: String, source: String? = nil) {
        self.init(issues: [.error(rule, at: path, value: value, message)], source: source)
    }

    public var description: String {
        let prefix = source.map { "\($0): " } ?? ""
        let count = issues.count == 1 ? "1 error" : "\(issues.count) errors"
        return prefix + "invalid speculator config (\(count))\n" + issues.map { "  " + $0.description }.joined(separator: "\n")
    }
}
