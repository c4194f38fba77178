/// Writes JSON exactly as Python's `json.dumps` does, so files we save are byte-identical to the
/// ones the Python library saves.
///
/// transformers writes `config.json` with `json.dumps(d, indent=2, sort_keys=True) + "\n"`:
/// keys sorted by code point at every level, two-space indentation, `", "`/`": "` separators
/// (`","` at line ends), `ensure_ascii` escaping, and floats in Python `repr` form (`1e-05`, `1.0`).
/// A NaN or infinity is written as transformers 5 writes it, `{"__float__": "Infinity"}`, never
/// as the bare literal strict JSON readers refuse.
public enum PythonJSONWriter {
    /// The layout of `config.json` files: indent 2, sorted keys, trailing newline.
    public static func configFile(_ value: JSONValue) -> String {
        dumps(value, indent: 2, sortKeys: true) + "\n"
    }

    /// `json.dumps(value)` with default separators on one line.
    public static func compact(_ value: JSONValue, sortKeys: Bool = false) -> String {
        dumps(value, indent: nil, sortKeys: sortKeys)
    }

    /// `json.dumps(value, indent=indent, sort_keys=sortKeys)` (with `ensure_ascii=True`).
    public static func dumps(_ value: JSONValue, indent: Int?, sortKeys: Bool) -> String {
        var output = ""
        write(value, indent: indent, sortKeys: sortKeys, level: 0, into: &output)
        return output
    }

    private static func write(_ value: JSONValue, indent: Int?, sortKeys: Bool, level: Int, into out: inout String) {
        switch value {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .double(let d):
            if let tagged = JSONValue.taggedFloat(d) {
                write(tagged, indent: indent, sortKeys: sortKeys, level: level, into: &out)
            } else {
                out += PythonFloat.repr(d)
            }
        case .string(let s): writeString(s, into: &out)
        case .array(let elements):
            if elements.isEmpty {
                out += "[]"
                return
            }
            out += "["
            for (i, element) in elements.enumerated() {
                if i > 0 { out += "," }
                newline(indent: indent, level: level + 1, into: &out, first: i == 0)
                write(element, indent: indent, sortKeys: sortKeys, level: level + 1, into: &out)
            }
            newline(indent: indent, level: level, into: &out, first: true)
            out += "]"
        case .object(let object):
            if object.isEmpty {
                out += "{}"
                return
            }
            out += "{"
            let keys = sortKeys ? object.keys.sorted(by: codePointLess) : object.keys
            for (i, key) in keys.enumerated() {
                if i > 0 { out += "," }
                newline(indent: indent, level: level + 1, into: &out, first: i == 0)
                writeString(key, into: &out)
                out += ": "
                write(object[key] ?? .null, indent: indent, sortKeys: sortKeys, level: level + 1, into: &out)
            }
            newline(indent: indent, level: level, into: &out, first: true)
            out += "}"
        }
    }

    /// With an indent every item starts a new line; without one, items after the first are
    /// separated by a space (Python's default `", "` separator).
    private static func newline(indent: Int?, level: Int, into out: inout String, first: Bool) {
        if let indent {
            out += "\n"
            out += String(repeating: " ", count: indent * level)
        } else if !first {
            out += " "
        }
    }

    /// Python compares `str` keys by code point, which is the order of their UTF-8 bytes.
    static func codePointLess(_ a: String, _ b: String) -> Bool {
        a.utf8.lexicographicallyPrecedes(b.utf8)
    }

    private static let hexDigits = Array("0123456789abcdef")

    /// `ensure_ascii` escaping: printable ASCII is kept, everything else becomes `\uXXXX`
    /// (UTF-16, lowercase hex, surrogate pairs above the BMP).
    static func writeString(_ string: String, into out: inout String) {
        out += "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case " "..."~": out.unicodeScalars.append(scalar)
            default:
                for unit in String(scalar).utf16 {
                    out += "\\u"
                    for shift in stride(from: 12, through: 0, by: -4) {
                        out.append(hexDigits[Int((unit >> UInt16(shift)) & 0xF)])
                    }
                }
            }
        }
        out += "\""
    }
}

/// Python's `repr(float)`: the shortest digit string that reads back to the same double, in
/// fixed notation when the decimal exponent is in [-4, 16) and scientific notation otherwise.
public enum PythonFloat {
    public static func repr(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value < 0 ? "-Infinity" : "Infinity" }
        if value == 0 { return value.sign == .minus ? "-0.0" : "0.0" }
        let (digits, pointPosition) = shortestDigits(of: abs(value))
        let sign = value < 0 ? "-" : ""
        // `pointPosition` is Python's `decpt`: value = 0.d1d2d3... × 10^decpt.
        if pointPosition > -4 && pointPosition <= 16 {
            if pointPosition <= 0 {
                return sign + "0." + String(repeating: "0", count: -pointPosition) + digits
            }
            if pointPosition >= digits.count {
                return sign + digits + String(repeating: "0", count: pointPosition - digits.count) + ".0"
            }
            let split = digits.index(digits.startIndex, offsetBy: pointPosition)
            return sign + digits[..<split] + "." + digits[split...]
        }
        let exponent = pointPosition - 1
        var mantissa = String(digits.prefix(1))
        if digits.count > 1 { mantissa += "." + digits.dropFirst() }
        let exponentDigits = String(abs(exponent))
        let paddedExponent = exponentDigits.count < 2 ? "0" + exponentDigits : exponentDigits
        return sign + mantissa + "e" + (exponent < 0 ? "-" : "+") + paddedExponent
    }

    /// The shortest round-trip decimal digits of a positive finite double and the position of
    /// the decimal point relative to them. Swift's `description` already produces the shortest
    /// round-trip digits (as Python's repr does); only their layout differs, so we re-read them.
    static func shortestDigits(of value: Double) -> (digits: String, pointPosition: Int) {
        let text = value.description
        var mantissa = Substring(text)
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            mantissa = text[..<e]
            exponent = Int(text[text.index(after: e)...]) ?? 0
        }
        let integerPart: Substring
        let fractionPart: Substring
        if let dot = mantissa.firstIndex(of: ".") {
            integerPart = mantissa[..<dot]
            fractionPart = mantissa[mantissa.index(after: dot)...]
        } else {
            integerPart = mantissa
            fractionPart = ""
        }
        var all = Array(integerPart + fractionPart)
        var pointPosition = integerPart.count + exponent
        while let first = all.first, first == "0" {
            all.removeFirst()
            pointPosition -= 1
        }
        while let last = all.last, last == "0" { all.removeLast() }
        return (String(all), pointPosition)
    }
}
