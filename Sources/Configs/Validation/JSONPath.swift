/// Where a value sits in a config document, written the way people read it:
/// `speculators_config.proposal_methods[0].speculative_tokens`. The document itself is `""`.
public struct JSONPath: Sendable, Hashable, CustomStringConvertible, Comparable {
    public enum Component: Sendable, Hashable {
        case key(String)
        case index(Int)
    }

    public private(set) var components: [Component]

    public init(_ components: [Component] = []) { self.components = components }

    /// The document root.
    public static let root = JSONPath()

    public func appending(_ key: String) -> JSONPath { JSONPath(components + [.key(key)]) }
    public func appending(index: Int) -> JSONPath { JSONPath(components + [.index(index)]) }

    public var isRoot: Bool { components.isEmpty }

    /// The last key of the path, if it ends in a key.
    public var lastKey: String? {
        if case .key(let k)? = components.last { return k }
        return nil
    }

    /// Dotted keys and `[n]` indices; keys that are not plain identifiers are quoted (`auto_map[""]`).
    public var description: String {
        var text = ""
        for component in components {
            switch component {
            case .index(let i): text += "[\(i)]"
            case .key(let key):
                if Self.isPlainKey(key) {
                    text += text.isEmpty ? key : "." + key
                } else {
                    text += "[" + PythonJSONWriter.compact(.string(key)) + "]"
                }
            }
        }
        return text
    }

    private static func isPlainKey(_ key: String) -> Bool {
        guard let first = key.unicodeScalars.first, !("0"..."9").contains(first) else { return false }
        return key.unicodeScalars.allSatisfy { $0 == "_" || $0 == "-" || ("a"..."z").contains($0)
            || ("A"..."Z").contains($0) || ("0"..."9").contains($0) }
    }

    public static func < (lhs: JSONPath, rhs: JSONPath) -> Bool { lhs.description < rhs.description }
}

extension JSONPath: ExpressibleByStringLiteral {
    /// Parses the dotted form (`a.b[0].c`) for convenience in tests and call sites.
    public init(stringLiteral value: String) { self = JSONPath(parsing: value) }

    public init(parsing text: String) {
        var components: [Component] = []
        for part in text.split(separator: ".", omittingEmptySubsequences: true) {
            var rest = Substring(part)
            if let bracket = rest.firstIndex(of: "[") {
                let key = rest[..<bracket]
                if !key.isEmpty { components.append(.key(String(key))) }
                rest = rest[bracket...]
                while rest.hasPrefix("["), let close = rest.firstIndex(of: "]") {
                    let inner = rest[rest.index(after: rest.startIndex)..<close]
                    if let i = Int(inner) {
                        components.append(.index(i))
                    } else if case .string(let s)? = try? JSONParser.parse(String(inner)) {
                        components.append(.key(s))
                    }
                    rest = rest[rest.index(after: close)...]
                }
            } else {
                components.append(.key(String(part)))
            }
        }
        self.components = components
    }
}
