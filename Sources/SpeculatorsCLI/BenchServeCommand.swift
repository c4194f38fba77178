import ArgumentParser
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `speculators bench serve`: a load test of a running server. Concurrent clients send streamed
/// chat requests (MT-Bench first turns by default) for a fixed time; the report gives output
/// throughput, time-to-first-token and inter-token latency percentiles, the acceptance length
/// (from the server's /metrics), errors, and the server's peak RSS when its pid is given.
/// Run it once against a server with the draft and once against one without to compare.
struct BenchServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", abstract: "Load-test a running server: throughput, TTFT, inter-token latency, acceptance.")

    @Option(help: "Server address.") var host = "127.0.0.1"
    @Option(help: "Server port.") var port = 8000
    @Option(help: "Concurrent clients.") var concurrency = 8
    @Option(help: "Seconds to keep sending requests (requests in flight then finish).") var duration = 60.0
    @Option(help: "Tokens per request.") var maxTokens = 128
    @Option(help: "Sampling temperature.") var temperature = 0.0
    @Option(help: "Prompts: MT-Bench question.jsonl or JSONL with a \"prompt\" or \"text\" field.")
    var prompts = "data/mt_bench_question.jsonl"
    @Option(help: "Bearer key, when the server needs one.") var apiKey: String?
    @Option(help: "The server's process id, to report its peak RSS.") var pid: Int32?
    @Option(help: "Seconds between progress lines.") var progressInterval = 10.0
    @Flag(help: "Print the report as one JSON object.") var json = false

    func validate() throws {
        try requireOption(concurrency >= 1, "--concurrency must be at least 1, got \(concurrency)")
        try requireOption(duration > 0, "--duration must be more than 0 seconds, got \(duration)")
        try requireOption(maxTokens >= 1, "--max-tokens must be at least 1, got \(maxTokens)")
        try requireOption(temperature.isFinite && temperature >= 0, "--temperature must be 0 or more, got \(temperature)")
        try requireOption(progressInterval > 0, "--progress-interval must be more than 0 seconds, got \(progressInterval)")
    }

    func run() throws {
        let texts = try PromptSet.load(path: prompts, limit: nil).map(\.text)
        guard !texts.isEmpty else { throw CommandFailure("\(prompts): no prompts") }
        let client = BenchHTTPClient(host: host, port: port, apiKey: apiKey)
        let model = try client.servedModel()
        let before = try client.metrics()
        let results = BenchResults()
        let start = now()
        let deadline = start + duration
        let group = DispatchGroup()
        for worker in 0..<concurrency {
            group.enter()
            let thread = Thread { [self] in
                var index = worker
                while now() < deadline {
                    let prompt = texts[index % texts.count]
                    index += concurrency
                    results.add(client.streamChat(model: model, prompt: prompt, maxTokens: maxTokens,
                                                  temperature: temperature))
                }
                group.leave()
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
        var nextReport = start + progressInterval
        while group.wait(timeout: .now() + 0.5) == .timedOut {
            let t = now()
            guard t >= nextReport else { continue }
            nextReport += progressInterval
            let (count, tokens, errors) = results.totals
            let elapsed = t - start
            printError(String(format: "[bench serve] %.0f s: %d requests, %d errors, %.1f output tok/s, ETA %.0f s",
                              elapsed, count, errors, Double(tokens) / elapsed, max(0, deadline - t)))
        }
        let elapsed = now() - start
        let after = try client.metrics()
        let report = BenchServeReport(results: results.all, elapsed: elapsed, concurrency: concurrency,
                                      before: before, after: after, peakRSSKiB: pid.flatMap(Self.peakRSS))
        print(json ? jsonString(report) : report.text)
    }

    /// `VmHWM` of a process: its peak resident set size, in KiB.
    static func peakRSS(_ pid: Int32) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            return Int(line.split(separator: " ").dropFirst().first ?? "")
        }
        return nil
    }
}

/// One request's outcome as the client saw it.
struct BenchRequestResult: Sendable {
    var ok: Bool
    var error: String?
    var ttft: Double?
    /// Gaps between successive content chunks.
    var gaps: [Double] = []
    var outputTokens = 0
    var latency = 0.0
}

/// Results from every client thread.
final class BenchResults: @unchecked Sendable {
    private let lock = NSLock()
    private var results: [BenchRequestResult] = []

    func add(_ result: BenchRequestResult) { lock.lock(); results.append(result); lock.unlock() }

    var all: [BenchRequestResult] { lock.lock(); defer { lock.unlock() }; return results }

    var totals: (count: Int, tokens: Int, errors: Int) {
        lock.lock(); defer { lock.unlock() }
        return (results.count, results.reduce(0) { $0 + $1.outputTokens }, results.count { !$0.ok })
    }
}

