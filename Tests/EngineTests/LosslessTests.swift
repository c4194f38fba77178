import Engine
import Models
import Testing

@Suite("Greedy speculative decoding is lossless")
struct LosslessTests {
    @Test("With the draft, every k and batch size gives exactly the tokens of plain greedy decoding run one at a time",
          arguments: [1, 2, 3, 4, 5])
    func greedyEqualsPlain(k: Int) throws {
        let verifier = try TinyModels.verifier()
        let draft = try TinyModels.draft(for: verifier)
        let prompts = TinyModels.prompts(8)
        var plain: [[Int]] = []
        for prompt in prompts {
            let engine = TinyModels.engine(verifier: verifier, draft: nil)
            plain.append(try TinyModels.run(engine, [GenerationRequest(prompt: prompt, maxTokens: 40)])[0].tokens)
        }
        // The real tiny draft (it rarely agrees) and one that always proposes the verifier's
        // favourite token (it agrees often), so accepted runs of every length are checked.
        let agreeing = try TinyModels.constantDraft(proposing: TinyModels.mostFrequent(plain), verifier: verifier)
        for (name, candidate) in [("tiny-eagle3", draft), ("constant", agreeing)] {
            for batch in [1, 4, 8] {
                let engine = TinyModels.engine(verifier: verifier, draft: candidate, speculativeTokens: k)
                var speculative: [[Int]] = []
                for start in stride(from: 0, to: prompts.count, by: batch) {
                    let group = prompts[start..<min(start + batch, prompts.count)].map { GenerationRequest(prompt: $0, maxTokens: 40) }
                    speculative += try TinyModels.run(engine, group).map(\.tokens)
                }
                #expect(speculative == plain, "\(name) draft, k = \(k), batch = \(batch)")
                #expect(engine.totals.drafts > 0)
                if name == "constant" {
                    #expect(engine.totals.acceptedTokens > 0 && engine.totals.acceptedTokens < engine.totals.draftTokens)
                }
            }
        }
    }

    @Test("Adaptive speculation is lossless too, and records acceptance telemetry")
    func adaptiveIsLossless() throws {
        let verifier = try TinyModels.verifier()
        let draft = try TinyModels.draft(for: verifier)
        let prompts = TinyModels.prompts(6)
        let plain = try TinyModels.run(TinyModels.engine(verifier: verifier, draft: nil),
                                       prompts.map { GenerationRequest(prompt: $0, maxTokens: 50) }).map(\.tokens)
        let engine = TinyModels.engine(verifier: verifier, draft: draft)
        let results = try TinyModels.run(engine, prompts.map { GenerationRequest(prompt: $0, maxTokens: 50) })
        #expect(results.map(\.tokens) == plain)
        let stats = try #require(results[0].last.stats)
        #expect(stats.emittedTokens == 50)
        #expect(stats.acceptedPerPosition.first ?? 0 <= stats.drafts)
        #expect(stats.acceptedTokens == stats.acceptedPerPosition.reduce(0, +))
        // New requests start from what the draft has shown so far, once there is enough of it.
        // From the calibrated acceptance of recent first proposals once there are 50 (verified or
        // not: the confidence gate verifies a chosen few), else from the verified first drafts
        // made with the whole context.
        let calibration = engine.confidence
        let calibrated = zip(calibration.share, calibration.acceptance).reduce(0) { $0 + $1.0 * $1.1 }
        let whole = engine.wholeContextDrafts
        #expect(whole > 0 && whole <= engine.totals.drafts)
        let expectedPrior = calibration.proposals >= 50 ? min(0.95, max(0.05, calibrated))
            : whole >= 50 ? min(0.95, max(0.05, Double(engine.wholeContextFirstAccepted) / Double(whole))) : 0.6
        #expect(engine.acceptancePrior == expectedPrior)
        #expect(TinyModels.engine(verifier: verifier, draft: draft).acceptancePrior == 0.6)
    }

    @Test("Drafts restarted from a window of recent positions after idling propose again and stay lossless")
    func restartedDraftsAreLossless() throws {
        let verifier = try TinyModels.verifier()
        let draft = try TinyModels.draft(for: verifier)
        let prompts = TinyModels.prompts(4)
        let requests = prompts.map { GenerationRequest(prompt: $0, maxTokens: 150) }
        let plain = try TinyModels.run(TinyModels.engine(verifier: verifier, draft: nil), requests).map(\.tokens)
        // No measured costs at first: requests start at k = 0 and draft on probes or once the
        // planner has learnt costs; with a restart every 6 queued rows while idle, drafts come
        // from caches that hold only recent positions, at an offset.
        let engine = TinyModels.engine(verifier: verifier, draft: draft, draftRestartRows: 6)
        let results = try TinyModels.run(engine, requests)
        #expect(results.map(\.tokens) == plain)
        #expect(engine.draftRestarts > 0)
        #expect(engine.totals.drafts >= 3 * prompts.count, "at least the probes after 16, 48 and 112 steps")
        // Drafts made from a restarted window do not count towards a new request's prior.
        #expect(engine.wholeContextDrafts < engine.totals.drafts)
        #expect(engine.wholeContextFirstAccepted <= engine.wholeContextDrafts)
    }

