import Foundation
import Testing
import Engine

/// The batch-wide choice of draft lengths, on cost curves shaped like the two regimes of a CPU:
/// a memory-bound pass whose time hardly depends on its rows, and an arithmetic-bound one whose
/// time grows with every row.
struct SpeculationPlannerTests {
    /// Verifier passes cost `fixed + perRow · rows` seconds, and never less than `floor` (the
    /// time to stream the weights once); every draft pass costs `draftPass`.
    func costs(floor: Double, fixed: Double, perRow: Double, draftPass: Double) -> SpeculationCosts {
        var costs = SpeculationCosts(maxRows: 128)
        for rows in [1, 2, 4, 8, 16, 32, 64, 128] {
            costs.verify.observe(rows: rows, seconds: max(floor, fixed + perRow * Double(rows)))
            costs.draftContext.observe(rows: rows, seconds: draftPass)
            costs.draftChain.observe(rows: rows, seconds: draftPass)
        }
        return costs
    }

    func candidate(acceptance: Double, maxK: Int = 5, minK: Int = 0) -> SpeculationPlanner.Candidate {
        let controller = AdaptiveSpeculation(maxTokens: maxK, pinned: nil, prior: acceptance)
        return .init(expected: (0...maxK).map { controller.expectedTokens(k: $0) }, minK: minK, contextRows: 1)
    }

    @Test("A cost curve interpolates between measured row counts and grows in proportion beyond the largest")
    func curveInterpolates() {
        var curve = CostCurve(maxRows: 64)
        #expect(curve.estimate(rows: 4) == nil)
        #expect(curve.isEmpty)
        curve.observe(rows: 2, seconds: 0.010)
        curve.observe(rows: 6, seconds: 0.030)
        #expect(curve.estimate(rows: 0) == 0)
        #expect(curve.estimate(rows: 1) == 0.010, "below the smallest measurement: no cheaper than it")
        #expect(abs((curve.estimate(rows: 4) ?? 0) - 0.020) < 1e-12)
        #expect(abs((curve.estimate(rows: 12) ?? 0) - 0.060) < 1e-12)
        #expect(abs((curve.estimate(rows: 640) ?? 0) - 3.2) < 1e-9, "past the table's end it keeps growing")
        curve.observe(rows: 2, seconds: 0.020)
        #expect(abs((curve.estimate(rows: 2) ?? 0) - 0.015) < 1e-12, "the second measurement counts half")
        for _ in 0..<20 { curve.observe(rows: 2, seconds: 0.015) }
        curve.observe(rows: 2, seconds: 0.025)
        #expect(abs((curve.estimate(rows: 2) ?? 0) - 0.016) < 1e-12, "after many, a new one moves the mean by a tenth")
        curve.observe(rows: 65, seconds: 1)
        curve.observe(rows: 3, seconds: .nan)
        #expect(curve.estimate(rows: 3) == curve.estimate(rows: 3), "ignored measurements leave the curve as it was")
    }

    @Test("One request bound by memory bandwidth proposes every draft that likely pays")
    func memoryBoundSingleRequest() {
        let costs = costs(floor: 0.020, fixed: 0.004, perRow: 0.002, draftPass: 0.001)
        #expect(SpeculationPlanner.plan([candidate(acceptance: 0.8)], costs: costs) == [5])
        #expect(SpeculationPlanner.plan([candidate(acceptance: 0.4)], costs: costs).first ?? 0 >= 2)
        #expect(SpeculationPlanner.plan([candidate(acceptance: 0.02)], costs: costs) == [0])
    }

