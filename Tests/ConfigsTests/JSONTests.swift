import Foundation
import Testing
import Configs

/// The JSON layer behaves like Python's `json` module: parsing keeps ints, floats and key order;
/// writing reproduces `json.dumps` byte for byte.
@Suite struct JSONTests {
    /// (value, Python `repr(value)`), checked against CPython 3.11.
    static let floatReprs: [(Double, String)] = [
        (0.0, "0.0"), (-0.0, "-0.0"), (1.0, "1.0"), (-2.0, "-2.0"), (1.5, "1.5"), (0.02, "0.02"),
        (1e-05, "1e-05"), (1e-06, "1e-06"), (2.5e-05, "2.5e-05"), (0.0001, "0.0001"), (0.00012, "0.00012"),
        (100.0, "100.0"), (10000.0, "10000.0"), (500000.0, "500000.0"), (1000000000.0, "1000000000.0"),
        (1e15, "1000000000000000.0"), (1e16, "1e+16"), (1.5e16, "1.5e+16"), (1e22, "1e+22"),
        (123456789012345678.0, "1.2345678901234568e+17"), (0.1 + 0.2, "0.30000000000000004"),
        (123.456, "123.456"), (Double.leastNonzeroMagnitude, "5e-324"), (1.7976931348623157e308, "1.7976931348623157e+308"),
        (.nan, "NaN"), (.infinity, "Infinity"), (-.infinity, "-Infinity"),
    ]

    @Test("Floats are written as Python's repr", arguments: floatReprs)
    func floatRepr(value: Double, expected: String) {
        #expect(PythonFloat.repr(value) == expected)
        if value.isFinite {
            #expect(Double(expected) == value, "the text must read back to the same double")
        }
    }

    @Test("Parsing keeps integers apart from floats")
    func numberKinds() throws {
        #expect(try JSONParser.parse("1") == .int(1))
        #expect(try JSONParser.parse("-0") == .int(0))
        #expect(try JSONParser.parse("1.0") == .double(1.0))
        #expect(try JSONParser.parse("1e5") == .double(100000))
        #expect(try JSONParser.parse("1E-05") == .double(1e-5))
        #expect(try JSONParser.parse("[NaN, Infinity, -Infinity]").arrayValue?.count == 3)
        #expect(PythonJSONWriter.compact(try JSONParser.parse("[1, 1.0, 1e-05, 96.0]")) == "[1, 1.0, 1e-05, 96.0]")
    }

    @Test("Objects keep key order; a repeated key keeps its first position and last value, like json.loads")
    func keyOrder() throws {
        let object = try #require(try JSONParser.parse(#"{"b": 1, "a": 2, "b": 3}"#).objectValue)
        #expect(object.keys == ["b", "a"])
        #expect(object["b"] == 3)
        #expect(PythonJSONWriter.compact(.object(object)) == #"{"b": 3, "a": 2}"#)
        #expect(PythonJSONWriter.compact(.object(object), sortKeys: true) == #"{"a": 2, "b": 3}"#)
    }

    @Test("Strings decode escapes, surrogate pairs and UTF-8")
    func strings() throws {
        #expect(try JSONParser.parse(#""a\"b\\c\/d\n\t\u00e9\ud83d\ude00""#) == .string("a\"b\\c/d\n\té😀"))
        #expect(try JSONParser.parse("\"héllo\"") == .string("héllo"))
    }

