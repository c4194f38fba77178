/// The RFC 9112 grammar pieces the parser needs, as pure functions over byte slices.
/// Kept apart from the state machine so each rule can be read next to the RFC.
enum HTTPSyntax {
    static let cr = UInt8(ascii: "\r"), lf = UInt8(ascii: "\n")
    static let space = UInt8(ascii: " "), tab = UInt8(ascii: "\t")

    /// tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
    static let tokenBytes: [Bool] = (0..<256).map { value in
        let byte = UInt8(value)
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "z"),
             UInt8(ascii: "A")...UInt8(ascii: "Z"):
            return true
        default:
            return "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }

    @inline(__always) static func isToken(_ byte: UInt8) -> Bool { tokenBytes[Int(byte)] }

    @inline(__always) static func isWhitespace(_ byte: UInt8) -> Bool { byte == space || byte == tab }

    /// field-vchar / SP / HTAB, where field-vchar = VCHAR / obs-text. Rejects CR, LF, NUL and other controls.
    @inline(__always) static func isFieldValueByte(_ byte: UInt8) -> Bool {
        byte == tab || (byte >= 0x20 && byte != 0x7F)
    }

    static func isTokenString(_ bytes: ArraySlice<UInt8>) -> Bool {
        !bytes.isEmpty && bytes.allSatisfy(isToken)
    }

    static func ascii(_ bytes: ArraySlice<UInt8>) -> String { String(decoding: bytes, as: UTF8.self) }

    // MARK: Request line

    struct RequestLine: Sendable {
        var method: String
        var target: String
        var path: String
        var query: String?
        var version: HTTPVersion
    }

    /// request-line = method SP request-target SP HTTP-version (single spaces, RFC 9112 §3).
    static func parseRequestLine(_ line: ArraySlice<UInt8>) throws(HTTPParseError) -> RequestLine {
        guard let firstSpace = line.firstIndex(of: space),
              let secondSpace = line[(firstSpace + 1)...].firstIndex(of: space) else {
            throw HTTPParseError(.invalidRequestLine, "The request line must be 'method SP request-target SP HTTP-version'.")
        }
        let method = line[line.startIndex..<firstSpace]
        guard isTokenString(method) else {
            throw HTTPParseError(.invalidMethod, "The request method is not a valid token.")
        }
        let target = line[(firstSpace + 1)..<secondSpace]
        let (path, query) = try parseTarget(target, isOptions: method.elementsEqual("OPTIONS".utf8))
        let version = try parseVersion(line[(secondSpace + 1)...])
        return RequestLine(method: ascii(method), target: ascii(target), path: path, query: query, version: version)
    }

