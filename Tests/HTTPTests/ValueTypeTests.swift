import Foundation
import HTTP
import Testing

@Suite struct ValueTypeTests {
    @Test("Header lookup ignores ASCII case and keeps order and duplicates")
    func headers() {
        var headers: HTTPHeaders = ["Content-Type": "application/json", "X-A": "1"]
        headers.add(name: "x-a", value: "2")
        #expect(headers["content-TYPE"] == "application/json")
        #expect(headers.values(for: "X-a") == ["1", "2"])
        #expect(headers.contains("x-A"))
        #expect(!headers.contains("X-B"))
        headers.set(name: "X-A", value: "3")
        #expect(headers.values(for: "x-a") == ["3"])
        headers.remove(name: "CONTENT-type")
        #expect(headers.fields == [HTTPField(name: "X-A", value: "3")])
        let connection: HTTPHeaders = ["Connection": "keep-alive, Upgrade"]
        #expect(connection.listContains("connection", token: "upgrade"))
        #expect(!connection.listContains("connection", token: "close"))
    }

    @Test("Query items are split on & and =, percent-decoded, with + as a space")
    func queryItems() {
        let request = HTTPRequest(method: "GET", target: "/p?a=1&b=x+y%21&flag&=v&c=%zz&d=caf%C3%A9", path: "/p",
                                  query: "a=1&b=x+y%21&flag&=v&c=%zz&d=caf%C3%A9", version: .http1_1, headers: [:])
        #expect(request.queryItems == [
            HTTPQueryItem(name: "a", value: "1"), HTTPQueryItem(name: "b", value: "x y!"),
            HTTPQueryItem(name: "flag", value: ""), HTTPQueryItem(name: "", value: "v"),
            HTTPQueryItem(name: "c", value: "%zz"), HTTPQueryItem(name: "d", value: "café"),
        ])
        #expect(request.queryValue("b") == "x y!")
        #expect(request.queryValue("missing") == nil)
    }

    @Test("Percent-decoding keeps malformed escapes and repairs invalid UTF-8")
    func percentDecoding() {
        #expect(percentDecoded("a%2Fb") == "a/b")
        #expect(percentDecoded("100%") == "100%")
        #expect(percentDecoded("%4") == "%4")
        #expect(percentDecoded("a+b") == "a+b")
        #expect(percentDecoded("a+b", plusAsSpace: true) == "a b")
        #expect(percentDecoded("%FF") == "\u{FFFD}")
    }

    @Test("The default error body is the OpenAI nested error object with the status repeated as code")
    func defaultErrorBody() throws {
        let response = HTTPResponse.error(status: .contentTooLarge, message: "too \"big\"\n\u{1}")
        #expect(response.status.code == 413)
        #expect(response.headers["Content-Type"] == "application/json")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
        let error = try #require(object["error"] as? [String: Any])
        #expect(error["message"] as? String == "too \"big\"\n\u{1}")
        #expect(error["type"] as? String == "Content Too Large")
        #expect(error["param"] is NSNull)
        #expect(error["code"] as? Int == 413)
    }

    @Test("jsonQuoted escapes quotes, backslashes and control characters")
    func jsonQuoting() {
        #expect(jsonQuoted("a\"b\\c\n\t\u{7}é") == #""a\"b\\c\n\t\u0007é""#)
    }

    @Test("Status codes carry their RFC 9110 reason phrases")
    func statuses() {
        #expect(HTTPStatus(431).reasonPhrase == "Request Header Fields Too Large")
        #expect(HTTPStatus.httpVersionNotSupported.description == "505 HTTP Version Not Supported")
        #expect(HTTPStatus(299).reasonPhrase == "Unknown")
        #expect(HTTPParseError.Kind.allCases.allSatisfy { HTTPParseError($0, "m").status.code >= 400 })
    }

    @Test("HTTP versions order by major then minor")
    func versions() {
        #expect(HTTPVersion.http1_0 < .http1_1)
        #expect(HTTPVersion(major: 1, minor: 9) > .http1_1)
        #expect(HTTPVersion.http1_1.description == "HTTP/1.1")
    }
}

@Suite struct ParserAPITests {
    @Test("End of input mid-request is a truncation error; at a boundary it is not")
    func endOfInput() {
        var clean = HTTPRequestParser()
        clean.feed(Array("GET / HTTP/1.1\r\nHost: h\r\n\r\n".utf8))
        guard case .request = clean.nextEvent() else { Issue.record("expected a request"); return }
        #expect(clean.endOfInput() == nil)

        var cut = HTTPRequestParser()
        cut.feed(Array("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9\r\n\r\nabc".utf8))
        #expect(cut.nextEvent() == nil)
        #expect(cut.endOfInput()?.kind == .truncatedMessage)
        #expect(cut.phase == .failed)
    }

    @Test("Pipelined bytes wait in the buffer until the next event is asked for")
    func buffering() {
        var parser = HTTPRequestParser()
        let first = "GET /1 HTTP/1.1\r\nHost: h\r\n\r\n", second = "GET /2 HTTP/1.1\r\nHost: h\r\n\r\n"
        parser.feed(Array((first + second).utf8))
        #expect(parser.bufferedByteCount == first.utf8.count + second.utf8.count)
        guard case .request(let one) = parser.nextEvent() else { Issue.record("expected /1"); return }
        #expect(one.path == "/1")
        #expect(parser.bufferedByteCount == second.utf8.count)
        #expect(parser.phase == .head, "bytes of the next request are waiting")
        guard case .request(let two) = parser.nextEvent() else { Issue.record("expected /2"); return }
        #expect(two.path == "/2")
        #expect(parser.phase == .idle)
        #expect(parser.nextEvent() == nil)
    }

    @Test("After an error the parser ignores further input and reports nothing more")
    func failedIsTerminal() {
        var parser = HTTPRequestParser()
        parser.feed(Array("BAD\r\n\r\n".utf8))
        guard case .error(let error) = parser.nextEvent() else { Issue.record("expected an error"); return }
        #expect(error.status == .badRequest)
        parser.feed(Array("GET / HTTP/1.1\r\nHost: h\r\n\r\n".utf8))
        #expect(parser.nextEvent() == nil)
        #expect(parser.bufferedByteCount == 0)
    }

    @Test("A 4 MiB body in uneven reads, chunked and by length, arrives intact")
    func largeBodies() {
        var generator = SplitMix64(seed: 42)
        let body = (0..<(4 << 20)).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
        var chunked = Array("POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n".utf8)
        var offset = 0
        while offset < body.count {
            let size = min(body.count - offset, Int(generator.next() % 70_000) + 1)
            chunked += Array(String(size, radix: 16).utf8) + [13, 10] + body[offset..<(offset + size)] + [13, 10]
            offset += size
        }
        chunked += Array("0\r\n\r\n".utf8)
        let sized = Array("POST /l HTTP/1.1\r\nHost: h\r\nContent-Length: \(body.count)\r\n\r\n".utf8) + body
        for input in [chunked, sized] {
            var parser = HTTPRequestParser()
            var events: [HTTPParserEvent] = []
            var position = 0
            while position < input.count {
                let read = min(input.count - position, Int(generator.next() % 20_000) + 1)
                input[position..<(position + read)].withUnsafeBytes { parser.feed($0) }
                position += read
                while let event = parser.nextEvent() { events.append(event) }
            }
            #expect(events.count == 1)
            if case .request(let request)? = events.first { #expect(request.body == body) } else { Issue.record("no request") }
        }
    }
}
