/// Limits the parser enforces; each maps to the status the RFCs prescribe.
public struct HTTPParserLimits: Sendable, Hashable {
    /// Longest request line, excluding its line terminator. Over it: 414.
    public var maxRequestLineBytes: Int
    /// Largest header section: each field line counts its length plus 2 (its CRLF); trailers
    /// count toward the same budget. Over it: 431.
    public var maxHeaderBytes: Int
    /// Most header (plus trailer) field lines. Over it: 431.
    public var maxHeaderCount: Int
    /// Largest decoded body. Over it: 413 (as soon as `Content-Length` or a chunk size says so).
    public var maxBodyBytes: Int
    /// Longest chunk-size line (size plus extensions), excluding its terminator. Over it: 400.
    public var maxChunkLineBytes: Int

    public init(maxRequestLineBytes: Int = 8192, maxHeaderBytes: Int = 16384, maxHeaderCount: Int = 100,
                maxBodyBytes: Int = 16 << 20, maxChunkLineBytes: Int = 4096) {
        self.maxRequestLineBytes = maxRequestLineBytes
        self.maxHeaderBytes = maxHeaderBytes
        self.maxHeaderCount = maxHeaderCount
        self.maxBodyBytes = maxBodyBytes
        self.maxChunkLineBytes = maxChunkLineBytes
    }
}

/// Why a request could not be parsed. Every case ends the connection after the error answer,
/// because the framing of what follows can no longer be trusted.
public struct HTTPParseError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        case invalidRequestLine
        case invalidMethod
        case invalidTarget
        case invalidVersion
        case unsupportedVersion
        case requestLineTooLong
        case invalidHeaderName
        case invalidHeaderValue
        case obsoleteLineFolding
        case headersTooLarge
        case tooManyHeaders
        case missingHost
        case invalidHost
        case invalidContentLength
        case conflictingContentLength
        case contentLengthWithTransferEncoding
        case transferEncodingInHTTP10
        case invalidTransferEncoding
        case unsupportedTransferCoding
        case invalidChunk
        case bodyTooLarge
        case unsupportedExpectation
        case truncatedMessage
    }

    public let kind: Kind
    /// A sentence naming the offending element, safe to send back to the client.
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    /// The status the server answers with.
    public var status: HTTPStatus {
        switch kind {
        case .requestLineTooLong: .uriTooLong
        case .headersTooLarge, .tooManyHeaders: .requestHeaderFieldsTooLarge
        case .bodyTooLarge: .contentTooLarge
        case .unsupportedTransferCoding: .notImplemented
        case .unsupportedVersion: .httpVersionNotSupported
        case .unsupportedExpectation: .expectationFailed
        default: .badRequest
        }
    }

    public var description: String { "\(status.code) \(kind.rawValue): \(message)" }
}
