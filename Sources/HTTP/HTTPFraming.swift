/// What the header section says about the message: how its body is delimited (RFC 9112 §6.3),
/// whether the connection persists (§9.3) and whether the client awaits 100 Continue.
struct HTTPFraming: Sendable, Equatable {
    enum Body: Sendable, Equatable {
        case none
        case length(Int)
        case chunked
    }

    var body: Body
    var keepAlive: Bool
    var expectsContinue: Bool

    /// Reads and checks the framing fields. The order of the checks is part of the contract:
    /// Host, then request smuggling (Transfer-Encoding with Content-Length or in HTTP/1.0),
    /// then codings, lengths, and expectations.
    static func of(headers: HTTPHeaders, version: HTTPVersion, limits: HTTPParserLimits) throws(HTTPParseError) -> HTTPFraming {
        try checkHost(headers: headers, version: version)

        let transferEncodings = headers.values(for: "Transfer-Encoding")
        let contentLengths = headers.values(for: "Content-Length")
        var body = Body.none
        if !transferEncodings.isEmpty {
            guard version >= .http1_1 else {
                throw HTTPParseError(.transferEncodingInHTTP10, "Transfer-Encoding is not allowed in an HTTP/1.0 request.")
            }
            guard contentLengths.isEmpty else {
                throw HTTPParseError(.contentLengthWithTransferEncoding, "A request must not carry both Content-Length and Transfer-Encoding.")
            }
            try checkTransferCodings(transferEncodings)
            body = .chunked
        } else if !contentLengths.isEmpty {
            let length = try contentLength(contentLengths)
            guard length <= limits.maxBodyBytes else {
                throw HTTPParseError(.bodyTooLarge, "The request body (Content-Length \(length == Int.max ? "too large" : String(length))) exceeds the limit of \(limits.maxBodyBytes) bytes.")
            }
            body = length == 0 ? .none : .length(length)
        }

        var expectsContinue = false
        if version >= .http1_1, let expectation = headers["Expect"] {
            // Expectations in HTTP/1.0 requests are ignored (RFC 9110 §10.1.1).
            let values = headers.values(for: "Expect")
            guard values.count == 1, asciiCaseInsensitiveEquals(trimmingOWS(Substring(expectation)), "100-continue") else {
                throw HTTPParseError(.unsupportedExpectation, "The only supported expectation is 100-continue.")
            }
            expectsContinue = body != .none
        }

        let keepAlive: Bool
        if headers.listContains("Connection", token: "close") {
            keepAlive = false
        } else if version >= .http1_1 {
            keepAlive = true
        } else {
            keepAlive = headers.listContains("Connection", token: "keep-alive")
        }
        return HTTPFraming(body: body, keepAlive: keepAlive, expectsContinue: expectsContinue)
    }

    /// HTTP/1.1 requests carry exactly one Host; HTTP/1.0 at most one (RFC 9112 §3.2).
    private static func checkHost(headers: HTTPHeaders, version: HTTPVersion) throws(HTTPParseError) {
        let hosts = headers.values(for: "Host")
        if hosts.isEmpty {
            guard version < .http1_1 else {
                throw HTTPParseError(.missingHost, "An HTTP/1.1 request must have a Host header.")
            }
            return
        }
        guard hosts.count == 1 else {
            throw HTTPParseError(.invalidHost, "The request has \(hosts.count) Host headers; exactly one is allowed.")
        }
        // uri-host [ ":" port ]: reg-name, IPv4 or [IP-literal] characters only.
        let allowed = "-._~!$&'()*+,;=:%[]"
        guard hosts[0].utf8.allSatisfy({ byte in
            (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || (asciiLower(byte) >= UInt8(ascii: "a") && asciiLower(byte) <= UInt8(ascii: "z"))
                || allowed.utf8.contains(byte)
        }) else {
            throw HTTPParseError(.invalidHost, "The Host header is not a valid host[:port].")
        }
    }

    /// Only `chunked`, once and last, is understood: any other coding gets 501 (RFC 9112 §6.1).
    private static func checkTransferCodings(_ values: [String]) throws(HTTPParseError) {
        var codings: [Substring] = []
        for value in values {
            for member in value.split(separator: ",", omittingEmptySubsequences: false) {
                let coding = trimmingOWS(member)
                if !coding.isEmpty { codings.append(coding) }
            }
        }
        guard !codings.isEmpty else {
            throw HTTPParseError(.invalidTransferEncoding, "The Transfer-Encoding header is empty.")
        }
        for coding in codings where !asciiCaseInsensitiveEquals(coding, "chunked") {
            throw HTTPParseError(.unsupportedTransferCoding, "The transfer coding '\(coding.prefix(64))' is not implemented; only chunked is.")
        }
        guard codings.count == 1 else {
            throw HTTPParseError(.invalidTransferEncoding, "The chunked transfer coding is applied more than once.")
        }
    }

    /// Content-Length = 1*DIGIT; several fields or list members are accepted only when all equal
    /// (RFC 9110 §8.6). A value too large for Int is returned as Int.max ("too large").
    private static func contentLength(_ values: [String]) throws(HTTPParseError) -> Int {
        var result: Int?
        for value in values {
            for member in value.split(separator: ",", omittingEmptySubsequences: false) {
                let digits = trimmingOWS(member)
                guard !digits.isEmpty, digits.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
                    throw HTTPParseError(.invalidContentLength, "Content-Length '\(value.prefix(64))' is not a non-negative decimal integer.")
                }
                let significant = digits.drop { $0 == "0" }
                let length = significant.utf8.count > 18 ? Int.max : (Int(significant) ?? 0)
                if let previous = result, previous != length {
                    throw HTTPParseError(.conflictingContentLength, "The request has differing Content-Length values.")
                }
                result = length
            }
        }
        return result ?? 0
    }
}
