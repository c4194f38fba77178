import Engine
import Foundation
import Logging
import Models
import Server
import Tensors
import Tokenizers
#if canImport(Glibc)
import Glibc
#endif

/// JSON bodies (and, for one selector value in six, raw bytes) against live servers on the tiny
/// models (the server tests' fixtures: a random 4-layer Llama, vocabulary 384), over real sockets.
/// The first byte picks the endpoint.
///
/// Oracles: an answer always comes (no dropped connection, no hang past 30 s); it is never a 500;
/// an error has the OpenAI error body; a success is valid JSON, and every event of a stream too;
/// whatever the input, the server keeps serving the next one. And speculation is lossless: a
/// greedy completion or chat request (`"temperature": 0`) answered by the speculating server
/// gets the same texts and finish reasons from a second server without a draft; a seeded
/// sampled one gets the same answer when asked again.
///
/// The speculating server's draft always proposes token 7 (the fixture draft with its head cut to
/// one row, as the server tests do): the random fixture draft is almost never accepted, and this
/// one is, whenever the verifier would emit 7, so the fuzzer reaches acceptance, the bonus token
/// and stops inside accepted runs (a request's `logit_bias` on 7 makes that frequent).
enum ServerHarness {
    static let endpoints = ["/v1/completions", "/v1/chat/completions", "/tokenize", "/detokenize",
                            "/v1/speculators/validate"]
    static let proposedToken = 7

    static let port = startServer(speculating: true)
    static let plainPort = startServer(speculating: false)

    static func startServer(speculating: Bool) -> Int {
        do {
            let fixtures = FuzzFixtures.tests("ServerTests/Fixtures")
            let folder = fixtures.appendingPathComponent("tiny-llama")
            var configuration = ServerConfiguration()
            configuration.port = 0
            configuration.model = folder.path
            configuration.servedModelName = "tiny"
            configuration.speculator = speculating ? fixtures.appendingPathComponent("tiny-eagle3").path : nil
            configuration.numSpeculativeTokens = .fixed(speculating ? 3 : 0)
            configuration.maxBatch = 4
            configuration.maxQueue = 64
            configuration.maxModelLen = 256
            configuration.registry = fixtures.path
            configuration.metricsLogIntervalSeconds = 0
            let verifier = try TransformerModel.load(from: folder)
            let bundle = ModelBundle(name: "tiny", path: folder, verifier: verifier, tokenizer: try Tokenizer(folder: folder))
            var draft: Eagle3DraftModel?
            if speculating {
                let base = try Eagle3DraftModel.load(folder: fixtures.appendingPathComponent("tiny-eagle3"), verifier: verifier)
                var config = base.config
                config.draftVocabSize = 1
                let head = Linear(weight: Tensor(shape: [1, base.hiddenSize], values: Array(repeating: 0.01, count: base.hiddenSize)))
                draft = Eagle3DraftModel(config: config, embedding: base.embedding, fc: base.fc, inputNorm: base.inputNorm,
                                         fcNorms: base.fcNorms, hiddenNorm: base.hiddenNorm, layers: base.layers,
                                         finalNorm: base.finalNorm, head: head, draftToTarget: [proposedToken])
            }
            var logger = Logger(label: "speculators.fuzz")
            logger.logLevel = .error
            let server = try InferenceServer(configuration: configuration, bundle: bundle, draft: draft,
                                             pool: ThreadPool(threadCount: 2), logger: logger)
            servers.append(server)
            return try server.start()
        } catch {
            FileHandle.standardError.write(Data("cannot start the server harness: \(error)\n".utf8))
            exit(2)
        }
    }

    static var verbose: Bool { FuzzFixtures.verbose }
    nonisolated(unsafe) static var servers: [InferenceServer] = []

