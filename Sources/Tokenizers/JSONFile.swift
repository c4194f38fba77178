import Foundation

/// `NSNull` under a name that reads as what it is in these files: JSON `null`.
typealias NSNullLike = NSNull

enum JSONFile {
    /// Parses JSON data whose top level is an object; `name` is used in error messages.
    static func object(from data: Data, name: String) throws -> JSONObject {
        let parsed: Any
        do { parsed = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) } catch {
            throw TokenizerError.unreadableFile(path: name, reason: "not valid JSON (\(error.localizedDescription))")
        }
        guard let values = parsed as? [String: Any] else {
            throw TokenizerError.invalidValue(keyPath: name, problem: "expected a JSON object at the top level")
        }
        return JSONObject(values, path: name)
    }

    static func read(_ url: URL) throws -> Data {
        do { return try Data(contentsOf: url) } catch {
            throw TokenizerError.unreadableFile(path: url.path, reason: error.localizedDescription)
        }
    }
}
