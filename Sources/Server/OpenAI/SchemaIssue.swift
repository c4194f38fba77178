// Schema violations (wrong JSON type, missing field, out-of-range integer) reported the way
// FastAPI/pydantic report them through vLLM: "N validation error(s):" then one Python dict
// per problem, `type: "Bad Request"`, and `param` = the dotted location of the first problem.

/// One segment of an error location: a key or a list index.
enum LocationPart: Sendable, Equatable {
    case key(String)
    case index(Int)

    var pythonRepr: String {
        switch self {
        case .key(let k): return PythonRepr.string(k)
        case .index(let i): return String(i)
        }
    }

    var dotted: String {
        switch self {
        case .key(let k): return k
        case .index(let i): return String(i)
        }
    }
}

/// One pydantic-style validation problem.
struct SchemaIssue: Sendable, Equatable {
    /// pydantic's error type (`int_type`, `missing`, `greater_than_equal`, ...).
    var kind: String
    var location: [LocationPart]
    var message: String
    /// What the client sent at that location (nil for a missing field).
    var input: RequestJSON?
    /// pydantic's `ctx`, pre-rendered as a Python dict (`{'ge': 0}`).
    var context: String?

    /// `{'type': 'int_type', 'loc': ('body', 'n'), 'msg': '...', 'input': 'x'}`.
    var pythonRepr: String {
        let loc = location.map(\.pythonRepr)
        let tuple = loc.count == 1 ? "(\(loc[0]),)" : "(" + loc.joined(separator: ", ") + ")"
        var s = "{'type': \(PythonRepr.string(kind)), 'loc': \(tuple), 'msg': \(PythonRepr.string(message, limit: 1000))"
        s += ", 'input': " + (input.map { PythonRepr.value($0) } ?? "{}")
        if let context { s += ", 'ctx': \(context)" }
        return s + "}"
    }
}

extension APIError {
    /// The 400 for schema problems: `1 validation error:\n  {...}` (`errors` when several).
    static func schema(_ issues: [SchemaIssue]) -> APIError {
        let label = issues.count == 1 ? "error" : "errors"
        let lines = issues.map { "  " + $0.pythonRepr }.joined(separator: "\n")
        let param = issues.first.map { $0.location.map(\.dotted).joined(separator: ".") }
        return APIError(status: 400, message: "\(issues.count) validation \(label):\n\(lines)",
                        type: "Bad Request", param: param)
    }

    /// The 400 for a body that does not parse as JSON (FastAPI's `json_invalid`).
    static func malformedJSON(_ error: RequestJSONParseError) -> APIError {
        schema([SchemaIssue(kind: "json_invalid", location: [.key("body"), .index(error.offset)],
                            message: "JSON decode error", input: .object([]),
                            context: "{'error': \(PythonRepr.string(error.reason))}")])
    }
}