    static func run(_ input: [UInt8]) {
        guard let selector = input.first else { return }
        if Int(selector) % (endpoints.count + 1) == endpoints.count {
            runRaw(Array(input.dropFirst()), input: input)
            return
        }
        let path = endpoints[Int(selector) % (endpoints.count + 1)]
        let body = Array(input.dropFirst())
        // HTTP/1.0: the server closes the connection after the answer and sends a stream's body
        // close-delimited, so the whole answer is what arrives before end of file.
        let head = "POST \(path) HTTP/1.0\r\nHost: fuzz\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\n\r\n"
        let request = Array(head.utf8) + body
        let answer = exchange(request, input: input)
        if verbose { print("\(path): \(String(decoding: answer.prefix(12), as: UTF8.self)) in \(answer.count) bytes") }
        check(answer, path: path, input: input)
        if path.hasSuffix("completions"), !isGreedy(body), isSeeded(body) {
            // A seeded sampled request is reproducible: asked again, the same answer.
            let again = exchange(request, input: input)
            if let first = outputs(of: answer), let second = outputs(of: again), first != second {
                oracleFailure("a seeded request answered differently the second time:\n first:  \(first)\n second: \(second)",
                              input: input)
            }
        }
        if path.hasSuffix("completions"), isGreedy(body) {
            let plain = exchange(request, input: input, port: plainPort)
            let (speculated, reference) = (outputs(of: answer), outputs(of: plain))
            if verbose {
                let metrics = String(decoding: exchange(Array("GET /metrics HTTP/1.0\r\n\r\n".utf8), input: input), as: UTF8.self)
                let accepted = metrics.split(separator: "\n").filter { $0.hasPrefix("vllm:spec_decode_num_accepted_tokens_total") || $0.hasPrefix("vllm:spec_decode_num_draft_tokens_total") }
                print("  greedy: \(speculated.map { $0.count } ?? -1) choices against \(reference.map { $0.count } ?? -1); so far \(accepted)")
            }
            if let speculated, let reference, speculated != reference {
                oracleFailure("speculation changed a greedy answer:\n with the draft: \(speculated)\n without:        \(reference)",
                              input: input)
            }
        }
    }

    /// Whether `body` is a JSON object asking for greedy decoding.
    static func isGreedy(_ body: [UInt8]) -> Bool {
        guard let object = json(body) as? [String: Any], let temperature = object["temperature"] as? NSNumber else { return false }
        return temperature.doubleValue == 0
    }

    /// Whether `body` is a JSON object with an integer `seed` other than -1 (which vLLM, and so
    /// the server, takes as no seed).
    static func isSeeded(_ body: [UInt8]) -> Bool {
        guard let object = json(body) as? [String: Any], let seed = object["seed"] as? NSNumber else { return false }
        return seed.doubleValue == seed.doubleValue.rounded() && seed.doubleValue != -1
    }

    /// Each choice's text and finish reason, by index, from a 200 answer (whole or streamed);
    /// nil for any other answer.
    static func outputs(of answer: [UInt8]) -> [String]? {
        guard let split = answer.firstRange(of: Array("\r\n\r\n".utf8)),
              String(decoding: answer[..<split.lowerBound], as: UTF8.self).hasPrefix("HTTP/1.1 200") else { return nil }
        let body = Array(answer[split.upperBound...])
        var texts: [Int: String] = [:]
        var finishes: [Int: String] = [:]
        func take(_ object: [String: Any]) {
            for case let choice as [String: Any] in object["choices"] as? [Any] ?? [] {
                let index = (choice["index"] as? Int) ?? -1
                let delta = choice["delta"] as? [String: Any]
                if let text = (choice["text"] as? String) ?? (delta?["content"] as? String)
                    ?? ((choice["message"] as? [String: Any])?["content"] as? String) {
                    texts[index, default: ""] += text
                }
                if let finish = choice["finish_reason"] as? String { finishes[index] = finish }
            }
        }
        if let object = json(body) as? [String: Any] {
            take(object)
        } else {
            for block in String(decoding: body, as: UTF8.self).components(separatedBy: "\n\n") where block.hasPrefix("data: {") {
                if let object = json(Array(block.dropFirst(6).utf8)) as? [String: Any] { take(object) }
            }
        }
        return Set(texts.keys).union(finishes.keys).sorted().map { "\($0): \(texts[$0, default: ""].debugDescription) [\(finishes[$0] ?? "-")]" }
    }

    /// Raw bytes on a connection the client leaves open, read until the server closes it or
    /// sends nothing for 25 ms: no answer is a 500. (Ending the input instead would cancel
    /// what the server was working on, as uvicorn does, so few requests would be answered.)
    static func runRaw(_ bytes: [UInt8], input: [UInt8]) {
        let answer = exchange(bytes, input: input, idleMilliseconds: 25)
        if verbose { print("raw: statuses \(statuses(of: answer)) in \(answer.count) bytes") }
        for status in statuses(of: answer) where status >= 500 && ![501, 503, 505].contains(status) {
            oracleFailure("raw request answered \(status): \(String(decoding: answer.prefix(800), as: UTF8.self).debugDescription)", input: input)
        }
    }

