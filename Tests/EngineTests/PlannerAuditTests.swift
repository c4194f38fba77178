import Foundation
import Testing
import Engine

/// The planner's record of what it predicted against what the planned steps did.
struct PlannerAuditTests {
    @Test("The audit counts every verified draft's emitted tokens and the predicted and measured time of planned steps")
    func auditAddsUp() throws {
        let verifier = try TinyModels.verifier()
        let draft = try TinyModels.draft(for: verifier)
        // Costs learnt from the passes run (a calibrated tiny verifier is too cheap to draft for).
        let engine = TinyModels.engine(verifier: verifier, draft: draft)
        let results = try TinyModels.run(engine, TinyModels.prompts(4).map { GenerationRequest(prompt: $0, maxTokens: 40) })
        let audit = engine.audit
        let totals = engine.totals
        // A verified draft emits its accepted tokens and one more (the correction or the bonus).
        #expect(audit.emittedTokens == totals.acceptedTokens + totals.drafts)
        #expect(totals.drafts > 0, "the tiny draft drafts at all")
        // Each request predicted at least the one token it always gets, at most one per row.
        #expect(audit.predictedTokens >= Double(totals.drafts))
        #expect(audit.predictedTokens <= Double(totals.drafts * 6))
        let timed = audit.drafting.steps + audit.plain.steps
        #expect(audit.drafting.steps > 0)
        #expect(timed > 0 && timed <= results.map { $0.last.stats?.verifierSteps ?? 0 }.reduce(0, +))
        // Steps that also ran prompt chunks are timed apart, with nothing predicted.
        #expect(audit.prompt.predictedDraftSeconds == 0 && audit.prompt.predictedVerifySeconds == 0)
        #expect(audit.prompt.steps == 0 || audit.prompt.measuredVerifySeconds > 0)
        for timing in [audit.drafting, audit.plain] where timing.steps > 0 {
            #expect(timing.predictedVerifySeconds > 0 && timing.measuredVerifySeconds > 0 && timing.ratio > 0)
        }
        #expect(engine.lastStep.plannerAudit == audit || engine.hasWork == false)

        var sum = PlannerAudit()
        sum.add(audit)
        sum.add(audit)
        #expect(sum.emittedTokens == 2 * audit.emittedTokens && sum.drafting.steps == 2 * audit.drafting.steps)
        #expect(sum.prompt.steps == 2 * audit.prompt.steps && sum.plain.steps == 2 * audit.plain.steps)
        #expect(abs(sum.tokenRatio - audit.tokenRatio) < 1e-12)
    }

    @Test("A plan's expected seconds are its expected tokens over its expected rate")
    func expectedSecondsMatchRate() {
        var costs = SpeculationCosts(maxRows: 32)
        for rows in [1, 2, 4, 8, 16, 32] {
            costs.verify.observe(rows: rows, seconds: max(0.02, 0.012 + 0.0015 * Double(rows)))
            costs.draftContext.observe(rows: rows, seconds: 0.001)
            costs.draftChain.observe(rows: rows, seconds: 0.0008)
        }
        let candidates = [SpeculationPlanner.Candidate(expected: [1, 1.5, 1.7], minK: 0, contextRows: 2),
                          SpeculationPlanner.Candidate(expected: [1, 1.9, 2.6], minK: 0, contextRows: 1)]
        for ks in [[0, 0], [1, 0], [2, 2], [0, 1]] {
            let tokens = zip(ks, candidates).map { $1.expected[$0] }.reduce(0, +)
            let parts = SpeculationPlanner.expectedSeconds(ks, candidates: candidates, costs: costs, fixedContextRows: 3)
            let seconds = parts.draft + parts.verify
            if ks == [0, 0] { #expect(parts.draft == 0.001, "the prompts' draft context pass runs anyway") }
            let rate = SpeculationPlanner.expectedRate(ks, candidates: candidates, costs: costs, fixedContextRows: 3)
            #expect(abs(seconds * rate - tokens) < 1e-9, "\(ks)")
        }
        // Six verifier rows (22 ms, between the 4- and 8-row passes), the context pass over
        // 3 + 2 + 1 rows and one chain pass of two rows (the first drafts come from the context pass).
        let both = SpeculationPlanner.expectedSeconds([2, 2], candidates: candidates, costs: costs, fixedContextRows: 3)
        #expect(abs(both.verify - 0.022) < 1e-12 && abs(both.draft - (0.001 + 0.0008)) < 1e-12)
    }
}