    @Test("Where measured costs say no draft could pay, drafting goes dormant: no drafts, no probes, the same output")
    func dormantDraftingDecodesPlainly() throws {
        let verifier = try TinyModels.verifier()
        let draft = try TinyModels.draft(for: verifier)
        let requests = TinyModels.prompts(4).map { GenerationRequest(prompt: $0, maxTokens: 40) }
        let plain = try TinyModels.run(TinyModels.engine(verifier: verifier, draft: nil), requests).map(\.tokens)
        // Every verified row costs as much as a whole plain step: arithmetic-bound throughout.
        var costs = SpeculationCosts(maxRows: 256)
        for rows in 1...64 {
            costs.verify.observe(rows: rows, seconds: 0.01 * Double(rows))
            costs.draftContext.observe(rows: rows, seconds: 0.005)
            costs.draftChain.observe(rows: rows, seconds: 0.005)
        }
        costs.coversBatches = true
        let engine = SpeculativeEngine(
            verifier: verifier, draft: draft,
            configuration: .init(maxSpeculativeTokens: 3, prefillChunk: 32, maxModelLength: 256, eosTokenIds: []),
            pool: TinyModels.pool, costs: costs, makeTextStream: { _ in BracketTextStream() })
        let results = try TinyModels.run(engine, requests)
        #expect(results.map(\.tokens) == plain)
        #expect(engine.totals.drafts == 0, "awake, each request would have probed after 16 steps")
    }

    @Test("Stop tokens and stop strings inside an accepted run end the output exactly where plain decoding ends it")
    func stopsInsideAcceptedRuns() throws {
        let verifier = try TinyModels.verifier()
        let draft = try TinyModels.draft(for: verifier)
        let prompt = TinyModels.prompts(3)[2]
        let reference = try TinyModels.run(TinyModels.engine(verifier: verifier, draft: nil),
                                           [GenerationRequest(prompt: prompt, maxTokens: 30)])[0].tokens
        let stopToken = reference[9]
        let firstStop = try #require(reference.firstIndex(of: stopToken))
        for k in [2, 4] {
            let engine = TinyModels.engine(verifier: verifier, draft: draft, speculativeTokens: k)
            let byToken = try TinyModels.run(engine, [GenerationRequest(prompt: prompt, maxTokens: 30, stopTokenIds: [stopToken])])[0]
            #expect(byToken.tokens == Array(reference[...firstStop]))
            #expect(byToken.last.finish == .stop && byToken.last.stopReason == .token(stopToken))

            let stopString = "[\(reference[5])][\(reference[6])]"
            let byString = try TinyModels.run(engine, [GenerationRequest(prompt: prompt, maxTokens: 30, stopStrings: [stopString])])[0]
            let fullText = reference.map { "[\($0)]" }.joined()
            let cut = try #require(fullText.range(of: stopString))
            #expect(byString.text == String(fullText[..<cut.lowerBound]))
            #expect(byString.last.finish == .stop && byString.last.stopReason == .string(stopString))

            let eosEngine = TinyModels.engine(verifier: verifier, draft: draft, speculativeTokens: k, eos: [stopToken])
            let byEOS = try TinyModels.run(eosEngine, [GenerationRequest(prompt: prompt, maxTokens: 30)])[0]
            #expect(byEOS.tokens == Array(reference[...firstStop]) && byEOS.last.stopReason == .eos)
            let ignoring = try TinyModels.run(eosEngine, [GenerationRequest(prompt: prompt, maxTokens: 30, ignoreEOS: true)])[0]
            #expect(ignoring.tokens == reference && ignoring.last.finish == .length)
        }
    }

