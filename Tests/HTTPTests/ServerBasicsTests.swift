import Foundation
import HTTP
import Testing

/// Echoes what the server parsed, so tests can see the request the handler got.
let echoHandler: @Sendable (HTTPRequest, HTTPResponder) -> Void = { request, responder in
    var headers = HTTPHeaders()
    headers.add(name: "X-Method", value: request.method)
    headers.add(name: "X-Path", value: request.path)
    headers.add(name: "X-Query", value: request.query ?? "-")
    headers.add(name: "X-Request-Id", value: String(request.id))
    headers.add(name: "X-Remote", value: request.remoteAddress)
    headers.add(name: "X-Trailers", value: request.trailers.fields.map { "\($0.name)=\($0.value)" }.joined(separator: ","))
    responder.send(HTTPResponse(status: .ok, headers: headers, body: request.body))
}

@Suite(.serialized) struct ServerBasicsTests {
    @Test("A GET is answered with the handler's status and body plus Date and Content-Length")
    func simpleGet() async throws {
        try await withServer(handler: echoHandler) { _, port in
            let client = try TestClient(port: port)
            try client.send("GET /v1/models?a=1 HTTP/1.1\r\nHost: x\r\n\r\n")
            let response = try client.readResponse()
            #expect(response.status == 200)
            #expect(response.reason == "OK")
            #expect(response.headers["X-Method"] == "GET")
            #expect(response.headers["X-Path"] == "/v1/models")
            #expect(response.headers["X-Query"] == "a=1")
            #expect(response.headers["Content-Length"] == "0")
            #expect(response.headers["Connection"] == nil)
            let date = try #require(response.headers["Date"])
            #expect(date.hasSuffix(" GMT") && date.count == 29, "IMF-fixdate, got \(date)")
            #expect(response.headers["X-Remote"]?.hasPrefix("127.0.0.1:") == true)
        }
    }

    @Test("Keep-alive: several requests reuse one connection and get distinct request ids")
    func keepAlive() async throws {
        try await withServer(handler: echoHandler) { _, port in
            let client = try TestClient(port: port)
            var ids: Set<String> = []
            for index in 0..<5 {
                try client.send("POST /n HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n\(index)")
                let response = try client.readResponse()
                #expect(response.status == 200)
                #expect(response.text == "\(index)")
                ids.insert(response.headers["X-Request-Id"] ?? "")
            }
            #expect(ids.count == 5)
            #expect(!client.waitForClose(timeout: 0.1), "the connection stays open between requests")
        }
    }

