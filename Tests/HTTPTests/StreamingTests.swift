import Foundation
import HTTP
import Testing

@Suite(.serialized) struct StreamingTests {
    @Test("A streamed response reaches the client chunk by chunk while the handler is still producing")
    func incremental() async throws {
        let clientSawFirst = Signal<Bool>()
        let finishedCleanly = Signal<Bool>()
        try await withServer(handler: { _, responder in
            Thread.detachNewThread {
                let stream = responder.startStream(headers: ["Content-Type": "text/plain"])
                stream.write("first")
                // The second chunk is produced only after the client has read the first.
                guard clientSawFirst.wait(timeout: 5) == true else { stream.abort(); return }
                stream.write(Array("second".utf8))
                stream.finish()
                finishedCleanly.set(stream.isClosed)
            }
        }) { _, port in
            let client = try TestClient(port: port)
            try client.send("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
            let head = try client.readHead()
            #expect(head.status == 200)
            #expect(head.headers["Transfer-Encoding"] == "chunked")
            #expect(head.headers["Content-Length"] == nil)
            #expect(try client.readChunk() == Array("first".utf8))
            clientSawFirst.set(true)
            #expect(try client.readChunk() == Array("second".utf8))
            #expect(try client.readChunk() == nil)
            #expect(finishedCleanly.wait(timeout: 2) == true, "after finish() the stream reports closed")
            try client.send("GET /again HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try client.readHead().status == 200, "the connection is reusable after a finished stream")
        }
    }

    @Test("Server-Sent Events are framed as data lines and a blank line, one event per chunk")
    func serverSentEvents() async throws {
        try await withServer(handler: { _, responder in
            let stream = responder.startEventStream()
            stream.writeEvent(data: #"{"text":" Paris"}"#)
            stream.writeEvent(data: "two\nlines")
            stream.writeEvent(data: "[DONE]")
            stream.finish()
        }) { _, port in
            let client = try TestClient(port: port)
            try client.send("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
            let response = try client.readResponse()
            #expect(response.headers["Content-Type"] == "text/event-stream; charset=utf-8")
            #expect(response.headers["Cache-Control"] == "no-cache")
            #expect(response.chunks.map { String(decoding: $0, as: UTF8.self) }
                == ["data: {\"text\":\" Paris\"}\n\n", "data: two\ndata: lines\n\n", "data: [DONE]\n\n"])
        }
    }

    @Test("An HTTP/1.0 client gets a close-delimited stream")
    func http10Stream() async throws {
        try await withServer(handler: { _, responder in
            let stream = responder.startStream()
            stream.write("a")
            stream.write("b")
            stream.finish()
        }) { _, port in
            let client = try TestClient(port: port)
            try client.send("GET / HTTP/1.0\r\n\r\n")
            let response = try client.readResponse()
            #expect(response.headers["Transfer-Encoding"] == nil)
            #expect(response.headers["Connection"] == "close")
            #expect(response.text == "ab")
        }
    }

    @Test("A client that disconnects mid-stream fires onClose and further writes report the stream closed")
    func disconnectMidStream() async throws {
        let closed = Signal<Bool>()
        let writeAfterClose = Signal<Bool>()
        try await withServer(handler: { _, responder in
            let stream = responder.startEventStream()
            stream.onClose { closed.set(true) }
            Thread.detachNewThread {
                // An engine pushing tokens until told to stop.
                for index in 0..<1000 {
                    if !stream.writeEvent(data: "token \(index)") { break }
                    Thread.sleep(forTimeInterval: 0.01)
                }
                writeAfterClose.set(stream.write("more"))
            }
        }) { _, port in
            let client = try TestClient(port: port)
            try client.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            _ = try client.readHead()
            _ = try client.readChunk()
            client.close()
            #expect(closed.wait(timeout: 3) == true, "onClose fires when the client goes away")
            #expect(writeAfterClose.wait(timeout: 3) == false, "writes after the disconnect report closed")
        }
    }

    @Test("A client that disconnects while a non-streamed request is handled fires onClose")
    func disconnectWhileHandling() async throws {
        let closed = Signal<Bool>()
        let isClosedSeen = Signal<Bool>()
        try await withServer(handler: { _, responder in
            responder.onClose {
                isClosedSeen.set(responder.isClosed)
                closed.set(true)
            }
            // Never answers on its own: only the disconnect ends it.
        }) { _, port in
            let client = try TestClient(port: port)
            try client.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi")
            try await Task.sleep(for: .milliseconds(100))
            client.close()
            #expect(closed.wait(timeout: 3) == true)
            #expect(isClosedSeen.current == true)
        }
    }

    @Test("onClose registered after the exchange ended abnormally runs at once; after a normal end it never runs")
    func lateOnClose() async throws {
        let lateRan = Signal<Bool>()
        let normalRan = Counter()
        let registeredAfterFinish = Signal<Bool>()
        try await withServer(handler: { request, responder in
            if request.path == "/normal" {
                let stream = responder.startStream()
                stream.write("x")
                stream.finish()
                stream.onClose { normalRan.increment() }
                registeredAfterFinish.set(true)
                return
            }
            Thread.detachNewThread {
                while !responder.isClosed { Thread.sleep(forTimeInterval: 0.01) }
                responder.onClose { lateRan.set(true) }
            }
        }) { _, port in
            let normal = try TestClient(port: port)
            try normal.send("GET /normal HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try normal.readResponse().text == "x")
            #expect(registeredAfterFinish.wait(timeout: 2) == true)

            let client = try TestClient(port: port)
            try client.send("GET /late HTTP/1.1\r\nHost: x\r\n\r\n")
            try await Task.sleep(for: .milliseconds(100))
            client.close()
            #expect(lateRan.wait(timeout: 3) == true)
            normal.close()
            try await Task.sleep(for: .milliseconds(100))
            #expect(normalRan.value == 0)
        }
    }

    @Test("A client that stops reading fills the bounded stream buffer: writes report closed, never block, and onClose fires")
    func clientNotReading() async throws {
        let closed = Signal<Bool>()
        let outcome = Signal<(written: Int, longestWrite: Double)>()
        try await withServer({ config in
            config.maxStreamBufferBytes = 64 << 10
        }, handler: { _, responder in
            let stream = responder.startStream()
            stream.onClose { closed.set(true) }
            Thread.detachNewThread {
                let piece = [UInt8](repeating: 0x61, count: 4096)
                var written = 0, longest = 0.0
                while written < 512 << 20 {
                    let started = Date()
                    let accepted = stream.write(piece)
                    longest = max(longest, Date().timeIntervalSince(started))
                    if !accepted { break }
                    written += piece.count
                    if written % (1 << 20) == 0 { Thread.sleep(forTimeInterval: 0.001) }
                }
                outcome.set((written, longest))
            }
        }) { _, port in
            let client = try TestClient(port: port)
            try client.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            // Never read.
            let result = try #require(outcome.wait(timeout: 10))
            #expect(result.written < 512 << 20, "the writer was told to stop after \(result.written) bytes")
            #expect(result.longestWrite < 0.5, "a write never blocks the producer")
            #expect(closed.wait(timeout: 3) == true)
            #expect(client.waitForClose(timeout: 3))
        }
    }

    @Test("A stream released without finish() ends the connection so the client sees a truncated body")
    func abandonedStream() async throws {
        try await withServer(handler: { _, responder in
            let stream = responder.startStream()
            stream.write("partial")
        }) { _, port in
            let client = try TestClient(port: port)
            try client.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            _ = try client.readHead()
            #expect(try client.readChunk() == Array("partial".utf8))
            #expect(throws: TestClientError.self) { try client.readChunk(timeout: 3) }
            #expect(client.peerClosed)
        }
    }
}
