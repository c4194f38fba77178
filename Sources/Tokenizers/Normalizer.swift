import Foundation

/// The `normalizer` of a tokenizer.json: rewrites text before pre-tokenization (Qwen2's is NFC; GPT-2,
/// Llama-3 and SmolLM2 have none). Applied to the text between added tokens, as Hugging Face does.
enum Normalizer: Sendable {
    case nfc, nfd, nfkc, nfkd, lowercase
    case strip(left: Bool, right: Bool)
    case replace(pattern: String, content: String)
    case prepend(String)
    case sequence([Normalizer])

    static func parse(_ json: JSONObject) throws -> Normalizer {
        let type = try json.requiredString("type")
        switch type {
        case "NFC": return .nfc
        case "NFD": return .nfd
        case "NFKC": return .nfkc
        case "NFKD": return .nfkd
        case "Lowercase": return .lowercase
        case "Strip": return .strip(left: try json.bool("strip_left") ?? true, right: try json.bool("strip_right") ?? true)
        case "Prepend": return .prepend(try json.requiredString("prepend"))
        case "Replace":
            let pattern = try json.requiredObject("pattern")
            guard let literal = try pattern.string("String") else {
                throw TokenizerError.unsupported("\(json.keyPath("pattern")): only literal (String) Replace patterns are supported")
            }
            return .replace(pattern: literal, content: try json.requiredString("content"))
        case "Sequence":
            let members = try json.array("normalizers") ?? []
            return .sequence(try members.enumerated().map { index, member in
                try parse(JSONObject(member, path: json.keyPath("normalizers[\(index)]")))
            })
        default:
            throw TokenizerError.unsupported("\(json.keyPath("type")): normalizer \(type.debugDescription)")
        }
    }

    /// True when normalizing never changes ASCII-only text, so the common case can skip the work.
    var preservesASCII: Bool {
        switch self {
        case .nfc, .nfd, .nfkc, .nfkd: return true
        case .lowercase, .strip, .replace, .prepend: return false
        case .sequence(let members): return members.allSatisfy(\.preservesASCII)
        }
    }

    func apply(_ text: String) -> String {
        switch self {
        case .nfc: return text.precomposedStringWithCanonicalMapping
        case .nfd: return text.decomposedStringWithCanonicalMapping
        case .nfkc: return text.precomposedStringWithCompatibilityMapping
        case .nfkd: return text.decomposedStringWithCompatibilityMapping
        case .lowercase:
            // Character by character, as Rust's `char::to_lowercase` (no context-dependent final sigma).
            var result = String.UnicodeScalarView()
            for scalar in text.unicodeScalars { result.append(contentsOf: scalar.properties.lowercaseMapping.unicodeScalars) }
            return String(result)
        case .strip(let left, let right):
            var scalars = Substring(text).unicodeScalars
            if left { while let first = scalars.first, first.properties.isWhitespace { scalars.removeFirst() } }
            if right { while let last = scalars.last, last.properties.isWhitespace { scalars.removeLast() } }
            return String(scalars)
        case .replace(let pattern, let content):
            return pattern.isEmpty ? text : text.replacingOccurrences(of: pattern, with: content)
        case .prepend(let prefix):
            return text.isEmpty ? text : prefix + text
        case .sequence(let members):
            return members.reduce(text) { $1.apply($0) }
        }
    }
}