    @Test("A batch bound by arithmetic speculates only with the requests whose drafts are likely accepted")
    func computeBoundBatch() {
        // Eight rows cost 24 ms (3 ms a token); each further row 1.5 ms.
        let costs = costs(floor: 0.020, fixed: 0.012, perRow: 0.0015, draftPass: 0.0005)
        let batch = (0..<7).map { _ in candidate(acceptance: 0.3) } + [candidate(acceptance: 0.95)]
        let plan = SpeculationPlanner.plan(batch, costs: costs)
        #expect(plan.prefix(7).allSatisfy { $0 == 0 }, "\(plan)")
        #expect(plan[7] > 0, "\(plan)")
        // Where the same drafts would pay for one request alone.
        #expect(SpeculationPlanner.plan([candidate(acceptance: 0.3)], costs: costs).first ?? 0 > 0)
    }

    @Test("Drafts that are rarely accepted mean plain decoding for the whole batch")
    func poorDraftsDecodePlainly() {
        let costs = costs(floor: 0.020, fixed: 0.012, perRow: 0.0015, draftPass: 0.0005)
        let plan = SpeculationPlanner.plan((0..<8).map { _ in candidate(acceptance: 0.2) }, costs: costs)
        #expect(plan == Array(repeating: 0, count: 8))
    }

    @Test("A request that must first catch its draft up on many queued rows does not draft in a busy batch where one feeding a row would")
    func catchingUpIsCharged() {
        // Eight rows cost 24 ms, each further row 1.5 ms; a draft pass 0.4 ms plus 0.1 ms a row.
        var costs = SpeculationCosts(maxRows: 128)
        for rows in [1, 2, 4, 8, 16, 32, 64, 128] {
            costs.verify.observe(rows: rows, seconds: max(0.020, 0.012 + 0.0015 * Double(rows)))
            costs.draftContext.observe(rows: rows, seconds: 0.0004 + 0.0001 * Double(rows))
            costs.draftChain.observe(rows: rows, seconds: 0.0004 + 0.0001 * Double(rows))
        }
        let good = candidate(acceptance: 0.95)
        var idle = good
        idle.contextRows = 48
        let others = (0..<7).map { _ in candidate(acceptance: 0.1) }
        #expect((SpeculationPlanner.plan(others + [good], costs: costs).last ?? 0) > 0)
        #expect(SpeculationPlanner.plan(others + [idle], costs: costs) == Array(repeating: 0, count: 8))
        // Alone, bound by memory, it still drafts after catching up.
        #expect((SpeculationPlanner.plan([idle], costs: costs).first ?? 0) > 0)
    }

    @Test("Pinned and probing requests keep their minimum, and nothing speculates before costs are measured")
    func minimumsAndUncalibrated() {
        let costs = costs(floor: 0.020, fixed: 0.012, perRow: 0.0015, draftPass: 0.0005)
        let pinned = SpeculationPlanner.Candidate(expected: [1, 1.1, 1.2, 1.3], minK: 3, contextRows: 1)
        let probe = candidate(acceptance: 0.01, maxK: 3, minK: 1)
        #expect(SpeculationPlanner.plan([pinned, probe], costs: costs) == [3, 1])
        let unmeasured = SpeculationCosts(maxRows: 16)
        #expect(SpeculationPlanner.plan([candidate(acceptance: 0.9), probe], costs: unmeasured) == [0, 1])
    }

    @Test("Draft positions never observed are assumed to be accepted as often as the deepest observed one, not at the prior")
    func unobservedPositionsBorrowTheirParent() {
        var controller = AdaptiveSpeculation(maxTokens: 5, pinned: nil, prior: 0.6)
        #expect(abs(controller.expectedTokens(k: 2) - (1 + 0.6 + 0.36)) < 1e-12)
        // Sixty steps at k = 1, a third of them accepted: position 1 is known, 2...5 are not.
        for step in 0..<60 { controller.record(proposed: 1, accepted: step % 3 == 0 ? 1 : 0) }
        let first = controller.expectedTokens(k: 1) - 1
        #expect(first > 0.25 && first < 0.45)
        let five = controller.expectedTokens(k: 5)
        let geometric = (0...5).reduce(0.0) { $0 + pow(first, Double($1)) }
        #expect(abs(five - geometric) < 1e-9, "positions 2-5 take position 1's rate")
        // A memory-bound request then stops at the depth that pays instead of going to 5.
        let costs = costs(floor: 0.020, fixed: 0.004, perRow: 0.001, draftPass: 0.0008)
        let candidate = SpeculationPlanner.Candidate(expected: (0...5).map { controller.expectedTokens(k: $0) },
                                                     minK: 0, contextRows: 1)
        #expect((SpeculationPlanner.plan([candidate], costs: costs).first ?? 5) <= 3, "with 0.6 assumed at 2-5 it chose 4")
        // The first observation of a deeper position starts from that borrowed rate.
        controller.record(proposed: 2, accepted: 2)
        #expect(controller.expectedTokens(k: 2) - controller.expectedTokens(k: 1) > 0)
    }