    /// Accepts origin-form ("/p?q"), absolute-form ("http://host/p?q") and, for OPTIONS, asterisk-form.
    /// Bytes outside visible ASCII and "#" (fragments are never sent) are rejected.
    static func parseTarget(_ target: ArraySlice<UInt8>, isOptions: Bool) throws(HTTPParseError) -> (String, String?) {
        guard !target.isEmpty else {
            throw HTTPParseError(.invalidTarget, "The request target is empty.")
        }
        guard target.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "#") }) else {
            throw HTTPParseError(.invalidTarget, "The request target contains a byte that is not allowed (space, control, '#' or non-ASCII).")
        }
        if target.elementsEqual("*".utf8) {
            guard isOptions else {
                throw HTTPParseError(.invalidTarget, "The asterisk request target is only allowed with OPTIONS.")
            }
            return ("*", nil)
        }
        var pathStart = target.startIndex
        if target.first != UInt8(ascii: "/") {
            guard let afterScheme = absoluteFormAuthorityStart(target) else {
                throw HTTPParseError(.invalidTarget, "The request target must start with '/' or be an absolute http(s) URI.")
            }
            let authorityEnd = target[afterScheme...].firstIndex { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") } ?? target.endIndex
            guard authorityEnd > afterScheme else {
                throw HTTPParseError(.invalidTarget, "The absolute request target has no authority.")
            }
            pathStart = authorityEnd
        }
        let rest = target[pathStart...]
        let queryMark = rest.firstIndex(of: UInt8(ascii: "?"))
        var path = ascii(rest[rest.startIndex..<(queryMark ?? rest.endIndex)])
        if path.isEmpty { path = "/" }
        let query = queryMark.map { ascii(rest[($0 + 1)...]) }
        return (path, query)
    }

    /// The index just past "http://" or "https://" (scheme case-insensitive), if the target starts so.
    private static func absoluteFormAuthorityStart(_ target: ArraySlice<UInt8>) -> Int? {
        for scheme in ["http://", "https://"] {
            let prefix = Array(scheme.utf8)
            if target.count >= prefix.count,
               zip(target.prefix(prefix.count), prefix).allSatisfy({ asciiLower($0) == $1 }) {
                return target.startIndex + prefix.count
            }
        }
        return nil
    }

    /// HTTP-version = "HTTP/" DIGIT "." DIGIT. Major versions other than 1 get 505.
    static func parseVersion(_ text: ArraySlice<UInt8>) throws(HTTPParseError) -> HTTPVersion {
        let bytes = Array(text)
        guard bytes.count == 8, bytes[0..<5].elementsEqual("HTTP/".utf8),
              let major = digit(bytes[5]), bytes[6] == UInt8(ascii: "."), let minor = digit(bytes[7]) else {
            throw HTTPParseError(.invalidVersion, "The protocol version is not of the form HTTP/<digit>.<digit>.")
        }
        guard major == 1 else {
            throw HTTPParseError(.unsupportedVersion, "HTTP/\(major).\(minor) is not supported; this server speaks HTTP/1.1.")
        }
        return HTTPVersion(major: major, minor: minor)
    }

    private static func digit(_ byte: UInt8) -> Int? {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) ? Int(byte - UInt8(ascii: "0")) : nil
    }

    // MARK: Field lines

    /// field-line = field-name ":" OWS field-value OWS. Leading whitespace means obs-fold (rejected,
    /// RFC 9112 §5.2) and whitespace before the colon is rejected (§5.1).
    static func parseField(_ line: ArraySlice<UInt8>, section: String) throws(HTTPParseError) -> HTTPField {
        if let first = line.first, isWhitespace(first) {
            throw HTTPParseError(.obsoleteLineFolding, "A \(section) line starts with whitespace (obsolete line folding is not accepted).")
        }
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else {
            throw HTTPParseError(.invalidHeaderName, "A \(section) line has no colon.")
        }
        let name = line[line.startIndex..<colon]
        guard !name.isEmpty else {
            throw HTTPParseError(.invalidHeaderName, "A \(section) line has an empty field name.")
        }
        guard name.allSatisfy(isToken) else {
            let nameText = String(decoding: name.prefix(64), as: UTF8.self)
            if let last = name.last, isWhitespace(last) {
                throw HTTPParseError(.invalidHeaderName, "The \(section) field '\(nameText)' has whitespace before its colon.")
            }
            throw HTTPParseError(.invalidHeaderName, "The \(section) field name '\(nameText)' contains a character that is not allowed.")
        }
        var valueStart = colon + 1, valueEnd = line.endIndex
        while valueStart < valueEnd, isWhitespace(line[valueStart]) { valueStart += 1 }
        while valueEnd > valueStart, isWhitespace(line[valueEnd - 1]) { valueEnd -= 1 }
        let value = line[valueStart..<valueEnd]
        guard value.allSatisfy(isFieldValueByte) else {
            throw HTTPParseError(.invalidHeaderValue, "The value of \(section) field '\(ascii(name))' contains a control character.")
        }
        return HTTPField(name: ascii(name), value: String(decoding: value, as: UTF8.self))
    }

    // MARK: Chunked framing

    /// chunk-size [ chunk-ext ], chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ).
    /// Returns the size, or `Int.max` when it does not fit (the caller reports "too large").
    static func parseChunkSizeLine(_ line: ArraySlice<UInt8>) throws(HTTPParseError) -> Int {
        var index = line.startIndex
        var size = 0
        var overflow = false
        while index < line.endIndex, let digit = hexValue(line[index]) {
            if size > (Int.max - Int(digit)) >> 4 { overflow = true } else { size = size << 4 | Int(digit) }
            index += 1
        }
        guard index > line.startIndex else {
            throw HTTPParseError(.invalidChunk, "A chunk-size line does not start with a hexadecimal size.")
        }
        while index < line.endIndex {
            index = skipWhitespace(line, from: index)
            guard index < line.endIndex, line[index] == UInt8(ascii: ";") else {
                throw HTTPParseError(.invalidChunk, "A chunk-size line has unexpected characters after the size.")
            }
            index = skipWhitespace(line, from: index + 1)
            let nameStart = index
            while index < line.endIndex, isToken(line[index]) { index += 1 }
            guard index > nameStart else {
                throw HTTPParseError(.invalidChunk, "A chunk extension has no name.")
            }
            let afterName = index
            index = skipWhitespace(line, from: index)
            if index < line.endIndex, line[index] == UInt8(ascii: "=") {
                index = skipWhitespace(line, from: index + 1)
                index = try chunkExtensionValueEnd(line, from: index)
            } else {
                index = afterName
            }
        }
        return overflow ? Int.max : size
    }

    private static func skipWhitespace(_ line: ArraySlice<UInt8>, from start: Int) -> Int {
        var index = start
        while index < line.endIndex, isWhitespace(line[index]) { index += 1 }
        return index
    }

    /// chunk-ext-val = token / quoted-string; returns the index just past it.
    private static func chunkExtensionValueEnd(_ line: ArraySlice<UInt8>, from start: Int) throws(HTTPParseError) -> Int {
        var index = start
        if index < line.endIndex, line[index] == UInt8(ascii: "\"") {
            index += 1
            while index < line.endIndex {
                let byte = line[index]
                if byte == UInt8(ascii: "\"") { return index + 1 }
                if byte == UInt8(ascii: "\\") {
                    guard index + 1 < line.endIndex, isFieldValueByte(line[index + 1]) else { break }
                    index += 2
                    continue
                }
                guard isFieldValueByte(byte) else { break }
                index += 1
            }
            throw HTTPParseError(.invalidChunk, "A chunk extension has a malformed quoted value.")
        }
        while index < line.endIndex, isToken(line[index]) { index += 1 }
        guard index > start else {
            throw HTTPParseError(.invalidChunk, "A chunk extension has an empty value.")
        }
        return index
    }
}
