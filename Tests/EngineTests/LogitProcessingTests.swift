import Engine
import Foundation
import Models
import Testing

/// Penalties, logit bias, allowed tokens and `min_tokens`, against a reference written here from
/// vLLM's definitions: dense over the vocabulary, row by row, with none of the engine's code.
@Suite("Logit processing follows vLLM and stays exact under speculation")
struct LogitProcessingTests {
    /// vLLM's order: allowed-token mask, `min_tokens` mask of the stop ids, logit bias, then the
    /// repetition penalty (prompt and output tokens), frequency and presence (output tokens).
    static func reference(_ raw: UnsafePointer<Float>, vocabulary: Int, prompt: [Int], output: [Int],
                          sampling: SamplingParameters, minTokens: Int = 0, stopIds: Set<Int> = []) -> [Float] {
        var row = Array(UnsafeBufferPointer(start: raw, count: vocabulary))
        if let allowed = sampling.allowedTokenIds.map(Set.init) {
            for id in 0..<vocabulary where !allowed.contains(id) { row[id] = -.infinity }
        }
        if output.count < minTokens { for id in stopIds { row[id] = -.infinity } }
        for (id, bias) in sampling.logitBias { row[id] += bias }
        let seen = Set(prompt + output)
        var counts = [Int](repeating: 0, count: vocabulary)
        for token in output { counts[token] += 1 }
        for id in 0..<vocabulary {
            if seen.contains(id) {
                row[id] = row[id] > 0 ? row[id] / sampling.repetitionPenalty : row[id] * sampling.repetitionPenalty
            }
            row[id] -= sampling.frequencyPenalty * Float(counts[id])
            row[id] -= sampling.presencePenalty * (counts[id] > 0 ? 1 : 0)
        }
        return row
    }

    /// Greedy decoding one token per forward (the prompt in the engine's 32-token chunks, so the
    /// rows have the engine's bits), each row processed by `reference`.
    static func referenceGreedy(_ verifier: TransformerModel, prompt: [Int], maxTokens: Int, sampling: SamplingParameters,
                                minTokens: Int = 0, stopIds: Set<Int> = []) throws -> [Int] {
        let cache = try verifier.makeCache(capacity: prompt.count + maxTokens + 1)
        let vocabulary = verifier.config.vocabSize
        var row: [Float] = []
        for start in stride(from: 0, to: prompt.count, by: 32) {
            let chunk = Array(prompt[start..<min(prompt.count, start + 32)])
            let last = start + chunk.count == prompt.count
            let result = try verifier.forward([.init(cache: cache, tokens: chunk, logits: last ? .last : .none)], pool: TinyModels.pool)
            if last { row = Array(UnsafeBufferPointer(start: result.logits(request: 0, row: 0), count: vocabulary)) }
        }
        var output: [Int] = []
        while output.count < maxTokens {
            let processed = row.withUnsafeBufferPointer {
                reference($0.baseAddress!, vocabulary: vocabulary, prompt: prompt, output: output, sampling: sampling,
                          minTokens: minTokens, stopIds: stopIds)
            }
            let token = processed.indices.max { processed[$0] < processed[$1] || (processed[$0] == processed[$1] && $0 > $1) }!
            output.append(token)
            if output.count >= minTokens, stopIds.contains(token) { break }
            let result = try verifier.forward([.init(cache: cache, tokens: [token], logits: .last)], pool: TinyModels.pool)
            row = Array(UnsafeBufferPointer(start: result.logits(request: 0, row: 0), count: vocabulary))
        }
        return output
    }

    static let penalised = SamplingParameters(repetitionPenalty: 1.3, presencePenalty: 0.4, frequencyPenalty: 0.6,
                                              logitBias: [7: 1.5, 100: -2, 255: 0.75])