    @Test("A bad opening stretch moves a request's acceptance estimate no faster than later drafts do")
    func openingStretchWeighsLikeTheRest() {
        // One of the first six drafts accepted (a response's opening on MT-Bench, say): the
        // estimate stays above the rate a quantised batch-1 k = 1 step needs to pay
        // (about 0.36), where counting the prior as four observations dropped it to 0.34.
        var controller = AdaptiveSpeculation(maxTokens: 3, pinned: nil, prior: 0.6)
        for accepted in [0, 1, 0, 0, 0, 0] { controller.record(proposed: 1, accepted: accepted) }
        let afterOpening = controller.expectedTokens(k: 1) - 1
        #expect(afterOpening > 0.38 && afterOpening < 0.39)
        // Each later draft moves it by the same tenth of the gap.
        let before = afterOpening
        controller.record(proposed: 1, accepted: 1)
        #expect(abs((controller.expectedTokens(k: 1) - 1) - (before + 0.1 * (1 - before))) < 1e-12)
    }

    @Test("A batch that nobody drafts in checks one draft each when that is predicted to lose less than 10%")
    func costCheckTriesOneDraftEach() {
        // Four rows cost a plain step; eight cost 30% more (measured on a busy moment, say).
        var costs = SpeculationCosts(maxRows: 64)
        for rows in [1, 2, 4, 8, 16, 32, 64] {
            costs.verify.observe(rows: rows, seconds: rows <= 4 ? 0.020 : 0.026 * Double(rows) / 8)
            costs.draftContext.observe(rows: rows, seconds: 0.0005)
            costs.draftChain.observe(rows: rows, seconds: 0.0005)
        }
        let batch = (0..<4).map { _ in candidate(acceptance: 0.35, maxK: 3) }
        let plan = SpeculationPlanner.plan(batch, costs: costs)
        #expect(plan == [0, 0, 0, 0])
        #expect(SpeculationPlanner.costCheck(plan, candidates: batch, costs: costs) == [1, 1, 1, 1])
        // Not when someone drafts by choice, not for hopeless drafts, not for a request alone,
        // and a request pinned to plain decoding stays plain.
        #expect(SpeculationPlanner.costCheck([1, 0, 0, 0], candidates: batch, costs: costs) == nil)
        let hopeless = (0..<4).map { _ in candidate(acceptance: 0.01, maxK: 3) }
        #expect(SpeculationPlanner.costCheck([0, 0, 0, 0], candidates: hopeless, costs: costs) == nil)
        #expect(SpeculationPlanner.costCheck([0], candidates: [batch[0]], costs: costs) == nil)
        let pinned = SpeculationPlanner.Candidate(expected: [1], minK: 0, contextRows: 1)
        #expect(SpeculationPlanner.costCheck([0, 0, 0, 0, 0], candidates: batch + [pinned], costs: costs) == [1, 1, 1, 1, 0])
        // Once the curve has seen the pass at its true cost, the planner takes it on its own.
        costs.verify.observe(rows: 8, seconds: 0.021)
        #expect(SpeculationPlanner.plan(batch, costs: costs) == [1, 1, 1, 1])
    }

