/// The Python library parses configs with pydantic's "lax" mode, which quietly converts some
/// values: `"3"` and `3.0` become the integer 3, `"yes"` and `1` become `true`. We accept exactly
/// the same inputs (so every config the library reads, we read) but report each conversion as a
/// warning, because a config that needs one was probably edited by hand.
enum LaxCoercion {
    /// The strings pydantic reads as booleans (compared case-insensitively).
    static let trueStrings: Set<String> = ["1", "on", "t", "true", "y", "yes"]
    static let falseStrings: Set<String> = ["0", "off", "f", "false", "n", "no"]

    static func describe(_ value: JSONValue) -> String {
        switch value {
        case .string: return "the string \(value.compactDescription)"
        case .double(let d) where !d.isFinite: return "number \(PythonFloat.repr(d))"
        case .object, .array: return "an \(value.typeName)"
        case .null: return "null"
        default: return "\(value.typeName) \(value.compactDescription)"
        }
    }

    static func int(_ value: JSONValue, at path: JSONPath, _ issues: inout IssueCollector) -> Int? {
        func coerced(_ result: Int) -> Int {
            issues.add(.warning(.coercedValue, at: path, value: value,
                "\(describe(value)) was read as the integer \(result), as the Python library does; write \(result)"))
            return result
        }
        switch value {
        case .int(let i):
            return i
        case .double(let d):
            guard d.isFinite else {
                issues.add(.error(.expectedInteger, at: path, value: value, "must be an integer; got \(describe(value)), which is not a finite number"))
                return nil
            }
            guard d.rounded(.towardZero) == d else {
                issues.add(.error(.fractionalInteger, at: path, value: value,
                    "must be an integer; got \(describe(value)), a number with a fractional part"))
                return nil
            }
            guard let i = Int(exactly: d) else {
                issues.add(.error(.expectedInteger, at: path, value: value, "must be an integer that fits in 64 bits; got \(describe(value))"))
                return nil
            }
            return coerced(i)
        case .string(let s):
            guard let i = parseIntegerString(s) else {
                issues.add(.error(.expectedInteger, at: path, value: value,
                    "must be an integer; got \(describe(value)), which cannot be parsed as an integer"))
                return nil
            }
            return coerced(i)
        case .bool(let b):
            return coerced(b ? 1 : 0)
        default:
            issues.add(.error(.expectedInteger, at: path, value: value, "must be an integer; got \(describe(value))"))
            return nil
        }
    }

    /// pydantic's string-to-int rule: optional surrounding whitespace, an optional sign, digits
    /// (Python-style `_` separators allowed between digits), and an optional fraction made only
    /// of zeros (`"3.0"`).
    static func parseIntegerString(_ text: String) -> Int? {
        guard let plain = removingDigitSeparators(text.trimmingWhitespace()) else { return nil }
        var s = Substring(plain)
        if let dot = s.firstIndex(of: ".") {
            let fraction = s[s.index(after: dot)...]
            guard fraction.allSatisfy({ $0 == "0" }) else { return nil }
            s = s[..<dot]
        }
        let digits = s.first == "+" || s.first == "-" ? s.dropFirst() : s
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int(s.first == "+" ? String(s.dropFirst()) : String(s))
    }

    static func double(_ value: JSONValue, at path: JSONPath, _ issues: inout IssueCollector) -> Double? {
        switch value {
        case .int(let i): return Double(i)
        case .double(let d): return d
        case .string(let s):
            guard let plain = removingDigitSeparators(s.trimmingWhitespace()), let d = Double(plain) else {
                issues.add(.error(.expectedNumber, at: path, value: value,
                    "must be a number; got \(describe(value)), which cannot be parsed as a number"))
                return nil
            }
            issues.add(.warning(.coercedValue, at: path, value: value,
                "\(describe(value)) was read as the number \(PythonFloat.repr(d)), as the Python library does; write \(PythonFloat.repr(d))"))
            return d
        case .bool(let b):
            issues.add(.warning(.coercedValue, at: path, value: value,
                "\(describe(value)) was read as the number \(b ? "1.0" : "0.0"), as the Python library does"))
            return b ? 1 : 0
        default:
            issues.add(.error(.expectedNumber, at: path, value: value, "must be a number; got \(describe(value))"))
            return nil
        }
    }

    /// Python number literals may separate digits with single underscores (`1_000`); removes
    /// them, or returns nil when an underscore is not between two digits.
    static func removingDigitSeparators(_ text: String) -> String? {
        guard text.contains("_") else { return text }
        let characters = Array(text)
        for (i, c) in characters.enumerated() where c == "_" {
            guard i > 0, i + 1 < characters.count, characters[i - 1].isASCII, characters[i - 1].isNumber,
                  characters[i + 1].isASCII, characters[i + 1].isNumber else { return nil }
        }
        return text.replacingUnderscores()
    }

    static func bool(_ value: JSONValue, at path: JSONPath, _ issues: inout IssueCollector) -> Bool? {
        var result: Bool?
        switch value {
        case .bool(let b): return b
        case .int(let i) where i == 0 || i == 1: result = i == 1
        case .double(let d) where d == 0 || d == 1: result = d == 1
        case .string(let s):
            let lowered = s.lowercased()
            if trueStrings.contains(lowered) { result = true }
            if falseStrings.contains(lowered) { result = false }
        default: break
        }
        guard let result else {
            issues.add(.error(.expectedBoolean, at: path, value: value,
                "must be a boolean (true or false); got \(describe(value)), which cannot be read as one"))
            return nil
        }
        issues.add(.warning(.coercedValue, at: path, value: value,
            "\(describe(value)) was read as \(result), as the Python library does; write \(result)"))
        return result
    }

    static func string(_ value: JSONValue, at path: JSONPath, _ issues: inout IssueCollector) -> String? {
        if case .string(let s) = value { return s }
        issues.add(.error(.expectedString, at: path, value: value, "must be a string; got \(describe(value))"))
        return nil
    }

    static func array(_ value: JSONValue, at path: JSONPath, _ issues: inout IssueCollector) -> [JSONValue]? {
        if case .array(let a) = value { return a }
        issues.add(.error(.expectedList, at: path, value: value, "must be a list (a JSON array); got \(describe(value))"))
        return nil
    }
}

extension String {
    func replacingUnderscores() -> String { String(filter { $0 != "_" }) }

    /// Drops leading and trailing spaces, tabs and newlines (no Foundation needed).
    func trimmingWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        guard let start = firstIndex(where: { !isSpace($0) }), let end = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[start...end])
    }
}

extension JSONValue {
    /// The value as pydantic's lax mode reads a boolean (`true`, `1`, `"yes"`, `"off"`, ...), or
    /// nil when it cannot be one; for option parsers outside the config fields.
    public var laxBoolValue: Bool? {
        var issues = IssueCollector()
        return LaxCoercion.bool(self, at: .root, &issues)
    }
}
