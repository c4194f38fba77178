// A JSON value that keeps what Python's `json` module keeps: integers apart from floats, and key order.
//
// Foundation's JSONSerialization turns `1` and `1.0` into the same NSNumber and forgets key order,
// so a config read and re-written with it would not be byte-identical to what the Python library
// writes. Every config in this module goes through this type instead.

/// One JSON value, as Python's `json.loads` would see it.
public enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    /// A JSON number written without a fraction or exponent (`3`, `-2`).
    case int(Int)
    /// A JSON number written with a fraction or exponent (`3.0`, `1e-05`), or `NaN`/`Infinity`.
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)
}

extension JSONValue {
    /// The JSON type name used in error messages ("integer", "object", ...).
    public var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "boolean"
        case .int: return "integer"
        case .double: return "number"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }

    public var objectValue: JSONObject? {
        if case .object(let o) = self { return o }
        return nil
    }

    public var arrayValue: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// The value as an integer, only when it is a JSON integer.
    public var intValue: Int? {
        if case .int(let i) = self { return i }
        return nil
    }

    /// The value as a number: JSON integers and floats both count.
    public var doubleValue: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .double(let d): return d
        default: return nil
        }
    }

    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    public var isNull: Bool { self == .null }

    /// Compact one-line JSON of this value (Python `json.dumps` default separators), for messages.
    public var compactDescription: String { PythonJSONWriter.compact(self) }
}

extension JSONValue: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByArrayLiteral,
    ExpressibleByDictionaryLiteral
{
    public init(nilLiteral: ()) { self = .null }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) { self = .object(JSONObject(elements)) }
}

extension JSONValue: CustomStringConvertible {
    public var description: String { compactDescription }
}

/// A JSON object that remembers the order its keys were first inserted in, like a Python `dict`.
///
/// Equality ignores order (as `dict` equality does); serialisation may sort keys or keep this order.
public struct JSONObject: Sendable, Hashable {
    public private(set) var keys: [String] = []
    private var storage: [String: JSONValue] = [:]

    public init() {}

    /// Builds an object from pairs; a repeated key keeps its first position and its last value,
    /// which is what Python's `json.loads` does.
    public init<S: Sequence>(_ pairs: S) where S.Element == (String, JSONValue) {
        for (key, value) in pairs { self[key] = value }
    }

    public var count: Int { keys.count }
    public var isEmpty: Bool { keys.isEmpty }

    public subscript(key: String) -> JSONValue? {
        get { storage[key] }
        set {
            if let newValue {
                if storage.updateValue(newValue, forKey: key) == nil { keys.append(key) }
            } else if storage.removeValue(forKey: key) != nil {
                keys.removeAll { $0 == key }
            }
        }
    }

    public func contains(_ key: String) -> Bool { storage[key] != nil }

    /// Key-value pairs in insertion order.
    public var entries: [(key: String, value: JSONValue)] {
        keys.compactMap { key in storage[key].map { (key, $0) } }
    }

    /// Removes a key and returns its value.
    @discardableResult
    public mutating func removeValue(forKey key: String) -> JSONValue? {
        let old = storage[key]
        self[key] = nil
        return old
    }

    /// Adds every entry of `other`, its values winning (Python `{**self, **other}`).
    public func merging(_ other: JSONObject) -> JSONObject {
        var result = self
        for (key, value) in other.entries { result[key] = value }
        return result
    }

    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool { lhs.storage == rhs.storage }
    public func hash(into hasher: inout Hasher) { hasher.combine(storage) }
}

extension JSONObject: ExpressibleByDictionaryLiteral {
    public init(dictionaryLiteral elements: (String, JSONValue)...) { self.init(elements) }
}

extension JSONObject: Sequence {
    public func makeIterator() -> IndexingIterator<[(key: String, value: JSONValue)]> {
        entries.makeIterator()
    }
}

// MARK: - Non-finite floats as transformers 5 saves them

extension JSONValue {
    /// The key of transformers 5's tagged float: it saves `inf` as `{"__float__": "Infinity"}`
    /// (also `"-Infinity"`, `"NaN"`), because strict JSON readers refuse the bare literals
    /// Python's `json` would write, and reads such objects back as floats.
    public static let floatTagKey = "__float__"

    /// The tagged form of a non-finite float, or nil for a finite one.
    static func taggedFloat(_ value: Double) -> JSONValue? {
        if value.isNaN { return .object([floatTagKey: "NaN"]) }
        if value.isInfinite { return .object([floatTagKey: .string(value < 0 ? "-Infinity" : "Infinity")]) }
        return nil
    }

    /// This value with every tagged float, at any depth, replaced by the float it stands for
    /// (transformers' `_decode_special_floats`, applied to every `config.json` it reads). An
    /// object with other keys, or an unknown tag, stays as it is.
    public var decodingTaggedFloats: JSONValue {
        switch self {
        case .object(let object):
            if object.count == 1, case .string(let tag)? = object[Self.floatTagKey] {
                switch tag {
                case "NaN": return .double(.nan)
                case "Infinity": return .double(.infinity)
                case "-Infinity": return .double(-.infinity)
                default: return self
                }
            }
            return .object(JSONObject(object.entries.map { ($0.key, $0.value.decodingTaggedFloats) }))
        case .array(let elements):
            return .array(elements.map(\.decodingTaggedFloats))
        default:
            return self
        }
    }
}
