import Foundation
import HTTP
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite(.serialized) struct LifecycleTests {
    @Test("Port 0 binds an ephemeral port, reported by start() and port")
    func ephemeralPort() throws {
        let server = HTTPServer(configuration: HTTPServerConfiguration(port: 0), handler: echoHandler)
        let port = try server.start()
        #expect(port > 0)
        #expect(server.port == port)
        #expect(throws: HTTPServerError.self) { try server.start() }
        server.shutdown(gracePeriod: .zero)
        server.waitUntilStopped()
        #expect(server.isStopped)
        #expect(server.port == nil)
    }

    @Test("Binding a port in use fails with an error naming it")
    func portInUse() throws {
        let first = HTTPServer(configuration: HTTPServerConfiguration(port: 0), handler: echoHandler)
        let port = try first.start()
        defer { first.shutdown(gracePeriod: .zero) }
        let second = HTTPServer(configuration: HTTPServerConfiguration(port: port), handler: echoHandler)
        let error = #expect(throws: HTTPServerError.self) { try second.start() }
        #expect(error?.description.contains("\(port)") == true)
    }

    @Test("Over the connection bound a new client gets 503 (or is closed) and is served again once a slot frees")
    func connectionBound() async throws {
        try await withServer({ config in
            config.maxConnections = 2
        }, handler: echoHandler) { server, port in
            let a = try TestClient(port: port), b = try TestClient(port: port)
            try a.send("GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
            _ = try a.readResponse()
            try b.send("GET /b HTTP/1.1\r\nHost: x\r\n\r\n")
            _ = try b.readResponse()
            #expect(server.connectionCount == 2)

            let refused = try TestClient(port: port)
            try? refused.send("GET /c HTTP/1.1\r\nHost: x\r\n\r\n")
            if let response = try? refused.readResponse() {
                #expect(response.status == 503)
                #expect(response.headers["Retry-After"] == "1")
            }
            #expect(refused.waitForClose(timeout: 2), "the refused connection is closed either way")

            a.close()
            let deadline = Date().addingTimeInterval(3)
            while server.connectionCount > 1, Date() < deadline { try await Task.sleep(for: .milliseconds(10)) }
            let later = try TestClient(port: port)
            try later.send("GET /d HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try later.readResponse().status == 200)
        }
    }

    @Test("Over the connection bound, reserved connections answer probe paths once; other requests get 503")
    func probesPassTheConnectionBound() async throws {
        try await withServer({ config in
            config.maxConnections = 2
            config.probePaths = ["/health"]
            config.probeConnections = 1
        }, handler: echoHandler) { server, port in
            let a = try TestClient(port: port), b = try TestClient(port: port)
            for (client, path) in [(a, "/a"), (b, "/b")] {
                try client.send("GET \(path) HTTP/1.1\r\nHost: x\r\n\r\n")
                #expect(try client.readResponse().status == 200)
            }
            #expect(server.connectionCount == 2)

            // A keep-alive probe is answered, then its reserved connection closes.
            let probe = try TestClient(port: port)
            try probe.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            let answer = try probe.readResponse()
            #expect(answer.status == 200)
            #expect(answer.headers["Connection"]?.lowercased() == "close")
            #expect(probe.waitForClose(timeout: 2))
            probe.close()

            /// Waits until the server holds `count` connections (a closed one leaves after its linger).
            func awaitConnections(_ count: Int) async throws {
                let deadline = Date().addingTimeInterval(3)
                while server.connectionCount != count, Date() < deadline { try await Task.sleep(for: .milliseconds(10)) }
                #expect(server.connectionCount == count)
            }

            // Any other path on a reserved connection (taken: the server holds three) gets 503.
            try await awaitConnections(2)
            let other = try TestClient(port: port)
            try await awaitConnections(3)
            try other.send("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
            let refused = try other.readResponse()
            #expect(refused.status == 503)
            #expect(refused.headers["Retry-After"] == "1")
            #expect(other.waitForClose(timeout: 2))
            other.close()

            // With the reserve taken by an idle connection, even a probe is refused.
            try await awaitConnections(2)
            let idle = try TestClient(port: port)
            try await awaitConnections(3)
            let late = try TestClient(port: port)
            try? late.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            if let response = try? late.readResponse() { #expect(response.status == 503) }
            #expect(late.waitForClose(timeout: 2))
            idle.close()
            a.close()
            b.close()
        }
    }

    @Test("A closing answer arrives whole despite the client's leftovers, and the server lets go when the client closes")
    func lingerReadsLeftoversAndEndsAtTheClientsClose() async throws {
        try await withServer(handler: echoHandler) { server, port in
            let client = try TestClient(port: port)
            let garbage = String(repeating: "x", count: 64 << 10)
            try client.send("GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" + garbage)
            try await Task.sleep(for: .milliseconds(50))
            try? client.send(garbage) // while the server lingers
            let response = try client.readResponse()
            #expect(response.status == 200)
            #expect(client.waitForClose(timeout: 2), "the server's FIN follows the answer")
            client.close()
            // Well inside the 2 s linger time: the server saw the client's close.
            let deadline = Date().addingTimeInterval(1)
            while server.connectionCount > 0, Date() < deadline { try await Task.sleep(for: .milliseconds(5)) }
            #expect(server.connectionCount == 0)
        }
    }

    @Test("Graceful shutdown stops accepting, closes idle connections, and lets an in-flight request finish")
    func gracefulShutdown() async throws {
        let inHandler = Signal<Bool>()
        let server = HTTPServer(configuration: HTTPServerConfiguration(port: 0)) { _, responder in
            inHandler.set(true)
            DispatchQueue.global().asyncAfter(deadline: .now() + 0.4) { responder.send(.text("finished")) }
        }
        let port = try server.start()
        let idle = try TestClient(port: port)
        let busy = try TestClient(port: port)
        try busy.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(inHandler.wait(timeout: 3) == true)

        let stopped = Signal<Bool>()
        server.shutdown(gracePeriod: .seconds(5)) { stopped.set(true) }
        #expect(idle.waitForClose(timeout: 2), "an idle connection closes at once")
        #expect(throws: (any Error).self, "new connections are refused") {
            let late = try TestClient(port: port)
            try late.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            _ = try late.readResponse(timeout: 1)
        }
        let response = try busy.readResponse()
        #expect(response.text == "finished")
        #expect(response.headers["Connection"] == "close")
        #expect(busy.waitForClose(timeout: 2))
        #expect(stopped.wait(timeout: 3) == true)
        #expect(server.isStopped)
    }

    @Test("When the grace period ends, unfinished streams are closed and their onClose fires")
    func graceExpires() async throws {
        let closed = Signal<Bool>()
        let kept = Signal<HTTPStream>() // the engine's hold on the stream
        let server = HTTPServer(configuration: HTTPServerConfiguration(port: 0)) { _, responder in
            let stream = responder.startEventStream()
            stream.onClose { closed.set(true) }
            stream.writeEvent(data: "never finishes")
            kept.set(stream)
        }
        let port = try server.start()
        let client = try TestClient(port: port)
        try client.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        _ = try client.readHead()
        _ = try client.readChunk()
        #expect(closed.current == nil)
        let started = Date()
        await server.shutdown(gracePeriod: .milliseconds(300))
        #expect(Date().timeIntervalSince(started) >= 0.25)
        #expect(closed.wait(timeout: 2) == true)
        #expect(client.waitForClose(timeout: 2))
    }

    @Test("A handled signal shuts the server down gracefully")
    func signalShutdown() async throws {
        let server = HTTPServer(configuration: HTTPServerConfiguration(port: 0), handler: echoHandler)
        let port = try server.start()
        // SIGUSR2 stands in for SIGTERM so the test process is never at risk.
        server.installSignalHandlers(gracePeriod: .seconds(2), signals: [SIGUSR2])
        let client = try TestClient(port: port)
        try client.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        _ = try client.readResponse()
        try await Task.sleep(for: .milliseconds(50))
        kill(getpid(), SIGUSR2)
        let deadline = Date().addingTimeInterval(3)
        while !server.isStopped, Date() < deadline { try await Task.sleep(for: .milliseconds(10)) }
        #expect(server.isStopped)
        #expect(client.waitForClose(timeout: 1))
    }

    @Test("Hundreds of connections and requests leave no connection behind")
    func noLeaks() async throws {
        try await withServer(handler: echoHandler) { server, port in
            for round in 0..<200 {
                let client = try TestClient(port: port)
                try client.send("POST /r HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
                #expect(try client.readResponse().text == "hello")
                if round % 2 == 0 { client.close() }
            }
            let deadline = Date().addingTimeInterval(3)
            while server.connectionCount > 0, Date() < deadline { try await Task.sleep(for: .milliseconds(10)) }
            #expect(server.connectionCount == 0)
        }
    }
}