    @Test("Greedy requests with penalties, bias or allowed tokens emit the reference's tokens, with the draft at every k and batched",
          arguments: [
              LogitProcessingTests.penalised,
              SamplingParameters(repetitionPenalty: 0.8),
              SamplingParameters(frequencyPenalty: 2),
              SamplingParameters(presencePenalty: -1.5, logitBias: [3: 4]),
              SamplingParameters(frequencyPenalty: 0.5, allowedTokenIds: Array(stride(from: 5, to: 384, by: 9))),
          ])
    func greedyMatchesTheReference(sampling: SamplingParameters) throws {
        let verifier = try TinyModels.verifier()
        let draft = try TinyModels.draft(for: verifier)
        let prompts = Array(TinyModels.prompts(4).dropFirst())
        let expected = try prompts.map { try Self.referenceGreedy(verifier, prompt: $0, maxTokens: 24, sampling: sampling) }
        let requests = prompts.map { GenerationRequest(prompt: $0, sampling: sampling, maxTokens: 24) }
        for (index, request) in requests.enumerated() {
            let plain = try TinyModels.run(TinyModels.engine(verifier: verifier, draft: nil), [request])[0].tokens
            #expect(plain == expected[index])
        }
        if let allowed = sampling.allowedTokenIds {
            #expect(expected.joined().allSatisfy(Set(allowed).contains))
        }
        var drafted = 0
        for k in [nil, 1, 3] as [Int?] {
            // The constant draft proposes what the verifier often picks, so drafts are accepted
            // and the rows after them see accepted drafts in their history.
            let favourite = TinyModels.mostFrequent(expected)
            for proposer in [draft, try TinyModels.constantDraft(proposing: favourite, verifier: verifier)] {
                let engine = TinyModels.engine(verifier: verifier, draft: proposer, speculativeTokens: k)
                let results = try TinyModels.run(engine, requests)
                #expect(results.map(\.tokens) == expected, "k = \(k.map(String.init) ?? "adaptive")")
                drafted += engine.totals.acceptedTokens
            }
        }
        #expect(drafted > 0, "some drafts were accepted")
    }

    @Test("min_tokens keeps EOS and stop ids from being chosen, then they stop the request")
    func minTokensMasksStops() throws {
        let verifier = try TinyModels.verifier()
        let prompt = TinyModels.prompts(3)[2]
        // A bias that makes token 11 the choice at every position, and token 11 the EOS.
        let sampling = SamplingParameters(logitBias: [11: 60])
        for eosEngine in [true, false] {
            let stopIds: Set<Int> = [11]
            let expected = try Self.referenceGreedy(verifier, prompt: prompt, maxTokens: 30, sampling: sampling,
                                                    minTokens: 6, stopIds: stopIds)
            #expect(expected.count == 7 && expected.last == 11 && !expected.dropLast().contains(11))
            for k in [nil, 2] as [Int?] {
                let engine = TinyModels.engine(verifier: verifier, draft: try TinyModels.constantDraft(proposing: 11, verifier: verifier),
                                               speculativeTokens: k, eos: eosEngine ? stopIds : [])
                let request = GenerationRequest(prompt: prompt, sampling: sampling, maxTokens: 30, minTokens: 6,
                                                stopTokenIds: eosEngine ? [] : stopIds)
                let result = try TinyModels.run(engine, [request])[0]
                #expect(result.tokens == expected)
                #expect(result.last.finish == .stop && result.last.stopReason == (eosEngine ? .eos : .token(11)))
            }
        }
    }

    @Test("Stop strings in the text before min_tokens stay in it; include_stop_str_in_output keeps what stopped the request")
    func stopTextRules() throws {
        let verifier = try TinyModels.verifier()
        let prompt = TinyModels.prompts(3)[2]
        let engine = TinyModels.engine(verifier: verifier, draft: try TinyModels.draft(for: verifier), speculativeTokens: 3)
        let reference = try TinyModels.run(TinyModels.engine(verifier: verifier, draft: nil),
                                           [GenerationRequest(prompt: prompt, maxTokens: 30)])[0].tokens
        func text(_ tokens: some Sequence<Int>) -> String { tokens.map { "[\($0)]" }.joined() }

        // Before min_tokens a stop string is neither searched nor cut; later occurrences stop.
        let early = reference[1]
        let stop = "[\(early)]"
        let gated = try TinyModels.run(engine, [GenerationRequest(prompt: prompt, maxTokens: 30, minTokens: 4, stopStrings: [stop])])[0]
        if let later = reference.indices.first(where: { $0 >= 4 && reference[$0] == early }) {
            #expect(gated.text == text(reference[..<later]) && gated.last.stopReason == .string(stop))
        } else {
            #expect(gated.text == text(reference) && gated.last.finish == .length)
        }

        // Kept stop string, and kept stop-token text.
        let kept = try TinyModels.run(engine, [GenerationRequest(prompt: prompt, maxTokens: 30, stopStrings: [stop],
                                                                 includeStopStringInOutput: true)])[0]
        let firstEarly = try #require(reference.firstIndex(of: early))
        #expect(kept.text == text(reference[...firstEarly]) && kept.last.stopReason == .string(stop))
        let stopToken = reference[5]
        let first = try #require(reference.firstIndex(of: stopToken))
        for include in [false, true] {
            let result = try TinyModels.run(engine, [GenerationRequest(prompt: prompt, maxTokens: 30, stopTokenIds: [stopToken],
                                                                       includeStopStringInOutput: include)])[0]
            #expect(result.text == text(reference[..<first]) + (include ? "[\(stopToken)]" : ""))
        }

        // Two stop strings found in the same new text: the first in the request's order wins
        // (vLLM's rule), even where the other starts earlier.
        let digits = "\(reference[0])]"
        let both = try TinyModels.run(engine, [GenerationRequest(prompt: prompt, maxTokens: 30,
                                                                 stopStrings: [digits, "[\(reference[0])]"])])[0]
        #expect(both.text == "[" && both.last.stopReason == .string(digits))
    }

