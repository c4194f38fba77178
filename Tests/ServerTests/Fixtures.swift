import Foundation

/// Test data, located next to this file so that tests never depend on the working directory.
enum Fixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    /// The repository root (for the shipped config/ files).
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func data(_ name: String) throws -> Data {
        try Data(contentsOf: directory.appendingPathComponent(name))
    }

    static func text(_ name: String) throws -> String {
        String(decoding: try data(name), as: UTF8.self)
    }

    static func object(_ name: String) throws -> [String: Any] {
        guard let object = try JSONSerialization.jsonObject(with: data(name)) as? [String: Any] else {
            throw FixtureError(message: "\(name) is not a JSON object")
        }
        return object
    }

    /// openai-goldens.json: compact bodies transcribed from the spec's examples.
    static func golden(_ key: String) throws -> String {
        guard let value = try object("openai-goldens.json")[key] as? String else {
            throw FixtureError(message: "openai-goldens.json has no string \(key)")
        }
        return value
    }
}

struct FixtureError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

extension String {
    var bytes: [UInt8] { Array(utf8) }
}
