// A strict, bounded JSON parser for request bodies. It never traps: every malformed input,
// however deep or long, ends in a `RequestJSONParseError` naming the byte offset.

/// Why a request body is not JSON, and where (a byte offset into the body).
struct RequestJSONParseError: Error, Sendable, Equatable {
    /// Python's `json` wording where one exists ("Expecting value", "Extra data", ...).
    var reason: String
    var offset: Int
}

/// Parses RFC 8259 JSON plus the `NaN`, `Infinity` and `-Infinity` literals Python's `json`
/// accepts. Strings must be valid UTF-8 and may not hold raw control characters.
struct RequestJSONParser {
    /// Nesting deeper than this is refused (no request schema needs more than a handful).
    static let maximumDepth = 64

    private let bytes: [UInt8]
    private var index = 0

    static func parse(_ bytes: [UInt8]) throws(RequestJSONParseError) -> RequestJSON {
        var parser = RequestJSONParser(bytes: bytes)
        parser.skipWhitespace()
        let value = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        if parser.index != bytes.count { throw parser.failure("Extra data") }
        return value
    }

    private init(bytes: [UInt8]) { self.bytes = bytes }

    private func failure(_ reason: String, at offset: Int? = nil) -> RequestJSONParseError {
        RequestJSONParseError(reason: reason, offset: offset ?? index)
    }

    private var current: UInt8? { index < bytes.count ? bytes[index] : nil }

    private mutating func skipWhitespace() {
        while let b = current, b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 { index += 1 }
    }

    private mutating func expectLiteral(_ text: StaticString) -> Bool {
        let count = text.utf8CodeUnitCount
        guard index + count <= bytes.count else { return false }
        let matches = text.withUTF8Buffer { literal in
            literal.indices.allSatisfy { bytes[index + $0] == literal[$0] }
        }
        if matches { index += count }
        return matches
    }

    private mutating func parseValue(depth: Int) throws(RequestJSONParseError) -> RequestJSON {
        guard let b = current else { throw failure("Expecting value") }
        switch b {
        case UInt8(ascii: "{"): return try parseObject(depth: depth + 1)
        case UInt8(ascii: "["): return try parseArray(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): if expectLiteral("true") { return .bool(true) }
        case UInt8(ascii: "f"): if expectLiteral("false") { return .bool(false) }
        case UInt8(ascii: "n"): if expectLiteral("null") { return .null }
        case UInt8(ascii: "N"): if expectLiteral("NaN") { return .number(JSONNumber(literal: "NaN")) }
        case UInt8(ascii: "I"): if expectLiteral("Infinity") { return .number(JSONNumber(literal: "Infinity")) }
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            if b == UInt8(ascii: "-"), expectLiteral("-Infinity") { return .number(JSONNumber(literal: "-Infinity")) }
            return .number(try parseNumber())
        default: break
        }
        throw failure("Expecting value")
    }

