// Compact JSON output in a fixed key order, the way vLLM's responses serialise
// (`separators=(",", ":")`, non-ASCII written as UTF-8, not `\u` escapes).

/// Appends JSON tokens to a string. Commas are placed automatically: a value written after
/// another value in the same container is preceded by one.
struct JSONWriter {
    private(set) var text = ""
    private var needsComma = false

    init(reservingCapacity capacity: Int = 256) { text.reserveCapacity(capacity) }

    private mutating func separate() {
        if needsComma { text.append(",") }
    }

    mutating func beginObject() { separate(); text.append("{"); needsComma = false }
    mutating func endObject() { text.append("}"); needsComma = true }
    mutating func beginArray() { separate(); text.append("["); needsComma = false }
    mutating func endArray() { text.append("]"); needsComma = true }

    mutating func key(_ key: String) {
        separate()
        appendQuoted(key)
        text.append(":")
        needsComma = false
    }

    mutating func string(_ value: String) { separate(); appendQuoted(value); needsComma = true }
    mutating func int(_ value: Int) { separate(); text.append(String(value)); needsComma = true }
    mutating func bool(_ value: Bool) { separate(); text.append(value ? "true" : "false"); needsComma = true }
    mutating func null() { separate(); text.append("null"); needsComma = true }

    /// A double in Python's `repr` form (`1.0`, `0.1`, `1e-05`). JSON has no NaN or infinity, so
    /// those are written as `null`; callers that need vLLM's `-9999.0` substitute it first.
    mutating func double(_ value: Double) {
        separate()
        text.append(value.isFinite ? value.description : "null")
        needsComma = true
    }

    /// A float32 in its shortest round-tripping form (`-0.31`, not `-0.3100000023841858`).
    mutating func float(_ value: Float) {
        separate()
        text.append(value.isFinite ? value.description : "null")
        needsComma = true
    }

    /// Pre-encoded JSON, written verbatim (used to pass a client's own JSON value through).
    mutating func raw(_ json: String) { separate(); text.append(json); needsComma = true }

    mutating func field(_ name: String, _ value: String) { key(name); string(value) }
    mutating func field(_ name: String, _ value: String?) { key(name); if let value { string(value) } else { null() } }
    mutating func field(_ name: String, _ value: Int) { key(name); int(value) }
    mutating func field(_ name: String, _ value: Int?) { key(name); if let value { int(value) } else { null() } }
    mutating func field(_ name: String, _ value: Bool) { key(name); bool(value) }
    mutating func nullField(_ name: String) { key(name); null() }

    mutating func intArray(_ values: [Int]) {
        beginArray()
        for v in values { int(v) }
        endArray()
    }

    private mutating func appendQuoted(_ s: String) {
        text.append("\"")
        if !s.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
            text.append(s)
        } else {
            for scalar in s.unicodeScalars {
                switch scalar {
                case "\"": text.append("\\\"")
                case "\\": text.append("\\\\")
                case "\n": text.append("\\n")
                case "\r": text.append("\\r")
                case "\t": text.append("\\t")
                case "\u{08}": text.append("\\b")
                case "\u{0C}": text.append("\\f")
                default:
                    if scalar.value < 0x20 {
                        text.append("\\u00")
                        text.append(Self.hexDigits[Int(scalar.value >> 4)])
                        text.append(Self.hexDigits[Int(scalar.value & 0xF)])
                    } else {
                        text.unicodeScalars.append(scalar)
                    }
                }
            }
        }
        text.append("\"")
    }

    private static let hexDigits: [Character] = Array("0123456789abcdef")
}

extension RequestJSON {
    /// This value as compact JSON (used to echo a client's `tools` or `logit_bias` onward).
    var compactJSON: String {
        var writer = JSONWriter()
        writer.write(self)
        return writer.text
    }
}

extension JSONWriter {
    mutating func write(_ value: RequestJSON) {
        switch value {
        case .null: null()
        case .bool(let b): bool(b)
        case .number(let n): raw(n.literal)
        case .string(let s): string(s)
        case .array(let elements):
            beginArray()
            for e in elements { write(e) }
            endArray()
        case .object(let members):
            beginObject()
            for m in members { key(m.key); write(m.value) }
            endObject()
        }
    }
}
