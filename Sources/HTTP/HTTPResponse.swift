/// A complete response. The server adds the framing itself (`Content-Length`, `Date`,
/// `Connection`), so handlers set only the headers that describe the content.
public struct HTTPResponse: Sendable, Hashable {
    public var status: HTTPStatus
    public var headers: HTTPHeaders
    public var body: [UInt8]

    public init(status: HTTPStatus = .ok, headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A `text/plain; charset=utf-8` response.
    public static func text(_ text: String, status: HTTPStatus = .ok) -> HTTPResponse {
        HTTPResponse(status: status, headers: ["Content-Type": "text/plain; charset=utf-8"], body: Array(text.utf8))
    }

    /// An `application/json` response from already-encoded JSON bytes.
    public static func json(_ bytes: [UInt8], status: HTTPStatus = .ok) -> HTTPResponse {
        HTTPResponse(status: status, headers: ["Content-Type": "application/json"], body: bytes)
    }

    /// The server's default error answer, in the OpenAI nested error shape used for framework
    /// errors: `{"error": {"message": …, "type": <reason phrase>, "param": null, "code": <status>}}`.
    public static func error(status: HTTPStatus, message: String) -> HTTPResponse {
        var json = #"{"error":{"message":"#
        json += jsonQuoted(message)
        json += #","type":"#
        json += jsonQuoted(status.reasonPhrase)
        json += #","param":null,"code":\#(status.code)}}"#
        return .json(Array(json.utf8), status: status)
    }
}

/// Builds the answer to an error the server detects itself (parse errors, timeouts, the
/// connection bound, routing). The `Server` target replaces it to shape error bodies.
public typealias HTTPErrorResponder = @Sendable (_ status: HTTPStatus, _ message: String) -> HTTPResponse

/// `text` as a JSON string literal, quotes included.
public func jsonQuoted(_ text: String) -> String {
    var out = "\""
    out.unicodeScalars.reserveCapacity(text.unicodeScalars.count + 2)
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case _ where scalar.value < 0x20:
            let hex = String(scalar.value, radix: 16)
            out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        default: out.unicodeScalars.append(scalar)
        }
    }
    out += "\""
    return out
}
