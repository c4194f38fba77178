import Foundation
import HTTP
import Testing

/// Malformed and hostile input over a real socket: each case gets its status (or a closed
/// connection), and the server keeps serving.
@Suite(.serialized) struct BadInputTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var raw: String
        var status: Int
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "garbage request line", raw: "HELLO WORLD\r\n\r\n", status: 400),
        Case(name: "missing Host", raw: "GET / HTTP/1.1\r\n\r\n", status: 400),
        Case(name: "obs-fold", raw: "GET / HTTP/1.1\r\nHost: x\r\nA: b\r\n c\r\n\r\n", status: 400),
        Case(name: "NUL in header", raw: "GET / HTTP/1.1\r\nHost: x\r\nA: \u{0}\r\n\r\n", status: 400),
        Case(name: "smuggling CL+TE", raw: "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", status: 400),
        Case(name: "differing Content-Length", raw: "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", status: 400),
        Case(name: "bad chunk size", raw: "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n", status: 400),
        Case(name: "unknown transfer coding", raw: "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: br\r\n\r\n", status: 501),
        Case(name: "HTTP/2.0 request line", raw: "GET / HTTP/2.0\r\nHost: x\r\n\r\n", status: 505),
        Case(name: "HTTP/2 preface", raw: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", status: 400),
        Case(name: "TLS handshake bytes", raw: "\u{16}\u{3}\u{1}\u{0}\u{a5}\u{1}\u{0}\u{0}\u{a1}\u{3}\u{3} \r\n\r\n", status: 400),
        Case(name: "request line over the limit", raw: "GET /" + String(repeating: "a", count: 300) + " HTTP/1.1\r\nHost: x\r\n\r\n", status: 414),
        Case(name: "header section over the limit", raw: "GET / HTTP/1.1\r\nHost: x\r\nBig: " + String(repeating: "b", count: 600) + "\r\n\r\n", status: 431),
        Case(name: "too many headers", raw: "GET / HTTP/1.1\r\nHost: x\r\n" + String(repeating: "A: 1\r\n", count: 20) + "\r\n", status: 431),
        Case(name: "Content-Length over the body limit", raw: "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" + String(repeating: "z", count: 5000), status: 413),
        Case(name: "chunked body over the limit", raw: "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n" + String(repeating: "z", count: 2048) + "\r\n0\r\n\r\n", status: 413),
        Case(name: "unsupported expectation", raw: "POST / HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\nContent-Length: 0\r\n\r\n", status: 417),
    ]

    static func configure(_ config: inout HTTPServerConfiguration) {
        config.limits = HTTPParserLimits(maxRequestLineBytes: 256, maxHeaderBytes: 512, maxHeaderCount: 16, maxBodyBytes: 1024)
        config.lingerTimeout = .milliseconds(200)
    }

    @Test("Each malformed request gets its status, a JSON error body, Connection: close and a closed connection; the server keeps serving",
          arguments: cases)
    func malformed(_ bad: Case) async throws {
        try await withServer(Self.configure, handler: echoHandler) { _, port in
            let client = try TestClient(port: port)
            try client.send(try latin1Bytes(bad.raw, what: bad.name))
            let response = try client.readResponse()
            #expect(response.status == bad.status)
            #expect(response.headers["Connection"] == "close")
            #expect(response.headers["Content-Type"] == "application/json")
            let json = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
            let error = json?["error"] as? [String: Any]
            #expect(error?["code"] as? Int == bad.status)
            #expect((error?["message"] as? String)?.isEmpty == false)
            #expect(client.waitForClose(timeout: 2))

            let next = try TestClient(port: port)
            try next.send("GET /still HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try next.readResponse().headers["X-Path"] == "/still")
        }
    }

    @Test("A valid request pipelined before a malformed one is answered first, then the error")
    func validThenMalformed() async throws {
        try await withServer(Self.configure, handler: echoHandler) { _, port in
            let client = try TestClient(port: port)
            try client.send("GET /good HTTP/1.1\r\nHost: x\r\n\r\nBAD\r\n\r\nGET /never HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try client.readResponse().headers["X-Path"] == "/good")
            #expect(try client.readResponse().status == 400)
            #expect(client.waitForClose(timeout: 2))
        }
    }

    @Test("A client that closes mid-request, or resets, costs nothing and the server keeps serving")
    func abruptDisconnects() async throws {
        try await withServer(Self.configure, handler: echoHandler) { server, port in
            for index in 0..<20 {
                let client = try TestClient(port: port)
                try client.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly part")
                client.close(reset: index % 2 == 0)
            }
            let deadline = Date().addingTimeInterval(3)
            while server.connectionCount > 0, Date() < deadline { try await Task.sleep(for: .milliseconds(10)) }
            #expect(server.connectionCount == 0, "every abandoned connection is released")
            let client = try TestClient(port: port)
            try client.send("GET /alive HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try client.readResponse().headers["X-Path"] == "/alive")
        }
    }

    @Test("The error body can be replaced, e.g. by the OpenAI error shape of the Server target")
    func customErrorBody() async throws {
        try await withServer({ config in
            config.errorResponse = { status, message in .text("custom \(status.code): \(message)", status: status) }
        }, handler: echoHandler) { _, port in
            let client = try TestClient(port: port)
            try client.send("GET / HTTP/9.9\r\nHost: x\r\n\r\n")
            let response = try client.readResponse()
            #expect(response.status == 505)
            #expect(response.text.hasPrefix("custom 505: "))
        }
    }

    @Test("Random bytes never crash the server: every connection is answered or closed")
    func fuzz() async throws {
        try await withServer(Self.configure, handler: echoHandler) { server, port in
            var generator = SplitMix64(seed: 0x5eed)
            for round in 0..<60 {
                let client = try TestClient(port: port)
                var bytes = Array("GET / HTTP/1.1\r\nHost: x\r\n".utf8)
                if round % 3 == 0 { bytes = [] }
                for _ in 0..<Int(generator.next() % 300) { bytes.append(UInt8(truncatingIfNeeded: generator.next())) }
                if round % 2 == 0 { bytes += Array("\r\n\r\n".utf8) }
                try client.send(bytes)
                client.close()
            }
            let deadline = Date().addingTimeInterval(3)
            while server.connectionCount > 0, Date() < deadline { try await Task.sleep(for: .milliseconds(10)) }
            #expect(server.connectionCount == 0)
            let client = try TestClient(port: port)
            try client.send("GET /alive HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try client.readResponse().status == 200)
        }
    }
}

/// A small deterministic random generator for reproducible fuzz input.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
