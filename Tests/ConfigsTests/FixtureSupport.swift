import Foundation
import Testing
import Configs

/// Locates and reads the fixtures copied next to the tests (see Fixtures/README.md).
enum Fixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func url(_ group: String, _ name: String) -> URL {
        root.appendingPathComponent(group).appendingPathComponent(name)
    }

    static func data(_ group: String, _ name: String) throws -> Data {
        try Data(contentsOf: url(group, name))
    }

    static func text(_ group: String, _ name: String) throws -> String {
        String(decoding: try data(group, name), as: UTF8.self)
    }

    static func json(_ group: String, _ name: String) throws -> JSONValue {
        try JSONParser.parse(try data(group, name))
    }

    static func object(_ group: String, _ name: String) throws -> JSONObject {
        try #require(try json(group, name).objectValue)
    }

    /// The fixture files of a group, without `expected.json`, sorted.
    static func names(_ group: String) -> [String] {
        let all = (try? FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent(group).path)) ?? []
        return all.filter { $0.hasSuffix(".json") && $0 != "expected.json" }.sorted()
    }

    static let validNames = names("valid")
    static let invalidNames = names("invalid")
    /// Files written by the library itself (must round-trip byte for byte).
    static let libraryWrittenNames = validNames.filter { !$0.hasPrefix("accepted-") }
    static let acceptedNames = validNames.filter { $0.hasPrefix("accepted-") }

    /// The base config most rule tests mutate: a library-written EAGLE-3 config.
    static func baseConfig() throws -> JSONObject { try object("valid", "llama-draftvocab.json") }
}

extension JSONObject {
    /// Sets the value at a dotted path (`speculators_config.proposal_methods[0].speculative_tokens`);
    /// `nil` removes the key.
    func setting(_ path: JSONPath, to value: JSONValue?) -> JSONObject {
        var copy = JSONValue.object(self)
        copy.set(path.components[...], to: value)
        return copy.objectValue ?? self
    }
}

extension JSONValue {
    mutating func set(_ components: ArraySlice<JSONPath.Component>, to value: JSONValue?) {
        guard let first = components.first else {
            if let value { self = value }
            return
        }
        let rest = components.dropFirst()
        switch (first, self) {
        case (.key(let key), .object(var object)):
            if rest.isEmpty {
                object[key] = value
            } else {
                var child = object[key] ?? .object([:])
                child.set(rest, to: value)
                object[key] = child
            }
            self = .object(object)
        case (.index(let i), .array(var array)) where array.indices.contains(i):
            if rest.isEmpty {
                if let value { array[i] = value } else { array.remove(at: i) }
            } else {
                array[i].set(rest, to: value)
            }
            self = .array(array)
        default:
            break
        }
    }

    /// The value at a path, if there is one.
    subscript(path: JSONPath) -> JSONValue? {
        var current: JSONValue? = self
        for component in path.components {
            switch (component, current) {
            case (.key(let k), .object(let o)?): current = o[k]
            case (.index(let i), .array(let a)?) where a.indices.contains(i): current = a[i]
            default: return nil
            }
        }
        return current
    }
}
