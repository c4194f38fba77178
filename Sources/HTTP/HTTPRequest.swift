/// The protocol version of a request line. Only HTTP/1.x reaches a handler; the parser
/// answers other major versions with 505.
public struct HTTPVersion: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let major: Int
    public let minor: Int

    public init(major: Int, minor: Int) {
        self.major = major
        self.minor = minor
    }

    public static let http1_0 = HTTPVersion(major: 1, minor: 0)
    public static let http1_1 = HTTPVersion(major: 1, minor: 1)

    public static func < (a: HTTPVersion, b: HTTPVersion) -> Bool {
        (a.major, a.minor) < (b.major, b.minor)
    }

    public var description: String { "HTTP/\(major).\(minor)" }
}

/// One `name=value` pair of a query string, percent-decoded, `+` read as a space.
public struct HTTPQueryItem: Sendable, Hashable {
    public var name: String
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// A complete HTTP request: head, decoded body and (for chunked uploads) trailers.
///
/// Produced by `HTTPRequestParser`; the server fills in `id` and `remoteAddress`, and the
/// `Router` fills in `pathParameters`.
public struct HTTPRequest: Sendable, Hashable {
    /// The method token exactly as sent (methods are case-sensitive).
    public var method: String
    /// The request-target exactly as sent (origin-form, absolute-form or `*`).
    public var target: String
    /// The path component of the target, still percent-encoded ("/" for an absolute-form target with no path).
    public var path: String
    /// The query component without the `?`, still percent-encoded; nil when the target has no `?`.
    public var query: String?
    public var version: HTTPVersion
    public var headers: HTTPHeaders
    /// The message body with any transfer coding removed.
    public var body: [UInt8]
    /// Trailer fields of a chunked body (kept apart from `headers`, never merged).
    public var trailers: HTTPHeaders
    /// Whether the connection may carry another request after this one (RFC 9112 §9.3).
    public var keepAlive: Bool
    /// A number unique among the requests of one server, assigned on arrival.
    public var id: UInt64
    /// The peer as "address:port" ("[v6]:port" for IPv6), empty outside a server.
    public var remoteAddress: String
    /// Captures of `{name}` segments, filled in by `Router`.
    public var pathParameters: [String: String]

    public init(method: String, target: String, path: String, query: String?, version: HTTPVersion,
                headers: HTTPHeaders, body: [UInt8] = [], trailers: HTTPHeaders = HTTPHeaders(),
                keepAlive: Bool = true, id: UInt64 = 0, remoteAddress: String = "",
                pathParameters: [String: String] = [:]) {
        self.method = method
        self.target = target
        self.path = path
        self.query = query
        self.version = version
        self.headers = headers
        self.body = body
        self.trailers = trailers
        self.keepAlive = keepAlive
        self.id = id
        self.remoteAddress = remoteAddress
        self.pathParameters = pathParameters
    }

    /// The query string split into decoded items, in order (empty when there is no query).
    public var queryItems: [HTTPQueryItem] {
        guard let query, !query.isEmpty else { return [] }
        return query.split(separator: "&", omittingEmptySubsequences: true).map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = percentDecoded(parts[0], plusAsSpace: true)
            let value = parts.count > 1 ? percentDecoded(parts[1], plusAsSpace: true) : ""
            return HTTPQueryItem(name: name, value: value)
        }
    }

    /// The decoded value of the first query item called `name`.
    public func queryValue(_ name: String) -> String? {
        queryItems.first { $0.name == name }?.value
    }

    /// The body read as UTF-8 (invalid sequences become U+FFFD).
    public var bodyText: String { String(decoding: body, as: UTF8.self) }
}

/// Decodes `%XX` escapes; a malformed escape is kept literally rather than rejected, and the
/// result is read as UTF-8 with invalid sequences repaired.
public func percentDecoded(_ text: some StringProtocol, plusAsSpace: Bool = false) -> String {
    let utf8 = Array(text.utf8)
    guard utf8.contains(where: { $0 == UInt8(ascii: "%") || (plusAsSpace && $0 == UInt8(ascii: "+")) }) else {
        return String(text)
    }
    var out: [UInt8] = []
    out.reserveCapacity(utf8.count)
    var i = 0
    while i < utf8.count {
        let byte = utf8[i]
        if byte == UInt8(ascii: "%"), i + 2 < utf8.count, let hi = hexValue(utf8[i + 1]), let lo = hexValue(utf8[i + 2]) {
            out.append(hi << 4 | lo)
            i += 3
        } else if plusAsSpace && byte == UInt8(ascii: "+") {
            out.append(UInt8(ascii: " "))
            i += 1
        } else {
            out.append(byte)
            i += 1
        }
    }
    return String(decoding: out, as: UTF8.self)
}

@inlinable
func hexValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
    default: nil
    }
}
