// Typed reads of request-body fields. A wrong type is recorded as a `SchemaIssue` (the read
// answers nil and decoding carries on), so one response lists every schema problem at once.
// Unknown fields are never looked at, which is how they are "accepted and ignored".

/// Reads the members of one JSON object, collecting schema problems.
struct FieldReader {
    /// The object being read (an empty object when the input was not one).
    let json: RequestJSON
    let location: [LocationPart]
    private(set) var issues: [SchemaIssue] = []

    /// `object` must be a JSON object; anything else is one issue and every read answers nil.
    init(_ object: RequestJSON, at location: [LocationPart] = [.key("body")]) {
        self.location = location
        if case .object = object {
            json = object
        } else {
            json = .object([])
            issues.append(SchemaIssue(kind: "model_attributes_type", location: location,
                                      message: "Input should be a valid dictionary or object to extract fields from",
                                      input: object))
        }
    }

    mutating func record(_ issue: SchemaIssue) { issues.append(issue) }

    mutating func absorb(_ other: FieldReader) { issues.append(contentsOf: other.issues) }

    /// The raw value of `key`, nil when absent.
    func raw(_ key: String) -> RequestJSON? { json.member(key) }

    func has(_ key: String) -> Bool { json.member(key) != nil }

    func path(_ key: String) -> [LocationPart] { location + [.key(key)] }

    /// Present and not null.
    private mutating func present(_ key: String, nullable: Bool, kind: String, message: String) -> RequestJSON? {
        guard let value = json.member(key) else { return nil }
        if value.isNull {
            if !nullable { issues.append(SchemaIssue(kind: kind, location: path(key), message: message, input: value)) }
            return nil
        }
        return value
    }

    /// A required field: absent gives pydantic's `missing` issue.
    mutating func require(_ key: String) -> RequestJSON? {
        guard let value = json.member(key) else {
            issues.append(SchemaIssue(kind: "missing", location: path(key), message: "Field required", input: json))
            return nil
        }
        return value
    }

    mutating func bool(_ key: String, nullable: Bool = true) -> Bool? {
        let message = "Input should be a valid boolean"
        guard let value = present(key, nullable: nullable, kind: "bool_type", message: message) else { return nil }
        if case .bool(let b) = value { return b }
        issues.append(SchemaIssue(kind: "bool_type", location: path(key), message: message, input: value))
        return nil
    }

    mutating func string(_ key: String, nullable: Bool = true) -> String? {
        let message = "Input should be a valid string"
        guard let value = present(key, nullable: nullable, kind: "string_type", message: message) else { return nil }
        if case .string(let s) = value { return s }
        issues.append(SchemaIssue(kind: "string_type", location: path(key), message: message, input: value))
        return nil
    }

    mutating func int(_ key: String, nullable: Bool = true) -> Int? {
        guard let value = present(key, nullable: nullable, kind: "int_type",
                                  message: "Input should be a valid integer") else { return nil }
        return integer(value, at: path(key))
    }

    mutating func double(_ key: String, nullable: Bool = true) -> Double? {
        let message = "Input should be a valid number"
        guard let value = present(key, nullable: nullable, kind: "float_type", message: message) else { return nil }
        if case .number(let n) = value { return n.doubleValue }
        issues.append(SchemaIssue(kind: "float_type", location: path(key), message: message, input: value))
        return nil
    }

    /// A JSON integer (or an integral float such as `16.0`) that fits in 64 bits.
    mutating func integer(_ value: RequestJSON, at location: [LocationPart]) -> Int? {
        guard case .number(let n) = value else {
            issues.append(SchemaIssue(kind: "int_type", location: location,
                                      message: "Input should be a valid integer", input: value))
            return nil
        }
        if let i = n.int64Value { return Int(i) }
        if n.isOutOfInt64Range {
            let negative = n.literal.hasPrefix("-")
            issues.append(SchemaIssue(
                kind: negative ? "greater_than_equal" : "less_than_equal", location: location,
                message: negative ? "Input should be greater than or equal to -9223372036854775808"
                                  : "Input should be less than or equal to 9223372036854775807",
                input: value, context: negative ? "{'ge': -9223372036854775808}" : "{'le': 9223372036854775807}"))
            return nil
        }
        issues.append(SchemaIssue(kind: "int_from_float", location: location,
                                  message: "Input should be a valid integer, got a number with a fractional part",
                                  input: value))
        return nil
    }

    /// A list of integers, each at least `minimum` when given.
    mutating func intList(_ key: String, minimum: Int? = nil, nullable: Bool = true) -> [Int]? {
        let message = "Input should be a valid list"
        guard let value = present(key, nullable: nullable, kind: "list_type", message: message) else { return nil }
        return intList(value, at: path(key), minimum: minimum)
    }

    mutating func intList(_ value: RequestJSON, at location: [LocationPart], minimum: Int? = nil) -> [Int]? {
        guard case .array(let elements) = value else {
            issues.append(SchemaIssue(kind: "list_type", location: location,
                                      message: "Input should be a valid list", input: value))
            return nil
        }
        var result: [Int] = []
        result.reserveCapacity(elements.count)
        var ok = true
        for (i, element) in elements.enumerated() {
            guard let v = integer(element, at: location + [.index(i)]) else { ok = false; continue }
            if let minimum, v < minimum {
                issues.append(SchemaIssue(kind: "greater_than_equal", location: location + [.index(i)],
                                          message: "Input should be greater than or equal to \(minimum)",
                                          input: element, context: "{'ge': \(minimum)}"))
                ok = false
            }
            result.append(v)
        }
        return ok ? result : nil
    }

    /// A string or a list of strings (`stop`); a bare string is a one-element list.
    mutating func stringOrStringList(_ key: String) -> [String]? {
        guard let value = present(key, nullable: true, kind: "", message: "") else { return nil }
        switch value {
        case .string(let s): return [s]
        case .array(let elements):
            var result: [String] = []
            for (i, element) in elements.enumerated() {
                if case .string(let s) = element { result.append(s); continue }
                issues.append(SchemaIssue(kind: "string_type", location: path(key) + [.index(i)],
                                          message: "Input should be a valid string", input: element))
            }
            return result.count == elements.count ? result : nil
        default:
            issues.append(SchemaIssue(kind: "string_type", location: path(key),
                                      message: "Input should be a valid string or a list of strings", input: value))
            return nil
        }
    }

    /// A nested object, read with its own reader; nil when absent or null.
    mutating func object(_ key: String) -> FieldReader? {
        guard let value = present(key, nullable: true, kind: "", message: "") else { return nil }
        guard case .object = value else {
            issues.append(SchemaIssue(kind: "dict_type", location: path(key),
                                      message: "Input should be a valid dictionary", input: value))
            return nil
        }
        return FieldReader(value, at: path(key))
    }
}
