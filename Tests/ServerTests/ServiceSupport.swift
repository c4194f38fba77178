import Engine
import Foundation
import Models
import Server
import Tensors
import Testing
import Tokenizers
#if canImport(Glibc)
import Glibc
#endif

/// A running in-process server on the tiny fixture models (random 4-layer Llama, vocab 384, with
/// SmolLM2's tokenizer cut to 384 ids and an EAGLE-3 draft), listening on a free loopback port.
final class TestServer {
    let server: InferenceServer
    let port: Int

    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    static let pool = ThreadPool(threadCount: 2)

    init(speculator: Bool = true, maxBatch: Int = 4, maxQueue: Int = 16, apiKey: String = "",
         numSpeculativeTokens: SpeculativeTokens = .fixed(3), requestSeconds: Double = 60,
         constantDraftToken: Int? = nil, modelFolder: URL? = nil) throws {
        let folder = modelFolder ?? Self.fixtures.appendingPathComponent("tiny-llama")
        var configuration = ServerConfiguration()
        configuration.port = 0
        configuration.model = folder.path
        configuration.servedModelName = "tiny"
        configuration.speculator = speculator ? Self.fixtures.appendingPathComponent("tiny-eagle3").path : nil
        configuration.numSpeculativeTokens = speculator ? numSpeculativeTokens : .fixed(0)
        configuration.maxBatch = maxBatch
        configuration.maxQueue = maxQueue
        configuration.maxModelLen = 256
        configuration.registry = Self.fixtures.path
        configuration.apiKey = apiKey
        configuration.metricsLogIntervalSeconds = 0
        configuration.timeouts.requestSeconds = requestSeconds
        let verifier = try TransformerModel.load(from: folder)
        let bundle = ModelBundle(name: "tiny", path: folder, verifier: verifier, tokenizer: try Tokenizer(folder: folder))
        var draft = speculator
            ? try Eagle3DraftModel.load(folder: Self.fixtures.appendingPathComponent("tiny-eagle3"), verifier: verifier)
            : nil
        if let token = constantDraftToken, let base = draft { draft = Self.constantDraft(base, proposing: token) }
        server = try InferenceServer(configuration: configuration, bundle: bundle, draft: draft, pool: Self.pool)
        port = try server.start()
    }

    /// The tiny draft with its head cut to one row mapped to `token`: it always proposes `token`.
    /// The random draft almost never agrees with the random verifier; this one is accepted
    /// whenever the verifier would emit `token`, so acceptance statistics are not all zero.
    static func constantDraft(_ base: Eagle3DraftModel, proposing token: Int) -> Eagle3DraftModel {
        var config = base.config
        config.draftVocabSize = 1
        let head = Linear(weight: Tensor(shape: [1, base.hiddenSize], values: Array(repeating: 0.01, count: base.hiddenSize)))
        return Eagle3DraftModel(config: config, embedding: base.embedding, fc: base.fc, inputNorm: base.inputNorm,
                                fcNorms: base.fcNorms, hiddenNorm: base.hiddenNorm, layers: base.layers,
                                finalNorm: base.finalNorm, head: head, draftToTarget: [token])
    }

    func stop() async { await server.shutdown(grace: .seconds(2)) }

    func post(_ path: String, json: String, headers: [String: String] = [:]) throws -> TestHTTPResponse {
        var all = ["Content-Type": "application/json"]
        for (k, v) in headers { all[k] = v }
        return try TestHTTP.request(port: port, method: "POST", path: path, headers: all, body: Array(json.utf8))
    }

    func get(_ path: String, headers: [String: String] = [:]) throws -> TestHTTPResponse {
        try TestHTTP.request(port: port, method: "GET", path: path, headers: headers, body: [])
    }

    /// Gauges and counters are updated at the end of each engine step, a moment after the
    /// step's answers went out: polls `prefix` until it equals `expected` (or 2 s pass).
    func metric(_ prefix: String, settlingTo expected: Double) async throws -> Double? {
        var value = try metric(prefix)
        for _ in 0..<40 where value != expected {
            try await Task.sleep(for: .milliseconds(50))
            value = try metric(prefix)
        }
        return value
    }

    /// The sum of every series whose line starts with `prefix`.
    func metricSum(_ prefix: String) throws -> Double {
        try get("/metrics").text.split(separator: "\n").filter { $0.hasPrefix(prefix) }
            .compactMap { $0.split(separator: " ").last.flatMap { Double($0) } }.reduce(0, +)
    }

    /// The value of one series in /metrics (`name{labels}` prefix match), or nil.
    func metric(_ prefix: String) throws -> Double? {
        let text = try get("/metrics").text
        for line in text.split(separator: "\n") where line.hasPrefix(prefix) {
            if let value = line.split(separator: " ").last.flatMap({ Double($0) }) { return value }
        }
        return nil
    }
}