    private mutating func parseObject(depth: Int) throws(RequestJSONParseError) -> RequestJSON {
        if depth > Self.maximumDepth { throw failure("Nesting deeper than \(Self.maximumDepth) levels") }
        index += 1  // {
        var members: [(key: String, value: RequestJSON)] = []
        skipWhitespace()
        if current == UInt8(ascii: "}") { index += 1; return .object(members) }
        while true {
            skipWhitespace()
            guard current == UInt8(ascii: "\"") else {
                throw failure("Expecting property name enclosed in double quotes")
            }
            let key = try parseString()
            skipWhitespace()
            guard current == UInt8(ascii: ":") else { throw failure("Expecting ':' delimiter") }
            index += 1
            skipWhitespace()
            let value = try parseValue(depth: depth)
            members.append((key, value))
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "}"): index += 1; return .object(members)
            default: throw failure("Expecting ',' delimiter")
            }
        }
    }

    private mutating func parseArray(depth: Int) throws(RequestJSONParseError) -> RequestJSON {
        if depth > Self.maximumDepth { throw failure("Nesting deeper than \(Self.maximumDepth) levels") }
        index += 1  // [
        var elements: [RequestJSON] = []
        skipWhitespace()
        if current == UInt8(ascii: "]") { index += 1; return .array(elements) }
        while true {
            skipWhitespace()
            elements.append(try parseValue(depth: depth))
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "]"): index += 1; return .array(elements)
            default: throw failure("Expecting ',' delimiter")
            }
        }
    }

    private mutating func parseNumber() throws(RequestJSONParseError) -> JSONNumber {
        let start = index
        func digits(_ parser: inout RequestJSONParser) -> Int {
            let from = parser.index
            while let d = parser.current, d >= UInt8(ascii: "0"), d <= UInt8(ascii: "9") { parser.index += 1 }
            return parser.index - from
        }
        if current == UInt8(ascii: "-") { index += 1 }
        if current == UInt8(ascii: "0") {
            index += 1
        } else if digits(&self) == 0 {
            throw failure("Expecting value", at: start)
        }
        if current == UInt8(ascii: ".") {
            index += 1
            if digits(&self) == 0 { throw failure("Expecting digits after the decimal point") }
        }
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            index += 1
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { index += 1 }
            if digits(&self) == 0 { throw failure("Expecting digits in the exponent") }
        }
        return JSONNumber(literal: String(decoding: bytes[start..<index], as: UTF8.self))
    }

    private mutating func parseString() throws(RequestJSONParseError) -> String {
        let open = index
        index += 1  // opening quote
        var scalars = String.UnicodeScalarView()
        var runStart = index
        func flushRun(_ parser: RequestJSONParser, _ end: Int) throws(RequestJSONParseError) {
            guard end > runStart else { return }
            var iterator = parser.bytes[runStart..<end].makeIterator()
            var decoder = UTF8()
            while true {
                switch decoder.decode(&iterator) {
                case .scalarValue(let scalar): scalars.append(scalar)
                case .emptyInput: return
                case .error: throw parser.failure("Invalid UTF-8 in string", at: runStart)
                }
            }
        }
        while true {
            guard let b = current else { throw failure("Unterminated string starting at", at: open) }
            if b == UInt8(ascii: "\"") {
                try flushRun(self, index)
                index += 1
                return String(scalars)
            }
            if b < 0x20 { throw failure("Invalid control character at") }
            if b != UInt8(ascii: "\\") { index += 1; continue }
            try flushRun(self, index)
            index += 1
            guard let e = current else { throw failure("Unterminated string starting at", at: open) }
            index += 1
            switch e {
            case UInt8(ascii: "\""): scalars.append("\"")
            case UInt8(ascii: "\\"): scalars.append("\\")
            case UInt8(ascii: "/"): scalars.append("/")
            case UInt8(ascii: "b"): scalars.append("\u{08}")
            case UInt8(ascii: "f"): scalars.append("\u{0C}")
            case UInt8(ascii: "n"): scalars.append("\n")
            case UInt8(ascii: "r"): scalars.append("\r")
            case UInt8(ascii: "t"): scalars.append("\t")
            case UInt8(ascii: "u"): scalars.append(try parseUnicodeEscape())
            default: throw failure("Invalid \\escape", at: index - 2)
            }
            runStart = index
        }
    }

    /// After `\u`: four hex digits, combining a surrogate pair when one follows. A lone
    /// surrogate (legal JSON, not a Unicode scalar) becomes U+FFFD.
    private mutating func parseUnicodeEscape() throws(RequestJSONParseError) -> Unicode.Scalar {
        let high = try parseHex4()
        if (0xD800...0xDBFF).contains(high), index + 1 < bytes.count,
           bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") {
            let save = index
            index += 2
            let low = try parseHex4()
            if (0xDC00...0xDFFF).contains(low) {
                let value = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
                return Unicode.Scalar(value) ?? "\u{FFFD}"
            }
            index = save
        }
        return Unicode.Scalar(high) ?? "\u{FFFD}"
    }

    private mutating func parseHex4() throws(RequestJSONParseError) -> UInt32 {
        guard index + 4 <= bytes.count else { throw failure("Invalid \\uXXXX escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let h = bytes[index]
            let digit: UInt32
            switch h {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(h - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(h - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(h - UInt8(ascii: "A") + 10)
            default: throw failure("Invalid \\uXXXX escape")
            }
            value = value << 4 | digit
            index += 1
        }
        return value
    }
}
