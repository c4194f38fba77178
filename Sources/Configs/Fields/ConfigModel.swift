/// What a config object does with keys none of its fields claim.
public enum UnknownKeyPolicy: Sendable {
    /// Drop them (pydantic `extra="ignore"`), with a warning so a typo does not go unnoticed.
    case drop
    /// Keep them and write them back on save (pydantic `extra="allow"`).
    case keep
}

/// A JSON config object described by a list of fields: `SpeculatorsConfig`, `VerifierConfig`,
/// the proposal configs and every speculator type. The generic `decode` below reads any of them.
public protocol ConfigModel: Sendable {
    /// Every field at its default value. Decoding starts from this and overwrites what the
    /// document gives; the JSON Schema reads the defaults from it.
    init()
    /// The class name of the Python library (`"VerifierConfig"`), used in messages and `$defs`.
    static var schemaTitle: String { get }
    static var schemaDescription: String { get }
    static var fields: [ConfigField<Self>] { get }
    static var rules: [ModelRule<Self>] { get }
    static var unknownKeyPolicy: UnknownKeyPolicy { get }
    /// Stores a key no field claims (only called with the `.keep` policy).
    mutating func keepUnknownKey(_ key: String, value: JSONValue)
    /// The keys stored by `keepUnknownKey`, written back by `encodeFields`.
    var keptUnknownKeys: JSONObject { get }
}

extension ConfigModel {
    public static var rules: [ModelRule<Self>] { [] }
    public static var unknownKeyPolicy: UnknownKeyPolicy { .drop }
    public mutating func keepUnknownKey(_ key: String, value: JSONValue) {}
    public var keptUnknownKeys: JSONObject { [:] }

    /// Reads `value` as this type, reporting every problem at its JSON path. Returns nil when any
    /// error was found (warnings do not count).
    public static func decode(_ value: JSONValue, at path: JSONPath = .root, issues: inout IssueCollector) -> Self? {
        guard case .object(let object) = value else {
            issues.add(.error(.expectedObject, at: path, value: value,
                "must be an object (\(schemaTitle)); got \(LaxCoercion.describe(value))"))
            return nil
        }
        let errorsBefore = issues.errorCount
        var result = Self()
        let fields = Self.fields
        for field in fields {
            let fieldPath = path.appending(field.name)
            if let fieldValue = object[field.name] {
                field.decodeValue(&result, fieldValue, fieldPath, &issues)
            } else if field.isRequired {
                issues.add(.error(.required, at: fieldPath, value: nil,
                    "Field required: \(schemaTitle) must have the key '\(field.name)'"))
            }
        }
        let known = Set(fields.map(\.name))
        for (key, unknownValue) in object.entries where !known.contains(key) {
            switch unknownKeyPolicy {
            case .keep:
                result.keepUnknownKey(key, value: unknownValue)
            case .drop:
                issues.add(.warning(.unknownKeyDropped, at: path.appending(key), value: unknownValue,
                    "\(schemaTitle) has no key '\(key)'; the Python library ignores it and it is not saved"))
            }
        }
        // A missing required field fails at its own path, so this also skips rules on missing fields.
        for rule in rules where !rule.dependsOn.contains(where: { issues.failed(at: path.appending($0)) }) {
            rule.check(result, path, &issues)
        }
        return issues.errorCount == errorsBefore ? result : nil
    }

    /// The fields in declaration order, then the kept unknown keys.
    public func encodeFields() -> JSONObject {
        var object = JSONObject()
        for field in Self.fields { object[field.name] = field.encodeValue(self) }
        for (key, value) in keptUnknownKeys.entries where object[key] == nil { object[key] = value }
        return object
    }

    /// The JSON keys of the fields, in declaration order.
    public static var fieldNames: [String] { fields.map(\.name) }

    /// The default value of a field as JSON, or nil for required fields (which have none).
    public static func defaultValue(of field: ConfigField<Self>) -> JSONValue? {
        field.isRequired ? nil : field.encodeValue(Self())
    }
}