    /// The status codes of the responses one after another in `answer`, as far as they parse
    /// (Content-Length and chunked bodies; an interim 1xx has none).
    static func statuses(of answer: [UInt8]) -> [Int] {
        var statuses: [Int] = []
        var position = 0
        let blank = Array("\r\n\r\n".utf8)
        while position < answer.count, let split = answer[position...].firstRange(of: blank) {
            let head = String(decoding: answer[position..<split.lowerBound], as: UTF8.self)
            guard head.hasPrefix("HTTP/1."), let status = head.split(separator: " ").dropFirst().first.flatMap({ Int($0) })
            else { break }
            statuses.append(status)
            position = split.upperBound
            if status < 200 || status == 204 || status == 304 { continue }
            let fields = head.lowercased().split(separator: "\r\n")
            if let length = fields.first(where: { $0.hasPrefix("content-length:") })
                .flatMap({ Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) }) {
                position += length
            } else if fields.contains(where: { $0.hasPrefix("transfer-encoding:") && $0.hasSuffix("chunked") }) {
                // Chunks: a hex size line, the data, CRLF; the zero chunk and a blank line end it.
                while position < answer.count, let lineEnd = answer[position...].firstRange(of: Array("\r\n".utf8)) {
                    let sizeText = String(decoding: answer[position..<lineEnd.lowerBound], as: UTF8.self)
                    guard let size = Int(sizeText.split(separator: ";").first ?? "", radix: 16) else { return statuses }
                    position = lineEnd.upperBound + size + 2
                    if size == 0 { break }
                }
            } else {
                break // close-delimited: the rest is this body
            }
        }
        return statuses
    }

    static func check(_ answer: [UInt8], path: String, input: [UInt8]) {
        guard let split = answer.firstRange(of: Array("\r\n\r\n".utf8)) else {
            oracleFailure("no complete response head from \(path): \(String(decoding: answer.prefix(300), as: UTF8.self).debugDescription)", input: input)
        }
        let head = String(decoding: answer[..<split.lowerBound], as: UTF8.self)
        let body = Array(answer[split.upperBound...])
        let statusText = head.split(separator: " ").dropFirst().first.map(String.init) ?? ""
        guard let status = Int(statusText) else { oracleFailure("no status in \(head.debugDescription)", input: input) }
        if status >= 500 && status != 503 {
            oracleFailure("\(path) answered \(status): \(String(decoding: body.prefix(500), as: UTF8.self))", input: input)
        }
        if status >= 400 {
            guard let object = json(body) as? [String: Any], object["error"] is [String: Any] else {
                oracleFailure("\(status) without an OpenAI error body: \(String(decoding: body.prefix(500), as: UTF8.self))", input: input)
            }
            return
        }
        if head.lowercased().contains("content-type: text/event-stream") {
            let text = String(decoding: body, as: UTF8.self)
            var sawDone = false
            for block in text.components(separatedBy: "\n\n") where block.hasPrefix("data: ") {
                let payload = String(block.dropFirst(6))
                if payload == "[DONE]" { sawDone = true; continue }
                if json(Array(payload.utf8)) == nil { oracleFailure("stream event is not JSON: \(payload.prefix(500))", input: input) }
            }
            if !sawDone { oracleFailure("stream from \(path) ended without [DONE]: \(text.suffix(500))", input: input) }
        } else if json(body) == nil {
            oracleFailure("\(status) body from \(path) is not JSON: \(String(decoding: body.prefix(500), as: UTF8.self))", input: input)
        }
    }

    static func json(_ bytes: [UInt8]) -> Any? {
        try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
    }

    /// Sends `request` on a new loopback connection and reads until the server closes it (or,
    /// with `idleMilliseconds`, sends nothing for that long).
    static func exchange(_ request: [UInt8], input: [UInt8], idleMilliseconds: Int? = nil, port: Int = ServerHarness.port) -> [UInt8] {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { oracleFailure("socket() failed", input: input) }
        defer { close(fd) }
        // Closed with a reset, so that no TIME_WAIT is left behind: at a few hundred
        // connections a second, those use up the loopback's ephemeral ports within a minute.
        var noLinger = linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &noLinger, socklen_t(MemoryLayout<linger>.size))
        var timeout = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { oracleFailure("cannot connect (errno \(errno)): the server stopped listening", input: input) }
        var sent = 0
        while sent < request.count {
            let n = request[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { break }  // the server may answer (413, 400) and close before reading it all
            sent += n
        }
        var answer: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            if let idleMilliseconds {
                // libFuzzer's timeout alarm interrupts poll: wait again then, or recv would block.
                var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                var ready = poll(&poller, 1, Int32(idleMilliseconds))
                while ready < 0 && errno == EINTR { ready = poll(&poller, 1, Int32(idleMilliseconds)) }
                if ready == 0 { break }
            }
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 { answer += buffer[..<n]; continue }
            if n == 0 || errno == ECONNRESET { break }
            if errno == EINTR { continue }
            oracleFailure("no answer within 30 s (errno \(errno))", input: input)
        }
        return answer
    }
}
