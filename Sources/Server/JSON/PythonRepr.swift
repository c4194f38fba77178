// Python's `repr`/`str` of values, for error messages that quote what the client sent in the
// same words vLLM uses ("got 3.0.", "value=-1.0", "'input': 'abc'").

enum PythonRepr {
    /// `repr(float)`: shortest round-trip digits, `.0` on integral values, `inf`/`nan`.
    static func float(_ value: Double) -> String {
        if value.isNaN { return "nan" }
        if value.isInfinite { return value < 0 ? "-inf" : "inf" }
        return value.description
    }

    /// `repr(str)`: single quotes unless the text holds a single quote and no double quote.
    /// Long inputs are cut at `limit` characters with `...` so that a huge prompt cannot
    /// balloon an error message.
    static func string(_ s: String, limit: Int = 200) -> String {
        let quote: Character = s.contains("'") && !s.contains("\"") ? "\"" : "'"
        var out = String(quote)
        var count = 0
        for scalar in s.unicodeScalars {
            if count == limit { out.append("..."); break }
            count += 1
            switch scalar {
            case "\\": out.append("\\\\")
            case "\n": out.append("\\n")
            case "\r": out.append("\\r")
            case "\t": out.append("\\t")
            default:
                if Character(scalar) == quote {
                    out.append("\\"); out.unicodeScalars.append(scalar)
                } else if scalar.value < 0x20 || scalar.value == 0x7F {
                    let hex = String(scalar.value, radix: 16)
                    out.append("\\x" + (hex.count == 1 ? "0" + hex : hex))
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out.append(quote)
        return out
    }

    /// `repr` of a JSON value as Python's `json.loads` would have produced it
    /// (`True`, `None`, `[1, 2]`, `{'a': 1}`), shortened past `limit` elements.
    static func value(_ value: RequestJSON, limit: Int = 20) -> String {
        switch value {
        case .null: return "None"
        case .bool(let b): return b ? "True" : "False"
        case .number(let n):
            if n.isIntegerLiteral { return n.literal }
            return float(n.doubleValue)
        case .string(let s): return string(s)
        case .array(let a):
            let shown = a.prefix(limit).map { Self.value($0, limit: limit) }
            return "[" + shown.joined(separator: ", ") + (a.count > limit ? ", ...]" : "]")
        case .object(let o):
            let shown = o.prefix(limit).map { string($0.key) + ": " + Self.value($0.value, limit: limit) }
            return "{" + shown.joined(separator: ", ") + (o.count > limit ? ", ...}" : "}")
        }
    }
}
