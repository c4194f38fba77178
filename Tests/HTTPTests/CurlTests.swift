import Foundation
import HTTP
import Testing

/// Where curl is installed, if it is.
let curlPath: String? = ["/usr/bin/curl", "/usr/local/bin/curl", "/bin/curl"].first {
    FileManager.default.isExecutableFile(atPath: $0)
}

/// Interoperability with a real client. Skipped, with a message, when curl is not installed.
@Suite(.serialized, .enabled(if: curlPath != nil, "curl is not installed; interoperability tests skipped"))
struct CurlTests {

    /// Runs curl with a time limit; returns stdout (stderr is appended on failure for the message).
    static func run(_ arguments: [String], stdin: [UInt8]? = nil) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: curlPath ?? "/usr/bin/curl")
        process.arguments = ["--silent", "--show-error", "--max-time", "10"] + arguments
        let output = Pipe(), errors = Pipe(), input = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin)) }
        try input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let errorText = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        return (process.terminationStatus, process.terminationStatus == 0 ? text : text + errorText)
    }

    @Test("curl GET and POST with a JSON body get the handler's answers")
    func getAndPost() async throws {
        try await withServer(handler: echoHandler) { _, port in
            let get = try Self.run(["-i", "http://127.0.0.1:\(port)/v1/models?x=1"])
            #expect(get.status == 0, "\(get.output)")
            #expect(get.output.hasPrefix("HTTP/1.1 200 OK\r\n"))
            #expect(get.output.contains("X-Path: /v1/models\r\n"))
            let post = try Self.run(["-H", "Content-Type: application/json", "-d", #"{"prompt":"hi"}"#, "http://127.0.0.1:\(port)/v1/completions"])
            #expect(post.output == #"{"prompt":"hi"}"#)
        }
    }

    @Test("curl reuses one connection for two requests (keep-alive)")
    func reuse() async throws {
        try await withServer(handler: echoHandler) { _, port in
            let result = try Self.run(["-i", "http://127.0.0.1:\(port)/a", "http://127.0.0.1:\(port)/b"])
            let remotes = result.output.split(separator: "\r\n").filter { $0.hasPrefix("X-Remote: ") }
            #expect(remotes.count == 2)
            #expect(Set(remotes).count == 1, "both answers came over the same connection: \(remotes)")
        }
    }

    @Test("curl uploads a chunked body and sends Expect: 100-continue when asked")
    func chunkedUploadAndContinue() async throws {
        try await withServer(handler: echoHandler) { _, port in
            let body = [UInt8]((0..<100_000).map { UInt8(truncatingIfNeeded: $0 % 26 + 97) })
            let chunked = try Self.run(["-H", "Transfer-Encoding: chunked", "--data-binary", "@-", "http://127.0.0.1:\(port)/up"], stdin: body)
            #expect(chunked.status == 0, "\(chunked.output.prefix(300))")
            #expect(Array(chunked.output.utf8) == body)
            let expecting = try Self.run(["-H", "Expect: 100-continue", "--data-binary", "@-", "http://127.0.0.1:\(port)/up"], stdin: body)
            #expect(Array(expecting.output.utf8) == body)
        }
    }

    @Test("curl -N receives a Server-Sent Events stream in order")
    func eventStream() async throws {
        try await withServer(handler: { _, responder in
            let stream = responder.startEventStream()
            Thread.detachNewThread {
                for index in 0..<5 {
                    stream.writeEvent(data: #"{"index":\#(index)}"#)
                    Thread.sleep(forTimeInterval: 0.02)
                }
                stream.writeEvent(data: "[DONE]")
                stream.finish()
            }
        }) { _, port in
            let result = try Self.run(["-N", "http://127.0.0.1:\(port)/v1/completions"])
            #expect(result.status == 0, "\(result.output)")
            let expected = (0..<5).map { #"data: {"index":\#($0)}"# + "\n\n" }.joined() + "data: [DONE]\n\n"
            #expect(result.output == expected)
        }
    }

    @Test("curl -0 (HTTP/1.0) and HEAD (-I) are answered correctly")
    func http10AndHead() async throws {
        try await withServer(handler: { _, responder in responder.send(.text("hello")) }) { _, port in
            let old = try Self.run(["-0", "-i", "http://127.0.0.1:\(port)/"])
            #expect(old.output.contains("Connection: close\r\n"))
            #expect(old.output.hasSuffix("\r\n\r\nhello"))
            let head = try Self.run(["-I", "http://127.0.0.1:\(port)/"])
            #expect(head.status == 0, "\(head.output)")
            #expect(head.output.contains("Content-Length: 5\r\n"))
            #expect(!head.output.contains("hello"))
        }
    }
}