struct TestHTTPResponse {
    var status: Int
    var headers: [String: String]
    var body: [UInt8]
    var text: String { String(decoding: body, as: UTF8.self) }

    func json() throws -> [String: Any] {
        guard let object = try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else {
            throw TestHTTPError("not a JSON object: \(text.prefix(300))")
        }
        return object
    }

    /// The `data:` payloads of an SSE body, in order.
    var events: [String] {
        text.components(separatedBy: "\n\n").compactMap { block in
            block.hasPrefix("data: ") ? String(block.dropFirst(6)) : nil
        }
    }
}

struct TestHTTPError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// One-request-per-connection HTTP/1.1 over a blocking socket with a receive timeout.
enum TestHTTP {
    static func connect(port: Int, timeoutSeconds: Int = 60) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestHTTPError("socket() failed") }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else { Glibc.close(fd); throw TestHTTPError("connect failed: errno \(errno)") }
        return fd
    }

    static func send(_ fd: Int32, _ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw TestHTTPError("send failed: errno \(errno)") }
            offset += n
        }
    }

    static func requestBytes(method: String, path: String, headers: [String: String], body: [UInt8]) -> [UInt8] {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        for (k, v) in headers { head += "\(k): \(v)\r\n" }
        if !body.isEmpty || method == "POST" { head += "Content-Length: \(body.count)\r\n" }
        head += "\r\n"
        return Array(head.utf8) + body
    }

    /// Reads until the server closes (or `until` says enough), returning the raw bytes.
    static func read(_ fd: Int32, until stop: ([UInt8]) -> Bool = { _ in false }) throws -> [UInt8] {
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { return data }
            guard n > 0 else { throw TestHTTPError("recv failed or timed out: errno \(errno); got \(data.count) bytes") }
            data += buffer[0..<n]
            if stop(data) { return data }
        }
    }

    static func request(port: Int, method: String, path: String, headers: [String: String],
                        body: [UInt8]) throws -> TestHTTPResponse {
        let fd = try connect(port: port)
        defer { Glibc.close(fd) }
        try send(fd, requestBytes(method: method, path: path, headers: headers, body: body))
        return try parse(try read(fd))
    }

    /// Parses a complete response, removing chunked framing.
    static func parse(_ raw: [UInt8]) throws -> TestHTTPResponse {
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        guard let end = raw.firstRange(of: separator) else { throw TestHTTPError("no complete head in \(raw.count) bytes") }
        let head = String(decoding: raw[..<end.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
        guard let statusLine = head.first, statusLine.count >= 12, let status = Int(statusLine.dropFirst(9).prefix(3)) else {
            throw TestHTTPError("bad status line")
        }
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var body = Array(raw[end.upperBound...])
        if headers["transfer-encoding"] == "chunked" { body = try dechunk(body) }
        return TestHTTPResponse(status: status, headers: headers, body: body)
    }

    static func dechunk(_ data: [UInt8]) throws -> [UInt8] {
        var out: [UInt8] = []
        var i = 0
        while true {
            guard let lineEnd = data[i...].firstRange(of: [13, 10]) else { throw TestHTTPError("truncated chunked body") }
            guard let size = Int(String(decoding: data[i..<lineEnd.lowerBound], as: UTF8.self), radix: 16) else {
                throw TestHTTPError("bad chunk size")
            }
            i = lineEnd.upperBound
            if size == 0 { return out }
            guard i + size + 2 <= data.count else { throw TestHTTPError("truncated chunk") }
            out += data[i..<(i + size)]
            i += size + 2
        }
    }
}

/// Runs `body(i)` for i in 0..<count on separate threads and waits for all.
func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    let group = DispatchGroup()
    for i in 0..<count {
        group.enter()
        let thread = Thread {
            body(i)
            group.leave()
        }
        thread.start()
    }
    group.wait()
}

/// Thread-safe slots for results computed on several threads.
final class Slots<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [T?]
    init(_ count: Int) { values = Array(repeating: nil, count: count) }
    subscript(i: Int) -> T? {
        get { lock.lock(); defer { lock.unlock() }; return values[i] }
        set { lock.lock(); values[i] = newValue; lock.unlock() }
    }
    var all: [T?] { lock.lock(); defer { lock.unlock() }; return values }
}

/// A JSON request body from a dictionary.
func body(_ object: [String: Any]) -> String {
    String(decoding: (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data(), as: UTF8.self)
}

/// The integer members of a response's `usage`.
func usageCounts(_ json: [String: Any]) throws -> [String: Int] {
    let usage = try #require(json["usage"] as? [String: Any])
    return usage.compactMapValues { $0 as? Int }
}
