import Foundation

/// Why a tokenizer or chat template could not be loaded or used. Every message names the file, JSON key
/// path or token involved.
public enum TokenizerError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A file could not be read or is not valid JSON.
    case unreadableFile(path: String, reason: String)
    /// A JSON value is missing or has the wrong type; `keyPath` is like `model.merges[12]`.
    case invalidValue(keyPath: String, problem: String)
    /// A valid tokenizer feature that this implementation does not provide (for example a WordPiece model).
    case unsupported(String)
    /// The vocabulary is inconsistent (for example a merge whose result is not in the vocabulary).
    case inconsistentVocabulary(String)

    public var description: String {
        switch self {
        case .unreadableFile(let path, let reason): return "cannot read \(path): \(reason)"
        case .invalidValue(let keyPath, let problem): return "\(keyPath): \(problem)"
        case .unsupported(let what): return "unsupported tokenizer feature: \(what)"
        case .inconsistentVocabulary(let what): return "inconsistent vocabulary: \(what)"
        }
    }
}

/// Typed, path-aware access to a decoded JSON object, so that a bad file yields an error naming the key.
struct JSONObject {
    let values: [String: Any]
    /// Key path of this object inside its file, such as `tokenizer.json: model`.
    let path: String

    init(_ values: [String: Any], path: String) {
        self.values = values
        self.path = path
    }

    init(_ value: Any?, path: String) throws {
        guard let values = value as? [String: Any] else {
            throw TokenizerError.invalidValue(keyPath: path, problem: "expected an object, found \(JSONObject.kind(of: value))")
        }
        self.init(values, path: path)
    }

    func keyPath(_ key: String) -> String {
        if path.isEmpty { return key }
        return path.hasSuffix(":") ? "\(path) \(key)" : "\(path).\(key)"
    }

    /// True when the key is absent or null.
    func isMissing(_ key: String) -> Bool { values[key] == nil || values[key] is NSNullLike }

    func string(_ key: String) throws -> String? {
        guard !isMissing(key) else { return nil }
        guard let string = values[key] as? String else { throw typeError(key, "a string") }
        return string
    }

    func requiredString(_ key: String) throws -> String {
        guard let string = try string(key) else { throw missing(key) }
        return string
    }

    func bool(_ key: String) throws -> Bool? {
        guard !isMissing(key) else { return nil }
        guard let value = JSONObject.asBool(values[key]) else { throw typeError(key, "true or false") }
        return value
    }

    func int(_ key: String) throws -> Int? {
        guard !isMissing(key) else { return nil }
        guard let value = JSONObject.asInt(values[key]) else { throw typeError(key, "an integer") }
        return value
    }

    func object(_ key: String) throws -> JSONObject? {
        guard !isMissing(key) else { return nil }
        return try JSONObject(values[key], path: keyPath(key))
    }

    func requiredObject(_ key: String) throws -> JSONObject {
        guard let object = try object(key) else { throw missing(key) }
        return object
    }

    func array(_ key: String) throws -> [Any]? {
        guard !isMissing(key) else { return nil }
        guard let array = values[key] as? [Any] else { throw typeError(key, "an array") }
        return array
    }

    func missing(_ key: String) -> TokenizerError {
        .invalidValue(keyPath: keyPath(key), problem: "required value is missing")
    }

    func typeError(_ key: String, _ expected: String) -> TokenizerError {
        .invalidValue(keyPath: keyPath(key), problem: "expected \(expected), found \(JSONObject.kind(of: values[key]))")
    }

    static func asInt(_ value: Any?) -> Int? {
        if isBoolean(value) { return nil }
        if let int = value as? Int { return int }
        if let double = value as? Double, double == double.rounded(), abs(double) < 1e15 { return Int(double) }
        return nil
    }

    static func asBool(_ value: Any?) -> Bool? {
        guard isBoolean(value) else { return nil }
        return value as? Bool
    }

    /// JSONSerialization returns numbers and booleans as NSNumber, and an NSNumber holding 0 or 1 casts to
    /// Bool; only true/false literals come back as the boolean subclass, whose Objective-C type is "c".
    static func isBoolean(_ value: Any?) -> Bool {
        guard let number = value as? NSNumber else { return value is Bool }
        // Only 0 and 1 can be booleans; checking the value first keeps the type check off the hot path.
        let integer = number.int64Value
        guard integer == 0 || integer == 1 else { return false }
        return number.objCType.pointee == CChar(UInt8(ascii: "c"))
    }

    static func kind(of value: Any?) -> String {
        switch value {
        case nil: return "nothing"
        case is NSNullLike: return "null"
        case is String: return "a string"
        case let value where isBoolean(value): return "a boolean"
        case is NSNumber, is Int, is Double: return "a number"
        case is [Any]: return "an array"
        case is [String: Any]: return "an object"
        case let value?: return "a value of type \(type(of: value))"
        }
    }
}