    @Test("skip_special_tokens reaches the request's text stream")
    func skipSpecialTokensReachesTheStream() throws {
        let verifier = try TinyModels.verifier()
        let engine = SpeculativeEngine(
            verifier: verifier, draft: nil,
            configuration: .init(prefillChunk: 32, maxBatchTokens: 256, maxModelLength: 256, eosTokenIds: []),
            pool: TinyModels.pool, makeTextStream: { skip -> any TextStream in skip ? BracketTextStream() : SpecialMarkingStream() })
        let results = try TinyModels.run(engine, [GenerationRequest(prompt: [1, 2], maxTokens: 2),
                                                  GenerationRequest(prompt: [1, 2], maxTokens: 2, skipSpecialTokens: false)])
        #expect(results[0].text.hasPrefix("[") && results[1].text.hasPrefix("<"))
    }

    @Test("Sampled requests with penalties follow the exact distribution of the penalised verifier (chi-square)")
    func penalisedSamplingDistribution() throws {
        let verifier = try TinyModels.verifier()
        let prompt = [84, 49, 13, 254, 232]
        // Negative presence and frequency penalties strong enough that a token's chance to follow
        // itself depends clearly on whether the row's history holds the accepted draft before it.
        let sampling = SamplingParameters(temperature: 0.8, topK: 4, repetitionPenalty: 1.2, presencePenalty: -2,
                                          frequencyPenalty: -1, logitBias: [7: 0.5])
        var sampler = Sampler(vocabularySize: verifier.config.vocabSize)
        func distribution(after output: [Int]) throws -> [Int: Double] {
            let result = try verifier.forward([.init(cache: try verifier.makeCache(), tokens: prompt + output, logits: .last)],
                                              pool: TinyModels.pool)
            let row = Self.reference(result.logits(request: 0, row: 0), vocabulary: verifier.config.vocabSize,
                                     prompt: prompt, output: output, sampling: sampling)
            let p = row.withUnsafeBufferPointer { sampler.distribution($0.baseAddress!, sampling) }
            var result2: [Int: Double] = [:]
            for (token, probability) in p.enumerated() where probability > 0 { result2[token] = Double(probability) }
            return result2
        }
        var exact: [String: Double] = [:]
        var second: [Int: Double] = [:]
        for (x1, p1) in try distribution(after: []) {
            for (x2, p2) in try distribution(after: [x1]) {
                for (x3, p3) in try distribution(after: [x1, x2]) { exact["\(x1) \(x2) \(x3)"] = p1 * p2 * p3 }
                second[x2, default: 0] += p1 * p2
            }
        }
        #expect(abs(exact.values.reduce(0, +) - 1) < 1e-4)
        let favourite = try #require(second.max { $0.value < $1.value }?.key)
        let engine = TinyModels.engine(verifier: verifier, draft: try TinyModels.constantDraft(proposing: favourite, verifier: verifier),
                                       speculativeTokens: 3)
        let samples = 4000
        var observed: [String: Int] = [:]
        for batch in stride(from: 0, to: samples, by: 200) {
            var seeded = sampling
            let requests = (batch..<(batch + 200)).map { seed -> GenerationRequest in
                seeded.seed = UInt64(seed)
                return GenerationRequest(prompt: prompt, sampling: seeded, maxTokens: 4)
            }
            for result in try TinyModels.run(engine, requests) {
                observed[result.tokens.prefix(3).map(String.init).joined(separator: " "), default: 0] += 1
            }
        }
        #expect(engine.totals.acceptedTokens > 0 && engine.totals.acceptedTokens < engine.totals.draftTokens)
        let (statistic, freedom) = DistributionTests().chiSquare(observed: observed, expected: exact, samples: samples)
        let critical = Double(freedom) + 3.1 * (2 * Double(freedom)).squareRoot() + 10
        #expect(statistic < critical, "chi-square \(statistic) with \(freedom) degrees of freedom")
    }
}