    @Test("Malformed documents give an error with line and column, never a crash",
          arguments: [
            ("{\"a\": 1,}", 1, 9), ("{\n  \"a\": tru\n}", 2, 8), ("[1, 2", 1, 6), ("\"abc", 1, 1), ("", 1, 1),
            ("{\"a\" 1}", 1, 6), ("[1] x", 1, 5), ("\"a\u{01}\"", 1, 3), ("\u{FEFF}{}", 1, 1),
            ("01", 1, 2), ("[.5]", 1, 2), ("\"\\x\"", 1, 4),
          ])
    func malformed(text: String, line: Int, column: Int) {
        #expect {
            _ = try JSONParser.parse(text)
        } throws: { error in
            guard let error = error as? JSONParseError else { return false }
            return error.line == line && error.column == column && !error.message.isEmpty
        }
    }

    @Test("Nesting deeper than the limit is an error, not a stack overflow")
    func depthLimit() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: JSONParseError.self) { try JSONParser.parse(deep) }
        let ok = String(repeating: "[", count: 500) + String(repeating: "]", count: 500)
        #expect((try? JSONParser.parse(ok)) != nil)
    }

    @Test("A UTF-8 byte-order mark is refused with the reason, as Python's json.loads refuses it")
    func byteOrderMark() throws {
        #expect {
            _ = try JSONParser.parse(Data([0xEF, 0xBB, 0xBF]) + Data("{}".utf8))
        } throws: { error in
            (error as? JSONParseError)?.message.contains("byte-order mark") == true
        }
    }

    @Test("What Python reads but Swift cannot hold is read as the nearest value: integers beyond 64 bits as floats, unpaired surrogates as U+FFFD")
    func pythonOnlyValues() throws {
        #expect(try JSONParser.parse("99999999999999999999") == .double(1e20))
        #expect(try JSONParser.parse("-9223372036854775809") == .double(-9223372036854775809.0))
        #expect(try JSONParser.parse("9223372036854775807") == .int(Int.max))
        #expect(try JSONParser.parse(#""\ud800""#) == .string("\u{FFFD}"))
        #expect(try JSONParser.parse(#""a\udc00b""#) == .string("a\u{FFFD}b"))
        #expect(try JSONParser.parse(#""\ud800\ud83d\ude00""#) == .string("\u{FFFD}😀"))
        #expect(try JSONParser.parse(#""\ud83d\ude00""#) == .string("😀"))
    }

    @Test("Non-finite floats are written as transformers 5 writes them and read back from that form at any depth")
    func taggedFloats() throws {
        let value: JSONValue = ["a": .double(.infinity), "b": [.double(-.infinity), .double(.nan)], "c": 1.5]
        let text = PythonJSONWriter.compact(value, sortKeys: true)
        #expect(text == #"{"a": {"__float__": "Infinity"}, "b": [{"__float__": "-Infinity"}, {"__float__": "NaN"}], "c": 1.5}"#)
        let back = try JSONParser.parse(text).decodingTaggedFloats
        #expect(back.objectValue?["a"] == .double(.infinity))
        #expect(back.objectValue?["b"]?.arrayValue?.first == .double(-.infinity))
        #expect(back.objectValue?["b"]?.arrayValue?.last?.doubleValue?.isNaN == true)
        // Only an object with the one tag key and a known tag is a float.
        let other: JSONValue = ["x": ["__float__": "Infinity", "y": 1], "z": ["__float__": "Large"]]
        #expect(other.decodingTaggedFloats == other)
    }

    @Test("The config-file layout matches json.dumps(indent=2, sort_keys=True) plus a newline")
    func configLayout() throws {
        let value: JSONValue = ["b": [1, 2.0], "a": ["z": .null, "y": []], "c": [:], "é": "ü", "B": true]
        let expected = """
        {
          "B": true,
          "a": {
            "y": [],
            "z": null
          },
          "b": [
            1,
            2.0
          ],
          "c": {},
          "\\u00e9": "\\u00fc"
        }

        """
        #expect(PythonJSONWriter.configFile(value) == expected)
    }

    @Test("ensure_ascii escapes control characters, DEL and non-ASCII as lowercase \\u escapes")
    func ensureASCII() {
        #expect(PythonJSONWriter.compact("tab\there\u{7f}\u{1f}\u{8}\u{c}\r") == #""tab\there\u007f\u001f\b\f\r""#)
        #expect(PythonJSONWriter.compact("😀") == #""\ud83d\ude00""#)
        #expect(PythonJSONWriter.compact("/") == #""/""#)
    }

    @Test("Paths render as dotted keys with [n] indices and quote odd keys")
    func paths() {
        let path = JSONPath.root.appending("speculators_config").appending("proposal_methods").appending(index: 0).appending("speculative_tokens")
        #expect(path.description == "speculators_config.proposal_methods[0].speculative_tokens")
        #expect(JSONPath(parsing: path.description) == path)
        #expect(JSONPath.root.appending("auto_map").appending("").description == #"auto_map[""]"#)
        #expect(JSONPath(parsing: #"auto_map[""]"#) == JSONPath.root.appending("auto_map").appending(""))
        #expect(JSONPath.root.description == "")
    }
}