    @Test("A request at plain decoding probes with one draft now and then, less often while probes find nothing")
    func probesAfterAnInterval() {
        var controller = AdaptiveSpeculation(maxTokens: 3, pinned: nil)
        #expect(controller.minimumNext == 0)
        for _ in 0..<(AdaptiveSpeculation.probeInterval - 1) { controller.planned(0) }
        #expect(controller.minimumNext == 1)
        controller.planned(1)
        #expect(controller.minimumNext == 0)
        // A probe that led nowhere: the next comes after twice as many steps.
        for _ in 0..<(2 * AdaptiveSpeculation.probeInterval - 2) { controller.planned(0) }
        #expect(controller.minimumNext == 0)
        controller.planned(0)
        #expect(controller.minimumNext == 1)
        // Choosing to speculate on its own resets the interval.
        controller.planned(2)
        for _ in 0..<(AdaptiveSpeculation.probeInterval - 1) { controller.planned(0) }
        #expect(controller.minimumNext == 1)
        #expect(AdaptiveSpeculation(maxTokens: 3, pinned: 2).minimumNext == 2)
        #expect(AdaptiveSpeculation(maxTokens: 0, pinned: nil).minimumNext == 0)
    }

    @Test("A request counts its share of the steps it spends at plain decoding, from its last probe or draft")
    func idleTimeAccumulates() {
        var controller = AdaptiveSpeculation(maxTokens: 3, pinned: nil)
        for _ in 0..<(AdaptiveSpeculation.probeInterval - 1) { controller.planned(0, share: 0.003) }
        #expect(controller.probeDue)
        #expect(abs(controller.idleSeconds - 0.045) < 1e-12)
        controller.planned(0, share: 0.003)
        #expect(controller.probeDue, "a probe that waited stays due")
        #expect(abs(controller.idleSeconds - 0.048) < 1e-12)
        controller.planned(1, share: 0.003)
        #expect(!controller.probeDue)
        #expect(controller.idleSeconds == 0)
        #expect(!AdaptiveSpeculation(maxTokens: 3, pinned: 0).probeDue, "a pinned request never probes")
    }

    @Test("Alone, a due probe is taken at once; in a batch bound by arithmetic it waits until its request has idled long enough to pay for it (on calibrated costs)")
    func probesWaitForTheirBudget() {
        // Alone and bound by memory: the probe's row is free and its likely token is worth more than its draft passes.
        var alone = costs(floor: 0.020, fixed: 0.004, perRow: 0.002, draftPass: 0.001)
        alone.coversBatches = true
        let single = [candidate(acceptance: 0.3, maxK: 3, minK: 1)]
        #expect(SpeculationPlanner.affordableProbes(single, due: [true], idleSeconds: [0], costs: alone) == [true])

        // Eight rows cost 24 ms (3 ms a token), a ninth 1.5 ms, the draft pass 0.5 ms: the probe
        // costs 2 ms and is worth 0.3 × 3 ms, a net 1.1 ms, affordable after 55 ms at 2%.
        var busy = costs(floor: 0.020, fixed: 0.012, perRow: 0.0015, draftPass: 0.0005)
        busy.coversBatches = true
        let batch = [candidate(acceptance: 0.3, maxK: 3, minK: 1)] + (0..<7).map { _ in candidate(acceptance: 0.3, maxK: 3) }
        let due = [true] + Array(repeating: false, count: 7)
        let early = SpeculationPlanner.affordableProbes(batch, due: due, idleSeconds: [0.05] + Array(repeating: 0, count: 7),
                                                        costs: busy)
        #expect(early == Array(repeating: false, count: 8))
        let later = SpeculationPlanner.affordableProbes(batch, due: due, idleSeconds: [0.09] + Array(repeating: 0, count: 7),
                                                        costs: busy)
        #expect(later == due)
        busy.coversBatches = false
        #expect(SpeculationPlanner.affordableProbes(batch, due: due, idleSeconds: Array(repeating: 0, count: 8),
                                                    costs: busy) == due,
                "on costs learnt only from the passes run, probes are what corrects them")
    }
}