@Suite("Prompt log-probabilities")
struct PromptLogprobTests {
    @Test("Every prompt token after the first gets its log-softmax, rank and alternatives, once, without changing the output")
    func promptLogprobsMatchADenseReference() throws {
        let verifier = try TinyModels.verifier()
        let draft = try TinyModels.draft(for: verifier)
        let vocabulary = verifier.config.vocabSize
        // 70 tokens: three prefill chunks of the tiny engine (32 each).
        let prompt = (0..<70).map { ($0 * 37 + 11) % vocabulary }
        let full = try verifier.forward([.init(cache: try verifier.makeCache(), tokens: prompt, logits: .all)], pool: TinyModels.pool)
        var expected: [(logprob: Double, rank: Int, best: [Int])] = []
        for position in 1..<prompt.count {
            let row = UnsafeBufferPointer(start: full.logits(request: 0, row: position - 1), count: vocabulary)
            let top = row.max()!
            let normaliser = Double(top) + log(row.reduce(0.0) { $0 + exp(Double($1 - top)) })
            let token = prompt[position]
            let best = row.indices.sorted { row[$0] > row[$1] || (row[$0] == row[$1] && $0 < $1) }.prefix(3)
            expected.append((Double(row[token]) - normaliser, row.filter { $0 >= row[token] }.count, Array(best)))
        }
        let plain = try TinyModels.run(TinyModels.engine(verifier: verifier, draft: nil),
                                       [GenerationRequest(prompt: prompt, maxTokens: 12)])[0].tokens
        for k in [nil, 0, 3] as [Int?] {
            let engine = TinyModels.engine(verifier: verifier, draft: k == 0 ? nil : draft, speculativeTokens: k)
            let id = try engine.add(GenerationRequest(prompt: prompt, maxTokens: 12, promptLogprobs: 3))
            var delivered: [[TokenLogprob]] = []
            var tokens: [Int] = []
            while engine.hasWork {
                for event in try engine.step() where event.requestId == id {
                    if let scored = event.promptLogprobs { delivered.append(scored) }
                    tokens += event.tokens
                }
            }
            #expect(tokens == plain, "scoring the prompt changes nothing else")
            try #require(delivered.count == 1, "delivered once, on the first token's event")
            let scored = delivered[0]
            try #require(scored.count == prompt.count - 1)
            for (position, entry) in scored.enumerated() {
                #expect(entry.token == prompt[position + 1])
                #expect(abs(Double(entry.logprob) - expected[position].logprob) < 1e-4)
                #expect(entry.rank == expected[position].rank)
                #expect(entry.top.map(\.token) == expected[position].best)
            }
        }
    }
}

extension PromptLogprobTests {
    @Test("Many alternatives (here the whole vocabulary) come back complete and in order")
    func wholeVocabularyAlternatives() throws {
        let verifier = try TinyModels.verifier()
        let vocabulary = verifier.config.vocabSize
        func logprobs(alternatives: Int) throws -> [TokenLogprob] {
            let engine = TinyModels.engine(verifier: verifier, draft: nil)
            _ = try engine.add(GenerationRequest(prompt: [3, 9, 27], maxTokens: 3, logprobs: alternatives))
            var collected: [TokenLogprob] = []
            while engine.hasWork { for event in try engine.step() { collected += event.logprobs } }
            return collected
        }
        let few = try logprobs(alternatives: 5), all = try logprobs(alternatives: vocabulary)
        try #require(few.count == 3 && all.count == 3)
        for (small, large) in zip(few, all) {
            #expect(large.top.count == vocabulary && Set(large.top.map(\.token)).count == vocabulary)
            #expect(zip(large.top, large.top.dropFirst()).allSatisfy { $0.logprob >= $1.logprob })
            #expect(Array(large.top.prefix(5)) == small.top)
            #expect(large.top[large.rank - 1].logprob == large.logprob)
        }
    }
}

/// Shows each token as `<id>`: the stream a request that keeps special tokens gets.
struct SpecialMarkingStream: TextStream {
    mutating func append(_ token: Int) -> String { "<\(token)>" }
    mutating func finish() -> String { "" }
}
