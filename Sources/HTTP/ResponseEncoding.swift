#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// How a response body is delimited on the wire.
enum ResponseFraming: Equatable {
    case contentLength(Int)
    case chunked
    /// HTTP/1.0 streaming: the body ends when the connection closes.
    case closeDelimited
    /// HEAD, 204, 304: a head only. For HEAD `length` is the GET body size to advertise.
    case noBody(advertisedLength: Int?)
}

/// Writes response heads and chunk framing straight into an output buffer.
///
/// The server owns the framing: handler-supplied `Content-Length`, `Transfer-Encoding`,
/// `Connection` and `Keep-Alive` fields are dropped, field names that are not tokens are
/// dropped, and control characters in values become spaces (no response splitting).
enum ResponseEncoding {
    static let managedFields = ["Content-Length", "Transfer-Encoding", "Connection", "Keep-Alive"]

    static func appendHead(status: HTTPStatus, headers: HTTPHeaders, framing: ResponseFraming,
                           closeConnection: Bool, announceKeepAlive: Bool, serverName: String?,
                           into out: inout [UInt8]) {
        append("HTTP/1.1 ", to: &out)
        append(String(status.code), to: &out)
        out.append(HTTPSyntax.space)
        appendSanitised(status.reasonPhrase, to: &out)
        out.append(contentsOf: crlf)
        var hasDate = false, hasServer = false
        for field in headers {
            guard !field.name.isEmpty, field.name.utf8.allSatisfy(HTTPSyntax.isToken),
                  !managedFields.contains(where: { asciiCaseInsensitiveEquals($0, field.name) }) else { continue }
            hasDate = hasDate || asciiCaseInsensitiveEquals(field.name, "Date")
            hasServer = hasServer || asciiCaseInsensitiveEquals(field.name, "Server")
            appendField(field.name, field.value, to: &out)
        }
        if !hasDate { appendField("Date", HTTPDate.now(), to: &out) }
        if !hasServer, let serverName { appendField("Server", serverName, to: &out) }
        switch framing {
        case .contentLength(let length): appendField("Content-Length", String(length), to: &out)
        case .chunked: appendField("Transfer-Encoding", "chunked", to: &out)
        case .noBody(let length?): appendField("Content-Length", String(length), to: &out)
        case .closeDelimited, .noBody(nil): break
        }
        if closeConnection {
            appendField("Connection", "close", to: &out)
        } else if announceKeepAlive {
            appendField("Connection", "keep-alive", to: &out)
        }
        out.append(contentsOf: crlf)
    }

    /// One chunk: size in hex, CRLF, data, CRLF. Empty data is skipped (it would end the body).
    static func appendChunk(_ bytes: some Collection<UInt8>, count: Int, into out: inout [UInt8]) {
        guard count > 0 else { return }
        appendHex(count, to: &out)
        out.append(contentsOf: crlf)
        out.append(contentsOf: bytes)
        out.append(contentsOf: crlf)
    }

    static let lastChunk: [UInt8] = Array("0\r\n\r\n".utf8)
    static let continueResponse: [UInt8] = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)
    static let crlf: [UInt8] = [HTTPSyntax.cr, HTTPSyntax.lf]

    /// Bytes a chunk of `count` data bytes occupies on the wire.
    static func chunkOverhead(_ count: Int) -> Int {
        var digits = 1, value = count >> 4
        while value > 0 { digits += 1; value >>= 4 }
        return digits + 4
    }

    static func appendHex(_ value: Int, to out: inout [UInt8]) {
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        var shift = (Int.bitWidth - value.leadingZeroBitCount + 3) / 4 * 4 - 4
        if shift < 0 { shift = 0 }
        while shift >= 0 {
            out.append(digits[(value >> shift) & 0xF])
            shift -= 4
        }
    }

    private static func appendField(_ name: String, _ value: String, to out: inout [UInt8]) {
        append(name, to: &out)
        out.append(UInt8(ascii: ":"))
        out.append(HTTPSyntax.space)
        appendSanitised(value, to: &out)
        out.append(contentsOf: crlf)
    }

    private static func append(_ text: String, to out: inout [UInt8]) { out.append(contentsOf: text.utf8) }

    private static func appendSanitised(_ text: String, to out: inout [UInt8]) {
        for byte in text.utf8 { out.append(HTTPSyntax.isFieldValueByte(byte) ? byte : HTTPSyntax.space) }
    }
}

/// The IMF-fixdate for the `Date` header, formatted at most once per second.
enum HTTPDate {
    private static let cache = Locked<(second: Int, text: String)>((-1, ""))

    static func now() -> String {
        let second = time(nil)
        return cache.withLock { cached in
            if cached.second != second {
                cached = (second, format(second))
            }
            return cached.text
        }
    }

    /// "Sun, 06 Nov 1994 08:49:37 GMT" (RFC 9110 §5.6.7).
    static func format(_ seconds: Int) -> String {
        var t = time_t(seconds)
        var parts = tm()
        gmtime_r(&t, &parts)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let day = days[Int(parts.tm_wday) % 7], month = months[Int(parts.tm_mon) % 12]
        return "\(day), \(two(parts.tm_mday)) \(month) \(parts.tm_year + 1900) \(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
    }
}