    @Test("Pipelined requests sent in one write are answered in request order even when the first is slowest")
    func pipelining() async throws {
        try await withServer(handler: { request, responder in
            // The first request answers last in wall-clock terms; the server must still send it first.
            let delay = request.path == "/1" ? 0.3 : 0.0
            DispatchQueue.global().asyncAfter(deadline: .now() + delay) {
                responder.send(.text(request.path))
            }
        }) { _, port in
            let client = try TestClient(port: port)
            try client.send("GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\nPOST /3 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhiGET /4 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            var order: [String] = []
            for _ in 0..<4 { order.append(try client.readResponse().text) }
            #expect(order == ["/1", "/2", "/3", "/4"])
            #expect(client.waitForClose(timeout: 2), "Connection: close on the last request closes the connection")
        }
    }

    @Test("A chunked upload with extensions and trailers reaches the handler decoded")
    func chunkedUpload() async throws {
        try await withServer(handler: echoHandler) { _, port in
            let client = try TestClient(port: port)
            try client.send("POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
            try client.send("4;ext=1\r\nWiki\r\n")
            try await Task.sleep(for: .milliseconds(50))
            try client.send("6\r\npedia \r\nE\r\nin \r\n\r\nchunks.\r\n0\r\nX-Sum: 9\r\n\r\n")
            let response = try client.readResponse()
            #expect(response.text == "Wikipedia in \r\n\r\nchunks.")
            #expect(response.headers["X-Trailers"] == "X-Sum=9")
        }
    }

    @Test("Expect: 100-continue gets an interim 100 before the client sends the body")
    func expectContinue() async throws {
        try await withServer(handler: echoHandler) { _, port in
            let client = try TestClient(port: port)
            try client.send("POST /e HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
            let interim = try client.readHead()
            #expect(interim.status == 100)
            try client.send("hello")
            let response = try client.readResponse()
            #expect(response.status == 200)
            #expect(response.text == "hello")
        }
    }

    @Test("HEAD gets the headers of the GET answer, Content-Length included, and no body")
    func headRequest() async throws {
        try await withServer(handler: { _, responder in responder.send(.text("twelve bytes")) }) { _, port in
            let client = try TestClient(port: port)
            try client.send("HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
            let head = try client.readResponse(head: true)
            #expect(head.status == 200)
            #expect(head.headers["Content-Length"] == "12")
            let get = try client.readResponse()
            #expect(get.text == "twelve bytes", "the next response starts right after the HEAD head")
        }
    }

    @Test("HTTP/1.0 is closed after its answer unless it asks for keep-alive, which is acknowledged")
    func http10() async throws {
        try await withServer(handler: echoHandler) { _, port in
            let plain = try TestClient(port: port)
            try plain.send("GET /a HTTP/1.0\r\n\r\n")
            let first = try plain.readResponse()
            #expect(first.status == 200)
            #expect(first.headers["Connection"] == "close")
            #expect(plain.waitForClose(timeout: 2))

            let kept = try TestClient(port: port)
            try kept.send("GET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            let second = try kept.readResponse()
            #expect(second.headers["Connection"] == "keep-alive")
            try kept.send("GET /c HTTP/1.0\r\n\r\n")
            #expect(try kept.readResponse().headers["X-Path"] == "/c")
        }
    }

    @Test("The handler may answer later from another thread; the server does not block meanwhile")
    func answerLater() async throws {
        try await withServer(handler: { request, responder in
            if request.path == "/slow" {
                Thread.detachNewThread {
                    Thread.sleep(forTimeInterval: 1.5)
                    responder.send(.text("slow"))
                }
            } else {
                responder.send(.text("fast"))
            }
        }) { _, port in
            let slow = try TestClient(port: port)
            try slow.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
            let fast = try TestClient(port: port)
            try fast.send("GET /fast HTTP/1.1\r\nHost: x\r\n\r\n")
            let started = Date()
            #expect(try fast.readResponse().text == "fast")
            #expect(Date().timeIntervalSince(started) < 1.2, "another connection is served while one waits")
            #expect(try slow.readResponse().text == "slow")
        }
    }

    @Test("A handler that drops its responder without answering yields a 500, and the connection goes on")
    func droppedResponder() async throws {
        try await withServer(handler: { request, responder in
            if request.path == "/ok" { responder.send(.text("ok")) }
        }) { _, port in
            let client = try TestClient(port: port)
            try client.send("GET /forgot HTTP/1.1\r\nHost: x\r\n\r\n")
            let response = try client.readResponse()
            #expect(response.status == 500)
            #expect(response.text.contains("\"code\":500"))
            try client.send("GET /ok HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try client.readResponse().text == "ok")
        }
    }

    @Test("Only the first answer counts; later sends are ignored")
    func answerOnce() async throws {
        try await withServer(handler: { _, responder in
            responder.send(.text("first"))
            responder.send(.text("second"))
            _ = responder.startStream().write("third")
        }) { _, port in
            let client = try TestClient(port: port)
            try client.send("GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try client.readResponse().text == "first")
            #expect(try client.readResponse().text == "first")
        }
    }

    @Test("Framing headers set by the handler are replaced by the server's and header values cannot split the response")
    func framingHeadersOwnedByServer() async throws {
        try await withServer(handler: { _, responder in
            responder.send(HTTPResponse(status: .ok, headers: ["Content-Length": "999", "Transfer-Encoding": "chunked",
                                                               "X-Evil": "a\r\nInjected: yes", "Bad Name": "x"],
                                        body: Array("abc".utf8)))
        }) { _, port in
            let client = try TestClient(port: port)
            try client.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            let response = try client.readResponse()
            #expect(response.headers["Content-Length"] == "3")
            #expect(response.headers["Transfer-Encoding"] == nil)
            #expect(response.headers["Injected"] == nil)
            #expect(response.headers["X-Evil"] == "a  Injected: yes")
            #expect(response.headers["Bad Name"] == nil)
            #expect(response.text == "abc")
        }
    }
}
