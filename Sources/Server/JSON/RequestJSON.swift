// A parsed JSON request body that keeps what validation needs and Foundation forgets:
// integer literals apart from float literals, key order, and numbers too big for Int64.

/// One JSON value from a request body.
///
/// Numbers keep their literal text so that `16`, `16.0` and `18446744073709551616` can each be
/// judged the way the OpenAI schema (pydantic, lax mode) judges them.
enum RequestJSON: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(JSONNumber)
    case string(String)
    case array([RequestJSON])
    /// Members in document order. A repeated key keeps every occurrence; `member(_:)` answers
    /// the last one, as Python's `json.loads` does.
    case object([(key: String, value: RequestJSON)])

    static func == (lhs: RequestJSON, rhs: RequestJSON) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case let (.bool(a), .bool(b)): return a == b
        case let (.number(a), .number(b)): return a == b
        case let (.string(a), .string(b)): return a == b
        case let (.array(a), .array(b)): return a == b
        case let (.object(a), .object(b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: return false
        }
    }

    /// The value of `key` in an object (the last occurrence), or nil when absent or not an object.
    func member(_ key: String) -> RequestJSON? {
        guard case .object(let members) = self else { return nil }
        return members.last(where: { $0.key == key })?.value
    }

    /// The elements when this is an array.
    var arrayValue: [RequestJSON]? { if case .array(let a) = self { return a } else { return nil } }

    var isNull: Bool { if case .null = self { return true } else { return false } }

    /// Python's truthiness, used where vLLM's validators test `if data.get(...)`.
    var isTruthy: Bool {
        switch self {
        case .null: return false
        case .bool(let b): return b
        case .number(let n): return n.doubleValue != 0
        case .string(let s): return !s.isEmpty
        case .array(let a): return !a.isEmpty
        case .object(let o): return !o.isEmpty
        }
    }
}

/// A JSON number as written, with exact conversions.
struct JSONNumber: Sendable, Equatable {
    /// The literal text (`-12`, `0.5`, `1e-05`, or Python's `NaN`, `Infinity`, `-Infinity`).
    let literal: String

    /// True when the literal has no fraction, no exponent and is not NaN/Infinity.
    var isIntegerLiteral: Bool {
        !literal.utf8.contains(where: { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") })
            && !literal.hasSuffix("NaN") && !literal.hasSuffix("Infinity")
    }

    /// The value as a double (integers beyond 2^53 are rounded, as Python's `float()` does).
    var doubleValue: Double {
        switch literal {
        case "NaN": return .nan
        case "Infinity": return .infinity
        case "-Infinity": return -.infinity
        default: return Double(literal) ?? .nan
        }
    }

    /// The exact integer value when the literal is an integer that fits in Int64, or a float
    /// literal with no fractional part that fits (pydantic's lax int: `16.0` is 16).
    var int64Value: Int64? {
        if isIntegerLiteral { return Int64(literal) }
        let d = doubleValue
        guard d.isFinite, d.rounded(.towardZero) == d, d >= -9.223372036854775808e18, d < 9.223372036854775808e18
        else { return nil }
        return Int64(d)
    }

    /// True for an integer literal outside the Int64 range.
    var isOutOfInt64Range: Bool { isIntegerLiteral && Int64(literal) == nil }
}
