import Foundation
import HTTP
import Testing

/// Locates test data next to this file (never under /work/shared).
enum Fixtures {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func data(_ name: String) throws -> Data {
        try Data(contentsOf: directory.appendingPathComponent(name))
    }
}

/// The parser goldens of `Fixtures/parser-cases.json`.
struct ParserCaseFile: Decodable {
    var description: String
    var cases: [ParserCase]
}

struct ParserCase: Decodable, CustomTestStringConvertible {
    struct Limits: Decodable {
        var maxRequestLineBytes: Int?
        var maxHeaderBytes: Int?
        var maxHeaderCount: Int?
        var maxBodyBytes: Int?
        var maxChunkLineBytes: Int?
    }

    struct ExpectedRequest: Decodable {
        var method: String
        var target: String
        var path: String
        var query: String?
        var version: String
        var headers: [[String]]
        var body: String
        var trailers: [[String]]
        var keepAlive: Bool
    }

    struct ExpectedError: Decodable {
        var status: Int
        var kind: String
    }

    struct ExpectedEvent: Decodable {
        var request: ExpectedRequest?
        var `continue`: Bool?
        var error: ExpectedError?
    }

    var name: String
    var rfc: String
    var raw: String
    var limits: Limits?
    var events: [ExpectedEvent]
    var endPhase: String?

    var testDescription: String { name }

    /// Each character U+0000...U+00FF of `raw` stands for one byte.
    func rawBytes() throws -> [UInt8] { try latin1Bytes(raw, what: "raw of case '\(name)'") }

    func parserLimits() -> HTTPParserLimits {
        var result = HTTPParserLimits()
        if let limits {
            if let v = limits.maxRequestLineBytes { result.maxRequestLineBytes = v }
            if let v = limits.maxHeaderBytes { result.maxHeaderBytes = v }
            if let v = limits.maxHeaderCount { result.maxHeaderCount = v }
            if let v = limits.maxBodyBytes { result.maxBodyBytes = v }
            if let v = limits.maxChunkLineBytes { result.maxChunkLineBytes = v }
        }
        return result
    }

    /// The expected events in the parser's own terms, so results compare with `==`.
    func expectedEvents() throws -> [ComparableEvent] {
        try events.map { event in
            if event.continue == true { return .continueExpected }
            if let error = event.error { return .error(status: error.status, kind: error.kind) }
            guard let r = event.request else { throw FixtureError("case '\(name)' has an event of no known type") }
            let versionDigits = r.version.dropFirst("HTTP/".count).split(separator: ".").compactMap { Int($0) }
            guard versionDigits.count == 2 else { throw FixtureError("case '\(name)' has a bad version \(r.version)") }
            func fields(_ pairs: [[String]]) throws -> HTTPHeaders {
                HTTPHeaders(try pairs.map { pair in
                    guard pair.count == 2 else { throw FixtureError("case '\(name)' has a field that is not a pair") }
                    return HTTPField(name: pair[0], value: pair[1])
                })
            }
            return .request(HTTPRequest(
                method: r.method, target: r.target, path: r.path, query: r.query,
                version: HTTPVersion(major: versionDigits[0], minor: versionDigits[1]),
                headers: try fields(r.headers), body: try latin1Bytes(r.body, what: "body of case '\(name)'"),
                trailers: try fields(r.trailers), keepAlive: r.keepAlive))
        }
    }
}

/// A parser event with errors reduced to what the goldens pin down (status and kind, not wording).
enum ComparableEvent: Equatable, CustomStringConvertible {
    case continueExpected
    case request(HTTPRequest)
    case error(status: Int, kind: String)

    init(_ event: HTTPParserEvent) {
        switch event {
        case .continueExpected: self = .continueExpected
        case .request(let request): self = .request(request)
        case .error(let error): self = .error(status: error.status.code, kind: error.kind.rawValue)
        }
    }

    var description: String {
        switch self {
        case .continueExpected: "100-continue"
        case .request(let r): "\(r.method) \(r.target) \(r.version) headers=\(r.headers.fields) body=\(r.body.count)B trailers=\(r.trailers.fields) keepAlive=\(r.keepAlive)"
        case .error(let status, let kind): "error \(status) \(kind)"
        }
    }
}

struct FixtureError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

func latin1Bytes(_ text: String, what: String) throws -> [UInt8] {
    try text.unicodeScalars.map { scalar in
        guard scalar.value <= 0xFF else { throw FixtureError("\(what) has a character above U+00FF") }
        return UInt8(scalar.value)
    }
}

extension HTTPRequestParser.Phase {
    var name: String {
        switch self {
        case .idle: "idle"
        case .head: "head"
        case .body: "body"
        case .failed: "failed"
        }
    }
}

/// Feeds `bytes` cut at `cuts` (ascending offsets), draining events after every piece.
func parse(_ bytes: [UInt8], cuts: [Int], limits: HTTPParserLimits) -> (events: [ComparableEvent], phase: HTTPRequestParser.Phase) {
    var parser = HTTPRequestParser(limits: limits)
    var events: [ComparableEvent] = []
    var from = 0
    for to in cuts + [bytes.count] {
        bytes[from..<to].withUnsafeBytes { parser.feed($0) }
        from = to
        while let event = parser.nextEvent() { events.append(ComparableEvent(event)) }
    }
    return (events, parser.phase)
}
