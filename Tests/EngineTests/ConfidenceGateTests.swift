import Foundation
import Testing
import Engine

/// The confidence gate: acceptance learnt by the draft's own probability, the planner's choice
/// of a threshold, and gated engines that still decode exactly as plain greedy decoding does.
struct ConfidenceGateTests {
    /// A calibration whose recent first proposals are `shares` (confidence: share, summing to
    /// about 1) and whose drafts of each listed confidence were accepted as `accepted` says.
    func calibration(shares: [(Float, Int)], accepted: [(Float, Bool)]) -> ConfidenceCalibration {
        var calibration = ConfidenceCalibration()
        for (confidence, hit) in accepted {
            for _ in 0..<60 { calibration.record(confidence: confidence, accepted: hit) }
        }
        // Interleaved, so the exponentially weighted histogram ends near the given proportions.
        let pattern = shares.flatMap { confidence, weight in Array(repeating: confidence, count: weight) }
        for _ in 0..<300 { for confidence in pattern { calibration.noteFirstProposal(confidence: confidence) } }
        return calibration
    }

    /// Verifier passes cost 20 ms plus 8 ms a row: four rows 52 ms (13 ms a token), so a draft
    /// row pays only when it is accepted more than about 62% of the time.
    func arithmeticBoundCosts() -> SpeculationCosts {
        var costs = SpeculationCosts(maxRows: 128)
        for rows in 1...64 {
            costs.verify.observe(rows: rows, seconds: 0.020 + 0.008 * Double(rows))
            costs.draftContext.observe(rows: rows, seconds: 0.0005)
            costs.draftChain.observe(rows: rows, seconds: 0.0005)
        }
        costs.coversBatches = true
        return costs
    }

    func candidate(acceptance: Double, maxK: Int = 3) -> SpeculationPlanner.Candidate {
        let controller = AdaptiveSpeculation(maxTokens: maxK, pinned: nil, prior: acceptance)
        return .init(expected: (0...maxK).map { controller.expectedTokens(k: $0) }, minK: 0, contextRows: 1)
    }

    @Test("Before any verification a draft of confidence p is taken to be accepted with probability p, and all confidences as likely")
    func priorCalibration() {
        let calibration = ConfidenceCalibration()
        #expect(abs(calibration.acceptance(confidence: 0.91) - 0.925) < 1e-12)
        #expect(abs(calibration.acceptance(confidence: 0.02) - 0.025) < 1e-12)
        #expect(abs(calibration.acceptance(confidence: 1.0) - 0.975) < 1e-12, "1 falls in the top bin")
        #expect(abs(calibration.acceptance(confidence: .nan) - 0.025) < 1e-12, "NaN counts as no confidence")
        #expect(calibration.share.allSatisfy { abs($0 - 0.05) < 1e-12 })
        #expect(calibration.proposals == 0)
        let all = calibration.gated(threshold: 0)
        #expect(abs(all.rows - 1) < 1e-9 && abs(all.tokens - 0.5) < 1e-9, "ungated: every draft verified, half accepted")
        #expect(calibration.thresholds.count == ConfidenceCalibration.binCount)
    }

    @Test("Verified drafts teach each confidence its acceptance, and first proposals move the histogram of confidences")
    func learning() {
        var calibration = ConfidenceCalibration()
        for _ in 0..<200 { calibration.record(confidence: 0.97, accepted: true) }
        for _ in 0..<200 { calibration.record(confidence: 0.97, accepted: false) }
        let mixed = calibration.acceptance(confidence: 0.96)
        #expect(mixed > 0.3 && mixed < 0.7, "hits and misses average out: \(mixed)")
        #expect(abs(calibration.acceptance(confidence: 0.5) - 0.525) < 1e-12, "other bins keep their prior")
        for _ in 0..<500 { calibration.noteFirstProposal(confidence: 0.97) }
        #expect(calibration.share[19] > 0.99 && abs(calibration.share.reduce(0, +) - 1) < 1e-9)
        #expect(calibration.proposals == 500)
        // Above every bin's acceptance nothing is verified; at the top bin's, it and every bin
        // still at a higher prior are.
        #expect(calibration.gated(threshold: 0.99) == (0, 0))
        let gated = calibration.gated(threshold: mixed)
        #expect(gated.rows >= calibration.share[19] && gated.rows <= 1 + 1e-9)
        #expect(gated.tokens >= calibration.share[19] * mixed && gated.tokens <= gated.rows)
        #expect(calibration.summary.contains("0.95-1.00"))
    }

    @Test("An expected fractional number of rows costs the interpolation between the whole counts around it")
    func fractionalRows() {
        var curve = CostCurve(maxRows: 16)
        curve.observe(rows: 4, seconds: 0.040)
        curve.observe(rows: 5, seconds: 0.050)
        #expect(abs((curve.estimate(expectedRows: 4.25) ?? 0) - 0.0425) < 1e-12)
        #expect(curve.estimate(expectedRows: 4) == curve.estimate(rows: 4))
        #expect(CostCurve(maxRows: 4).estimate(expectedRows: 2.5) == nil)
    }

