import Foundation
import HTTP
#if canImport(Glibc)
import Glibc
#endif

/// A response as a raw-socket client saw it.
struct TestResponse {
    var status: Int
    var reason: String
    var headers: HTTPHeaders
    var body: [UInt8]
    /// The data of each chunk, for chunked bodies.
    var chunks: [[UInt8]]
    var text: String { String(decoding: body, as: UTF8.self) }
}

struct TestClientError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A blocking TCP client for 127.0.0.1 whose every wait has a deadline, so a broken server
/// fails a test instead of hanging it.
final class TestClient {
    let fd: Int32
    private var buffer: [UInt8] = []
    private(set) var peerClosed = false

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestClientError("socket() failed") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        // No close here: every stored property is set, so `deinit` runs even though init
        // throws, and it closes the descriptor. Closing it here too closed it twice, and the
        // second close could hit a socket that a test running in parallel had just been given
        // the same number for (seen as "send failed: errno 9" in a ServerTests test).
        guard result == 0 else { throw TestClientError("connect to port \(port) failed: errno \(errno)") }
    }

    deinit { Glibc.close(fd) }

    func send(_ text: String) throws { try send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw TestClientError("send failed: errno \(errno)") }
            offset += n
        }
    }

    /// Closes both directions at once; with `reset`, the close is abortive (RST).
    func close(reset: Bool = false) {
        if reset {
            var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        }
        shutdown(fd, Int32(SHUT_RDWR))
    }

    /// Reads more bytes into the buffer; false on timeout, EOF or reset.
    @discardableResult
    func fill(timeout: Double) -> Bool {
        var pollfd = Glibc.pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let ready = poll(&pollfd, 1, Int32(timeout * 1000))
        guard ready > 0 else { return false }
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else {
            peerClosed = true
            return false
        }
        buffer.append(contentsOf: chunk[0..<n])
        return true
    }

    /// True if the server closes (or resets) the connection within `timeout` seconds; bytes that
    /// arrive before are kept for later reads.
    func waitForClose(timeout: Double) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while !peerClosed {
            let left = deadline.timeIntervalSinceNow
            if left <= 0 { return false }
            fill(timeout: left)
        }
        return true
    }

    /// Everything until the server closes.
    func readToEnd(timeout: Double = 5) throws -> [UInt8] {
        guard waitForClose(timeout: timeout) else { throw TestClientError("the server did not close within \(timeout) s") }
        defer { buffer = [] }
        return buffer
    }

    private func line(deadline: Date) throws -> String {
        while true {
            if let lf = buffer.firstIndex(of: 10) {
                var end = lf
                if end > 0, buffer[end - 1] == 13 { end -= 1 }
                let text = String(decoding: buffer[0..<end], as: UTF8.self)
                buffer.removeFirst(lf + 1)
                return text
            }
            try more(deadline: deadline)
        }
    }

    private func bytes(_ count: Int, deadline: Date) throws -> [UInt8] {
        while buffer.count < count { try more(deadline: deadline) }
        let result = Array(buffer[0..<count])
        buffer.removeFirst(count)
        return result
    }

    private func more(deadline: Date) throws {
        let left = deadline.timeIntervalSinceNow
        guard left > 0 else { throw TestClientError("timed out waiting for the server (have \(buffer.count) bytes)") }
        if !fill(timeout: left) {
            if peerClosed { throw TestClientError("the server closed the connection (have \(buffer.count) bytes: \(String(decoding: buffer, as: UTF8.self)))") }
        }
    }

    /// Reads one response head.
    func readHead(timeout: Double = 5) throws -> (status: Int, reason: String, headers: HTTPHeaders) {
        let deadline = Date().addingTimeInterval(timeout)
        let statusLine = try line(deadline: deadline)
        let parts = statusLine.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2, parts[0] == "HTTP/1.1", let status = Int(parts[1]) else {
            throw TestClientError("bad status line '\(statusLine)'")
        }
        var headers = HTTPHeaders()
        while true {
            let field = try line(deadline: deadline)
            if field.isEmpty { break }
            guard let colon = field.firstIndex(of: ":") else { throw TestClientError("bad header line '\(field)'") }
            headers.add(name: String(field[..<colon]), value: field[field.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        return (status, parts.count > 2 ? String(parts[2]) : "", headers)
    }

    /// Reads one chunk of a chunked body: nil for the last chunk (trailers consumed).
    func readChunk(timeout: Double = 5) throws -> [UInt8]? {
        let deadline = Date().addingTimeInterval(timeout)
        let sizeLine = try line(deadline: deadline)
        guard let size = Int(sizeLine.split(separator: ";")[0], radix: 16) else { throw TestClientError("bad chunk size '\(sizeLine)'") }
        if size == 0 {
            while try !line(deadline: deadline).isEmpty {}
            return nil
        }
        let data = try bytes(size, deadline: deadline)
        guard try line(deadline: deadline).isEmpty else { throw TestClientError("chunk data not followed by CRLF") }
        return data
    }

    /// Reads a whole response. `head: true` means the request was HEAD (no body follows).
    func readResponse(timeout: Double = 5, head: Bool = false) throws -> TestResponse {
        let (status, reason, headers) = try readHead(timeout: timeout)
        var response = TestResponse(status: status, reason: reason, headers: headers, body: [], chunks: [])
        if head || status == 204 || status == 304 || (100..<200).contains(status) { return response }
        if headers["Transfer-Encoding"] == "chunked" {
            while let chunk = try readChunk(timeout: timeout) {
                response.chunks.append(chunk)
                response.body += chunk
            }
        } else if let length = headers["Content-Length"].flatMap({ Int($0) }) {
            response.body = try bytes(length, deadline: Date().addingTimeInterval(timeout))
        } else {
            response.body = try readToEnd(timeout: timeout)
        }
        return response
    }
}

/// Runs `body` against a started server on an ephemeral port, then shuts the server down.
func withServer(_ configure: (inout HTTPServerConfiguration) -> Void = { _ in },
                handler: @escaping @Sendable (HTTPRequest, HTTPResponder) -> Void,
                _ body: (HTTPServer, Int) async throws -> Void) async throws {
    var configuration = HTTPServerConfiguration(port: 0)
    configure(&configuration)
    let server = HTTPServer(configuration: configuration, handler: handler)
    let port = try server.start()
    do {
        try await body(server, port)
    } catch {
        await server.shutdown(gracePeriod: .zero)
        throw error
    }
    await server.shutdown(gracePeriod: .zero)
}

/// A flag or value set from one thread and awaited from another, with a deadline.
final class Signal<Value: Sendable>: @unchecked Sendable {
    private let condition = NSCondition()
    private var value: Value?

    func set(_ newValue: Value) {
        condition.lock()
        value = newValue
        condition.broadcast()
        condition.unlock()
    }

    func wait(timeout: Double) -> Value? {
        let deadline = Date().addingTimeInterval(timeout)
        condition.lock()
        defer { condition.unlock() }
        while value == nil {
            if !condition.wait(until: deadline) { break }
        }
        return value
    }

    var current: Value? {
        condition.lock()
        defer { condition.unlock() }
        return value
    }
}

/// A counter safe across threads.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0

    func increment() {
        lock.lock()
        count += 1
        lock.unlock()
    }

    var value: Int {
        lock.lock()
        defer { lock.unlock() }
        return count
    }
}