/// The load test's summary.
struct BenchServeReport: Encodable {
    let requests: Int
    let errors: Int
    let firstErrors: [String]
    let seconds: Double
    let concurrency: Int
    let outputTokens: Int
    let outputTokensPerSecond: Double
    let requestsPerSecond: Double
    let ttftMs: Percentiles
    let interTokenMs: Percentiles
    let latencySeconds: Percentiles
    let meanAcceptanceLength: Double?
    let draftAcceptanceRate: Double?
    let serverPeakRSSMiB: Double?

    struct Percentiles: Encodable {
        let mean: Double, p50: Double, p90: Double, p99: Double
        init(_ values: [Double], scale: Double) {
            let sorted = values.sorted()
            func at(_ q: Double) -> Double {
                sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int((q * Double(sorted.count - 1)).rounded()))] * scale
            }
            mean = sorted.isEmpty ? 0 : sorted.reduce(0, +) / Double(sorted.count) * scale
            p50 = at(0.5); p90 = at(0.9); p99 = at(0.99)
        }
        var text: String { String(format: "mean %.1f, p50 %.1f, p90 %.1f, p99 %.1f", mean, p50, p90, p99) }
    }

    init(results: [BenchRequestResult], elapsed: Double, concurrency: Int, before: [String: Double],
         after: [String: Double], peakRSSKiB: Int?) {
        let good = results.filter(\.ok)
        requests = results.count
        errors = results.count - good.count
        firstErrors = Array(results.compactMap(\.error).prefix(5))
        seconds = elapsed
        self.concurrency = concurrency
        outputTokens = good.reduce(0) { $0 + $1.outputTokens }
        outputTokensPerSecond = Double(outputTokens) / elapsed
        requestsPerSecond = Double(good.count) / elapsed
        ttftMs = Percentiles(good.compactMap(\.ttft), scale: 1000)
        interTokenMs = Percentiles(good.flatMap(\.gaps), scale: 1000)
        latencySeconds = Percentiles(good.map(\.latency), scale: 1)
        func delta(_ name: String) -> Double { (after[name] ?? 0) - (before[name] ?? 0) }
        let drafts = delta("vllm:spec_decode_num_drafts_total")
        let draftTokens = delta("vllm:spec_decode_num_draft_tokens_total")
        let accepted = delta("vllm:spec_decode_num_accepted_tokens_total")
        meanAcceptanceLength = drafts > 0 ? 1 + accepted / drafts : nil
        draftAcceptanceRate = draftTokens > 0 ? accepted / draftTokens : nil
        serverPeakRSSMiB = peakRSSKiB.map { Double($0) / 1024 }
    }

    var text: String {
        var lines = [
            String(format: "requests: %d in %.1f s with %d clients (%.2f req/s), errors: %d", requests, seconds,
                   concurrency, requestsPerSecond, errors),
            String(format: "output: %d tokens, %.1f tok/s", outputTokens, outputTokensPerSecond),
            "TTFT ms: \(ttftMs.text)",
            "inter-token (per chunk) ms: \(interTokenMs.text)",
            "request latency s: \(latencySeconds.text)",
        ]
        if let meanAcceptanceLength, let draftAcceptanceRate {
            lines.append(String(format: "acceptance: mean length %.3f, draft acceptance rate %.1f%%", meanAcceptanceLength,
                                100 * draftAcceptanceRate))
        } else {
            lines.append("acceptance: no drafts (server without a speculator)")
        }
        if let serverPeakRSSMiB { lines.append(String(format: "server peak RSS: %.0f MiB", serverPeakRSSMiB)) }
        lines += firstErrors.map { "error: \($0)" }
        return lines.joined(separator: "\n")
    }
}

/// A minimal blocking HTTP/1.1 client over a socket (one request per connection), enough to
/// time SSE chunks as they arrive.
struct BenchHTTPClient: Sendable {
    let host: String
    let port: Int
    let apiKey: String?

    func servedModel() throws -> String {
        let (status, body) = try exchange(method: "GET", path: "/v1/models", body: nil, onData: nil)
        guard status == 200, let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
              let id = ((object["data"] as? [[String: Any]])?.first)?["id"] as? String else {
            throw CommandFailure("GET http://\(host):\(port)/v1/models answered \(status); is the server running?")
        }
        return id
    }