    @Test("In a batch bound by arithmetic where no request's drafts pay on average, verifying only its sure drafts does")
    func gatePaysWhereDraftingDoesNot() throws {
        let costs = arithmeticBoundCosts()
        // Half the first proposals are sure (and accepted), half are guesses (never accepted).
        let calibration = calibration(shares: [(0.99, 1), (0.1, 1)], accepted: [(0.99, true), (0.1, false)])
        let batch = (0..<4).map { _ in candidate(acceptance: 0.5) }
        let plan = SpeculationPlanner.plan(batch, costs: costs)
        #expect(plan == [0, 0, 0, 0], "ungated, a draft accepted half the time does not pay here")
        let choice = try #require(SpeculationPlanner.gate(plan, gated: [true, true, true, true], candidates: batch,
                                                          calibration: calibration, costs: costs))
        // A verified row costs 8 ms against 13 ms a token: it pays when accepted over 62% of the time.
        #expect(choice.threshold > 0.62, "only drafts likely enough are verified: \(choice.threshold)")
        #expect(calibration.acceptance(confidence: 0.1) < choice.threshold)
        let plain = SpeculationPlanner.expectedRate(plan, candidates: batch, costs: costs)
        #expect(choice.rate > plain * 1.05, "\(choice.rate) against \(plain)")
        #expect(choice.seconds.verify > costs.verify.estimate(rows: 5) ?? 0 && choice.seconds.verify < costs.verify.estimate(rows: 7) ?? 0,
                "about two of the four drafts are verified")
        // Requests that may not be gated (pinned ones) or that draft already are left alone.
        #expect(SpeculationPlanner.gate(plan, gated: [false, false, false, false], candidates: batch,
                                        calibration: calibration, costs: costs) == nil)
        #expect(SpeculationPlanner.gate([1, 1, 1, 1], gated: [true, true, true, true], candidates: batch,
                                        calibration: calibration, costs: costs) == nil)
    }

    @Test("The gate stays shut when the draft's sure proposals are rare or often rejected, and before costs are measured")
    func gateStaysShut() {
        let costs = arithmeticBoundCosts()
        let batch = (0..<4).map { _ in candidate(acceptance: 0.3) }
        let plan = [0, 0, 0, 0]
        let unsure = calibration(shares: [(0.3, 1)], accepted: [(0.3, false), (0.99, true)])
        #expect(SpeculationPlanner.gate(plan, gated: [true, true, true, true], candidates: batch,
                                        calibration: unsure, costs: costs) == nil)
        let overconfident = calibration(shares: [(0.99, 1)], accepted: [(0.99, false)])
        #expect(SpeculationPlanner.gate(plan, gated: [true, true, true, true], candidates: batch,
                                        calibration: overconfident, costs: costs) == nil)
        let good = calibration(shares: [(0.99, 1)], accepted: [(0.99, true)])
        #expect(SpeculationPlanner.gate(plan, gated: [true, true, true, true], candidates: batch,
                                        calibration: good, costs: SpeculationCosts(maxRows: 8)) == nil)
    }

    /// An engine on costs where ungated drafting does not pay, starting from `calibration`, with a
    /// draft that always proposes plain decoding's most frequent token with confidence 1 (a
    /// one-token draft vocabulary); also the requests it runs and their plain greedy outputs.
    func sureDraftEngine(calibration: ConfidenceCalibration, maxTokens: Int = 40, gate: Bool = true) throws
        -> (engine: SpeculativeEngine, requests: [GenerationRequest], plain: [[Int]]) {
        let verifier = try TinyModels.verifier()
        let requests = TinyModels.prompts(4).map { GenerationRequest(prompt: $0, maxTokens: maxTokens) }
        let plain = try TinyModels.run(TinyModels.engine(verifier: verifier, draft: nil), requests).map(\.tokens)
        let sure = try TinyModels.constantDraft(proposing: TinyModels.mostFrequent(plain), verifier: verifier)
        let engine = SpeculativeEngine(
            verifier: verifier, draft: sure,
            configuration: .init(maxSpeculativeTokens: 3, prefillChunk: 32, maxModelLength: 256, eosTokenIds: [],
                                 confidenceGate: gate),
            pool: TinyModels.pool, costs: arithmeticBoundCosts(), makeTextStream: { _ in BracketTextStream() })
        engine.confidence = calibration
        return (engine, requests, plain)
    }

    @Test("Gated drafts the draft is sure of are verified, and the output is exactly plain greedy decoding's")
    func gatedDraftsAreVerifiedLosslessly() throws {
        let (engine, requests, plain) = try sureDraftEngine(
            calibration: calibration(shares: [(0.99, 1), (0.1, 1)], accepted: [(1.0, true), (0.1, false)]))
        #expect(try TinyModels.run(engine, requests).map(\.tokens) == plain)
        #expect(engine.gatedSteps > 0)
        #expect(engine.totals.drafts > 0 && engine.totals.acceptedTokens > 0)
    }

    @Test("Gated drafts below the threshold are dropped unverified, and the output is exactly plain greedy decoding's")
    func unsureDraftsAreDropped() throws {
        // Drafts of confidence 0.9-0.95 have been accepted, certain ones (this draft's) never.
        let (engine, requests, plain) = try sureDraftEngine(
            calibration: calibration(shares: [(0.92, 1), (0.1, 1)], accepted: [(0.92, true), (1.0, false), (0.1, false)]))
        #expect(try TinyModels.run(engine, requests).map(\.tokens) == plain)
        #expect(engine.gatedSteps > 0 && engine.gatedDraftsDropped > 0)
    }

    @Test("Without the gate, the same engine never gates")
    func gateCanBeTurnedOff() throws {
        let (engine, requests, plain) = try sureDraftEngine(
            calibration: calibration(shares: [(0.99, 1), (0.1, 1)], accepted: [(1.0, true), (0.1, false)]),
            maxTokens: 20, gate: false)
        #expect(try TinyModels.run(engine, requests).map(\.tokens) == plain)
        #expect(engine.gatedSteps == 0)
    }
}