    @Test("max_tokens and min_tokens are honoured mid-run")
    func tokenLimits() throws {
        let verifier = try TinyModels.verifier()
        let draft = try TinyModels.draft(for: verifier)
        let prompt = TinyModels.prompts(2)[1]
        let reference = try TinyModels.run(TinyModels.engine(verifier: verifier, draft: nil),
                                           [GenerationRequest(prompt: prompt, maxTokens: 20)])[0].tokens
        let engine = TinyModels.engine(verifier: verifier, draft: draft, speculativeTokens: 5)
        for limit in [1, 2, 7] {
            let result = try TinyModels.run(engine, [GenerationRequest(prompt: prompt, maxTokens: limit)])[0]
            #expect(result.tokens == Array(reference.prefix(limit)) && result.last.finish == .length)
        }
        // min_tokens holds the stop id back (vLLM masks it), so the output leaves plain decoding's
        // path there; with the draft it is still exactly what plain decoding gives that request.
        let stopToken = reference[0]
        let request = GenerationRequest(prompt: prompt, maxTokens: 20, minTokens: 5, stopTokenIds: [stopToken])
        let minTokens = try TinyModels.run(engine, [request])[0]
        let plain = try TinyModels.run(TinyModels.engine(verifier: verifier, draft: nil), [request])[0]
        #expect(minTokens.tokens == plain.tokens && minTokens.last.finish == plain.last.finish)
        #expect(!minTokens.tokens.prefix(5).contains(stopToken))
    }

    @Test("Cancelling a request frees it at the next step and reports abort")
    func cancellation() throws {
        let verifier = try TinyModels.verifier()
        let engine = TinyModels.engine(verifier: verifier, draft: try TinyModels.draft(for: verifier), speculativeTokens: 3)
        let id = try engine.add(GenerationRequest(prompt: [1, 2, 3], maxTokens: 100))
        _ = try engine.step()
        engine.cancel(id)
        let events = try engine.step()
        #expect(events.contains { $0.requestId == id && $0.finish == .abort })
        #expect(!engine.hasWork)
    }

    @Test("Bad requests are rejected with errors")
    func badRequests() throws {
        let engine = TinyModels.engine(verifier: try TinyModels.verifier(), draft: nil)
        #expect(throws: SpeculativeEngine.EngineError.self) { try engine.add(GenerationRequest(prompt: [], maxTokens: 5)) }
        #expect(throws: SpeculativeEngine.EngineError.self) { try engine.add(GenerationRequest(prompt: [384], maxTokens: 5)) }
        #expect(throws: SpeculativeEngine.EngineError.self) {
            try engine.add(GenerationRequest(prompt: Array(repeating: 1, count: 300), maxTokens: 5))
        }
    }

    @Test("Requests with no tokens to generate or undefined sampling are refused with the reason",
          arguments: [
              (GenerationRequest(prompt: [1], maxTokens: 0), "max_tokens"),
              (GenerationRequest(prompt: [1], maxTokens: -3), "max_tokens"),
              (GenerationRequest(prompt: [1], maxTokens: 4, minTokens: 5), "min_tokens"),
              (GenerationRequest(prompt: [1], sampling: .init(temperature: -1), maxTokens: 4), "temperature"),
              (GenerationRequest(prompt: [1], sampling: .init(temperature: .nan), maxTokens: 4), "temperature"),
              (GenerationRequest(prompt: [1], sampling: .init(temperature: 1, topP: 0), maxTokens: 4), "top_p"),
              (GenerationRequest(prompt: [1], sampling: .init(temperature: 1, topK: -2), maxTokens: 4), "top_k"),
              (GenerationRequest(prompt: [1], sampling: .init(temperature: 1, minP: 2), maxTokens: 4), "min_p"),
              (GenerationRequest(prompt: [1], maxTokens: 4, speculativeTokens: -1), "speculative tokens"),
              (GenerationRequest(prompt: [1], sampling: .init(repetitionPenalty: 0), maxTokens: 4), "repetition_penalty"),
              (GenerationRequest(prompt: [1], sampling: .init(repetitionPenalty: .infinity), maxTokens: 4), "repetition_penalty"),
              (GenerationRequest(prompt: [1], sampling: .init(presencePenalty: 3), maxTokens: 4), "presence_penalty"),
              (GenerationRequest(prompt: [1], sampling: .init(frequencyPenalty: -2.5), maxTokens: 4), "frequency_penalty"),
              (GenerationRequest(prompt: [1], sampling: .init(logitBias: [3: .nan]), maxTokens: 4), "logit_bias"),
              (GenerationRequest(prompt: [1], sampling: .init(logitBias: [384: 1]), maxTokens: 4), "logit_bias"),
              (GenerationRequest(prompt: [1], sampling: .init(allowedTokenIds: []), maxTokens: 4), "allowed_token_ids"),
              (GenerationRequest(prompt: [1], sampling: .init(allowedTokenIds: [2, -1]), maxTokens: 4), "allowed_token_ids"),
          ])
    func invalidRequests(request: GenerationRequest, field: String) throws {
        let engine = TinyModels.engine(verifier: try TinyModels.verifier(), draft: nil)
        do {
            _ = try engine.add(request)
            Issue.record("accepted a request with a bad \(field)")
        } catch let error as SpeculativeEngine.EngineError {
            #expect(error.description.contains(field))
        }
        #expect(!engine.hasWork)
    }
}