    /// Every sample of /metrics, by `name{labels}` without the labels when they only name the model.
    func metrics() throws -> [String: Double] {
        let (status, body) = try exchange(method: "GET", path: "/metrics", body: nil, onData: nil)
        guard status == 200 else { throw CommandFailure("GET /metrics answered \(status)") }
        var values: [String: Double] = [:]
        for line in String(decoding: body, as: UTF8.self).split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            let series = line[..<space]
            let name = series.split(separator: "{").first.map(String.init) ?? String(series)
            values[name, default: 0] += value
        }
        return values
    }

    func streamChat(model: String, prompt: String, maxTokens: Int, temperature: Double) -> BenchRequestResult {
        let payload: [String: Any] = [
            "model": model, "messages": [["role": "user", "content": prompt]], "max_tokens": maxTokens,
            "temperature": temperature, "stream": true, "stream_options": ["include_usage": true],
        ]
        guard let body = try? JSONSerialization.data(withJSONObject: payload) else {
            return BenchRequestResult(ok: false, error: "cannot encode the request")
        }
        var result = BenchRequestResult(ok: false)
        let start = now()
        var last: Double?
        var pending: [UInt8] = []
        var done = false
        do {
            let (status, rest) = try exchange(method: "POST", path: "/v1/chat/completions", body: Array(body)) { bytes in
                // Chunk framing is not removed here: only whole `data: ...\n\n` events are looked at.
                pending += bytes
                while let end = pending.firstRange(of: [10, 10]) {
                    let event = String(decoding: pending[..<end.lowerBound], as: UTF8.self)
                    pending.removeSubrange(..<end.upperBound)
                    guard let marker = event.range(of: "data: ") else { continue }
                    let data = event[marker.upperBound...]
                    if data.hasPrefix("[DONE]") { done = true; continue }
                    guard let object = try? JSONSerialization.jsonObject(with: Data(data.utf8)) as? [String: Any] else { continue }
                    if let usage = object["usage"] as? [String: Any], let tokens = usage["completion_tokens"] as? Int {
                        result.outputTokens = tokens
                    }
                    let delta = ((object["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any])
                    if let content = delta?["content"] as? String, !content.isEmpty {
                        let t = now()
                        if let last { result.gaps.append(t - last) } else { result.ttft = t - start }
                        last = t
                    }
                    if object["error"] != nil { result.error = String(data.prefix(200)) }
                }
            }
            result.latency = now() - start
            if status != 200 {
                result.error = "HTTP \(status): \(String(decoding: rest.prefix(200), as: UTF8.self))"
            } else if !done {
                result.error = result.error ?? "the stream ended without [DONE]"
            } else {
                result.ok = result.error == nil
            }
        } catch {
            result.error = "\(error)"
        }
        return result
    }

    /// Sends one request; streams body bytes to `onData` as they arrive (when given) and returns
    /// the status and any body bytes not streamed.
    private func exchange(method: String, path: String, body: [UInt8]?,
                          onData: ((ArraySlice<UInt8>) -> Void)?) throws -> (Int, [UInt8]) {
        let fd = try connectSocket()
        defer { close(fd) }
        var head = "\(method) \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nConnection: close\r\n"
        if let apiKey { head += "Authorization: Bearer \(apiKey)\r\n" }
        if let body { head += "Content-Type: application/json\r\nContent-Length: \(body.count)\r\n" }
        head += "\r\n"
        try sendAll(fd, Array(head.utf8) + (body ?? []))
        var received: [UInt8] = []
        var status: Int?
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { break }
            guard n > 0 else { throw CommandFailure("receive failed (errno \(errno))") }
            received += buffer[0..<n]
            if status == nil, let end = received.firstRange(of: Array("\r\n\r\n".utf8)) {
                let line = String(decoding: received[..<min(end.lowerBound, 12)], as: UTF8.self)
                status = Int(line.dropFirst(9).prefix(3)) ?? 0
                received.removeSubrange(..<end.upperBound)
            }
            if status == 200, let onData, !received.isEmpty {
                onData(received[...])
                received.removeAll(keepingCapacity: true)
            }
        }
        guard let status else { throw CommandFailure("no HTTP response from \(host):\(port)") }
        return (status, received)
    }

    private func connectSocket() throws -> Int32 {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var info: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &info) == 0, let first = info else {
            throw CommandFailure("cannot resolve \(host)")
        }
        defer { freeaddrinfo(info) }
        let fd = socket(first.pointee.ai_family, first.pointee.ai_socktype, first.pointee.ai_protocol)
        guard fd >= 0 else { throw CommandFailure("socket() failed (errno \(errno))") }
        guard connect(fd, first.pointee.ai_addr, first.pointee.ai_addrlen) == 0 else {
            close(fd)
            throw CommandFailure("cannot connect to \(host):\(port) (errno \(errno))")
        }
        return fd
    }

    private func sendAll(_ fd: Int32, _ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw CommandFailure("send failed (errno \(errno))") }
            offset += n
        }
    }
}
