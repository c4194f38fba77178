import Engine
import Foundation
import Models
import Testing

@Suite("Speculative sampling follows the verifier's distribution")
struct DistributionTests {
    /// Chi-square statistic of observed counts against expected probabilities, pooling
    /// categories expected fewer than 5 times; returns (statistic, degrees of freedom).
    func chiSquare(observed: [String: Int], expected: [String: Double], samples: Int) -> (Double, Int) {
        var statistic = 0.0, categories = 0
        var pooledExpected = 0.0, pooledObserved = 0
        for (key, probability) in expected {
            let e = probability * Double(samples)
            let o = observed[key] ?? 0
            if e < 5 { pooledExpected += e; pooledObserved += o; continue }
            statistic += (Double(o) - e) * (Double(o) - e) / e
            categories += 1
        }
        let unexpected = observed.filter { expected[$0.key] == nil }.map(\.value).reduce(0, +)
        pooledObserved += unexpected
        if pooledExpected > 0 {
            statistic += (Double(pooledObserved) - pooledExpected) * (Double(pooledObserved) - pooledExpected) / max(pooledExpected, 1e-9)
            categories += 1
        }
        return (statistic, categories - 1)
    }

    @Test("The first three sampled tokens, two of them accepted or resampled drafts, match the exact joint distribution (chi-square)")
    func jointDistributionOfSampledTokens() throws {
        let verifier = try TinyModels.verifier()
        let prompt = [84, 49, 13, 254, 232]
        let parameters = SamplingParameters(temperature: 0.8, topK: 4)

        // The exact joint distribution of (x1, x2, x3) from the verifier alone.
        var sampler = Sampler(vocabularySize: verifier.config.vocabSize)
        func distribution(after tokens: [Int]) throws -> [Int: Double] {
            let output = try verifier.forward([.init(cache: try verifier.makeCache(), tokens: tokens, logits: .last)],
                                              pool: TinyModels.pool)
            let p = sampler.distribution(output.logits(request: 0, row: 0), parameters)
            var result: [Int: Double] = [:]
            for (token, probability) in p.enumerated() where probability > 0 { result[token] = Double(probability) }
            return result
        }
        var exact: [String: Double] = [:]
        for (x1, p1) in try distribution(after: prompt) {
            for (x2, p2) in try distribution(after: prompt + [x1]) {
                for (x3, p3) in try distribution(after: prompt + [x1, x2]) {
                    exact["\(x1) \(x2) \(x3)"] = p1 * p2 * p3
                }
            }
        }
        #expect(abs(exact.values.reduce(0, +) - 1) < 1e-4)
        // A draft that always proposes the most likely second token: accepted with probability
        // p(token), so both the acceptance and the resampling paths run often.
        var secondToken: [Int: Double] = [:]
        for (key, probability) in exact { secondToken[Int(key.split(separator: " ")[1]) ?? 0, default: 0] += probability }
        let favourite = try #require(secondToken.max { $0.value < $1.value }?.key)
        let draft = try TinyModels.constantDraft(proposing: favourite, verifier: verifier)

        let samples = 4000
        var observed: [String: Int] = [:]
        let engine = TinyModels.engine(verifier: verifier, draft: draft, speculativeTokens: 3)
        for batch in stride(from: 0, to: samples, by: 150) {
            let requests = (batch..<(batch + 150)).map {
                GenerationRequest(prompt: prompt, sampling: SamplingParameters(temperature: 0.8, topK: 4, seed: UInt64($0)),
                                  maxTokens: 4)
            }
            for result in try TinyModels.run(engine, requests) {
                observed[result.tokens.prefix(3).map(String.init).joined(separator: " "), default: 0] += 1
            }
        }
        #expect(engine.totals.drafts >= samples, "every request verified drafts")
        #expect(engine.totals.acceptedTokens > 0 && engine.totals.acceptedTokens < engine.totals.draftTokens,
                "both acceptance and rejection were exercised")
        let (statistic, freedom) = chiSquare(observed: observed, expected: exact, samples: samples)
        // The 99.9th percentile of chi-square is below dof + 3.1·sqrt(2·dof) + 10 for these sizes.
        let critical = Double(freedom) + 3.1 * (2 * Double(freedom)).squareRoot() + 10
        #expect(statistic < critical, "chi-square \(statistic) with \(freedom) degrees of freedom")
    }

    @Test("A seeded sampled request is reproducible, alone or batched with others")
    func seededRequestsAreReproducible() throws {
        let verifier = try TinyModels.verifier()
        let draft = try TinyModels.constantDraft(proposing: 7, verifier: verifier)
        let request = GenerationRequest(prompt: [5, 6, 7], sampling: SamplingParameters(temperature: 1, seed: 42), maxTokens: 30)
        let alone = try TinyModels.run(TinyModels.engine(verifier: verifier, draft: draft, speculativeTokens: 3), [request])[0].tokens
        let others = (0..<3).map { GenerationRequest(prompt: [9, $0], sampling: SamplingParameters(temperature: 1, seed: UInt64($0)), maxTokens: 25) }
        let batched = try TinyModels.run(TinyModels.engine(verifier: verifier, draft: draft, speculativeTokens: 3), others + [request])[3].tokens
        #expect(alone == batched)
        #expect(alone.count == 30)
    }

    @Test("A seeded sampled request gets the tokens it gets without a draft, at every k, adaptive k included")
    func seededRequestsIgnoreTheDraftLength() throws {
        let verifier = try TinyModels.verifier()
        let requests = (0..<4).map { index in
            GenerationRequest(prompt: [5, 6, 7, index], sampling: SamplingParameters(temperature: 0.5, topK: 8, seed: UInt64(index)),
                              maxTokens: 40)
        }
        let plain = try TinyModels.run(TinyModels.engine(verifier: verifier, draft: nil), requests).map(\.tokens)
        #expect(plain.allSatisfy { $0.count == 40 })
        // A draft proposing the token these outputs use most is accepted now and then, so both
        // the accepting and the rejecting path run.
        var uses: [Int: Int] = [:]
        for token in plain.joined() { uses[token, default: 0] += 1 }
        let favourite = try #require(uses.max { ($0.value, $1.key) < ($1.value, $0.key) }?.key)
        let draft = try TinyModels.constantDraft(proposing: favourite, verifier: verifier)
        for k in [1, 3, nil] {
            let engine = TinyModels.engine(verifier: verifier, draft: draft, speculativeTokens: k)
            let tokens = try TinyModels.run(engine, requests).map(\.tokens)
            #expect(tokens == plain, "k = \(k.map(String.init) ?? "adaptive")")
            if k != nil {
                #expect(engine.totals.acceptedTokens > 0 && engine.totals.acceptedTokens < engine.totals.draftTokens,
                        "drafts were both accepted and rejected (k = \(k ?? 0))")
            }
        }
    }
}
