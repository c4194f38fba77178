import Foundation

// Helpers that turn Decodable's generic errors into `ConfigurationError`s naming the key path,
// and that reject unknown keys (a misspelt key would otherwise be silently ignored).

struct ConfigKey: CodingKey {
    let stringValue: String
    let intValue: Int?
    init(_ string: String) { stringValue = string; intValue = nil }
    init?(stringValue: String) { self.init(stringValue) }
    init?(intValue: Int) { stringValue = String(intValue); self.intValue = intValue }
}

/// Dotted path of a coding path (`limits.max_n`, `models[0].name`).
func configPath(_ codingPath: [any CodingKey], _ last: String? = nil) -> String {
    var path = ""
    for key in codingPath {
        if let i = key.intValue { path += "[\(i)]" } else { path += (path.isEmpty ? "" : ".") + key.stringValue }
    }
    if let last { path += (path.isEmpty ? "" : ".") + last }
    return path.isEmpty ? "(top level)" : path
}

extension KeyedDecodingContainer where Key == ConfigKey {
    /// Fails on keys outside `known`, naming the first one.
    func rejectUnknownKeys(_ known: Set<String>) throws {
        if let unknown = allKeys.map(\.stringValue).sorted().first(where: { !known.contains($0) }) {
            throw ConfigurationError(path: configPath(codingPath, unknown),
                                     problem: "is not a known key (known keys: \(known.sorted().joined(separator: ", ")))")
        }
    }

    /// The value at `key`, or `fallback` when the key is absent. `null` counts as absent only
    /// when `nullable` (then the answer is nil). A value of the wrong type names the key and
    /// the expected type.
    func value<T: Decodable>(_ key: String, _ type: T.Type, expected: String, default fallback: T) throws -> T {
        let k = ConfigKey(key)
        guard contains(k) else { return fallback }
        do {
            return try decode(T.self, forKey: k)
        } catch let error as ConfigurationError {
            throw error
        } catch {
            throw ConfigurationError(path: configPath(codingPath, key), problem: "must be \(expected)")
        }
    }

    /// Like `value` for optional settings: absent or null gives nil.
    func optional<T: Decodable>(_ key: String, _ type: T.Type, expected: String) throws -> T? {
        let k = ConfigKey(key)
        guard contains(k), try !decodeNil(forKey: k) else { return nil }
        return try value(key, Optional<T>.self, expected: expected, default: nil)
    }
}

/// Range checks with uniform wording.
enum ConfigCheck {
    static func integer(_ value: Int, _ path: String, in range: ClosedRange<Int>) throws(ConfigurationError) {
        guard range.contains(value) else {
            let bounds = range.upperBound == Int.max ? "≥ \(range.lowerBound)" : "in \(range.lowerBound)...\(range.upperBound)"
            throw ConfigurationError(path: path, problem: "must be an integer \(bounds), got \(value)")
        }
    }

    static func positive(_ value: Double, _ path: String, allowZero: Bool = false) throws(ConfigurationError) {
        guard value.isFinite, value > 0 || (allowZero && value == 0) else {
            throw ConfigurationError(path: path, problem: "must be a \(allowZero ? "non-negative" : "positive") "
                                     + "number of seconds, got \(value)")
        }
    }

    static func nonEmpty(_ value: String, _ path: String) throws(ConfigurationError) {
        guard !value.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw ConfigurationError(path: path, problem: "must be a non-empty string")
        }
    }
}
