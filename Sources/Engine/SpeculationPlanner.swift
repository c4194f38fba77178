/// Chooses every running request's draft length for the next step at once, for the most
/// tokens per second of the whole batch.
///
/// What a draft token costs depends on the batch. One request alone is bound by memory: the
/// verifier streams its weights once whether it checks one row or four, so drafting is nearly
/// free and k should be high. Eight requests already keep the arithmetic units busy, so each
/// extra row adds its share of a pass, and only requests whose drafts are likely to be accepted
/// should propose. Judging each request on its own against a per-request cost, as a first
/// version did, let a probe of one row in a batch of eight look cheap and sent whole batches to
/// k = 3 at half the speed of plain decoding.
///
/// The step's time is the verifier pass over every request's last token and drafts, plus the
/// draft's context pass over the rows of the proposing requests, plus one chain pass per further
/// draft depth; each is read off a measured `CostCurve`. Starting from every request's minimum
/// (0, a probe, or a pinned k), the planner repeatedly makes the single change of one request's
/// k that raises expected tokens per second the most, and stops when none raises it by at least
/// `margin`.
public enum SpeculationPlanner {
    public struct Candidate: Sendable {
        /// Expected tokens emitted for k = 0...maxK (`expected[0]` is 1).
        public var expected: [Double]
        public var minK: Int
        /// Rows the draft's context pass needs if this request proposes (its queued features).
        public var contextRows: Int

        public init(expected: [Double], minK: Int, contextRows: Int) {
            self.expected = expected
            self.minK = min(max(0, minK), max(0, expected.count - 1))
            self.contextRows = contextRows
        }

        var maxK: Int { expected.count - 1 }

        /// Refills this candidate in place, as `init` would make it with `expected` = `value(k)`
        /// for k = 0...maxK (the engine refills last step's candidates, keeping their storage).
        public mutating func refill(maxK: Int, minK: Int, contextRows: Int, _ value: (Int) -> Double) {
            expected.removeAll(keepingCapacity: true)
            for k in 0...max(0, maxK) { expected.append(value(k)) }
            self.minK = min(max(0, minK), max(0, expected.count - 1))
            self.contextRows = contextRows
        }
    }

    /// Relative gain a change must bring to be taken (noise in the measured costs).
    static let margin = 0.02

    /// Integer arrays the planner's working states borrow and give back, so that planning a
    /// step allocates nothing once they have grown to the batch. The engine keeps one and hands
    /// back the k list `plan` returns when it is done with it (`recycle`); without a workspace,
    /// every state allocates its own. Used by one thread at a time (the engine's loop).
    public final class Workspace: @unchecked Sendable {
        private var spare: [[Int]] = []

        public init() {}

        /// `count` zeros, in a spare array's storage when there is one.
        fileprivate func take(count: Int) -> [Int] {
            var array = spare.popLast() ?? []
            array.removeAll(keepingCapacity: true)
            array.append(contentsOf: repeatElement(0, count: count))
            return array
        }

        /// Keeps `array`'s storage for a later state. Give back only an array nothing else
        /// will write: one still shared is copied on its next write, which is correct but
        /// allocates.
        public func recycle(_ array: [Int]) {
            if spare.count < 16 { spare.append(array) }
        }
    }

    /// The k for each candidate. `fixedContextRows` are draft context rows that run anyway
    /// (prompts being prefilled, features piled up while speculation was off).
    public static func plan(_ candidates: [Candidate], costs: SpeculationCosts, fixedContextRows: Int = 0,
                            workspace: Workspace? = nil) -> [Int] {
        var state = State(candidates: candidates, fixedContextRows: fixedContextRows, workspace: workspace)
        defer { workspace?.recycle(state.depth) }
        guard costs.isCalibrated, candidates.contains(where: { $0.maxK > $0.minK }) else { return state.k }
        // Which requests the "one more draft each" trial raised (1) or not (0).
        var raised = workspace?.take(count: candidates.count) ?? Array(repeating: 0, count: candidates.count)
        defer { workspace?.recycle(raised) }
        var rate = state.rate(costs)
        while true {
            var best: (index: Int, k: Int, rate: Double)?
            for (index, candidate) in candidates.enumerated() where state.k[index] < candidate.maxK {
                let current = state.k[index]
                for k in (current + 1)...candidate.maxK {
                    state.set(index, to: k)
                    let trial = state.rate(costs)
                    state.set(index, to: current)
                    if trial > rate * (1 + margin), trial > best?.rate ?? 0 { best = (index, k, trial) }
                }
            }
            // Also one more draft for every request that can take one. The first drafting request
            // pays the draft's whole context pass, so one at a time can look below the margin
            // while all together clearly pay (four requests, k = 1: +2% for the first, +12% for all).
            var raisedCount = 0
            for (index, candidate) in candidates.enumerated() {
                raised[index] = state.k[index] < candidate.maxK ? 1 : 0
                guard raised[index] == 1 else { continue }
                state.set(index, to: state.k[index] + 1)
                raisedCount += 1
            }
            let together = state.rate(costs)
            if raisedCount > 0, together > rate * (1 + margin), together > best?.rate ?? 0 {
                rate = together
                continue
            }
            for index in candidates.indices where raised[index] == 1 { state.set(index, to: state.k[index] - 1) }
            guard let best else { return state.k }
            state.set(best.index, to: best.k)
            rate = best.rate
        }
    }

    /// Expected tokens per second of the step with draft lengths `ks` (one per candidate, each
    /// within its limits), on the same cost model the planner maximises.
    public static func expectedRate(_ ks: [Int], candidates: [Candidate], costs: SpeculationCosts,
                                    fixedContextRows: Int = 0, workspace: Workspace? = nil) -> Double {
        let state = State(candidates: candidates, fixedContextRows: fixedContextRows, ks: ks, workspace: workspace)
        defer { state.recycle(into: workspace) }
        return state.rate(costs)
    }

    /// Expected seconds of the step with draft lengths `ks`: its draft passes and the verifier
    /// pass that checks them, on the same cost model (zeros before any pass has been measured).
    public static func expectedSeconds(_ ks: [Int], candidates: [Candidate], costs: SpeculationCosts,
                                       fixedContextRows: Int = 0, workspace: Workspace? = nil)
        -> (draft: Double, verify: Double) {
        let state = State(candidates: candidates, fixedContextRows: fixedContextRows, ks: ks, workspace: workspace)
        defer { state.recycle(into: workspace) }
        return state.seconds(costs)
    }

    /// One draft for every request that may draft, in place of `plan`, when nobody chose to
    /// draft in `plan` and that is predicted to lose less than `tolerance` of its rate; else nil.
    ///
    /// The planner only learns the cost of passes it runs. A cost measured once at calibration,
    /// while a neighbour on the machine was busy, can make every request drafting one token
    /// look a little too dear; the planner then never runs that pass and never learns better
    /// (four requests stayed at plain decoding at 1.07x where k = 1 gave 1.17x). The engine
    /// takes this plan now and then (`SpeculativeEngine.costCheckInterval`) to measure it. The
    /// tolerance is 10%: at 15%, a batch of eight with the weak reference draft, predicted 12%
    /// slower with one draft each and measured 15% slower (k = 1: 0.85x), was checked for nothing.
    public static func costCheck(_ plan: [Int], candidates: [Candidate], costs: SpeculationCosts,
                                 fixedContextRows: Int = 0, tolerance: Double = 0.10) -> [Int]? {
        guard candidates.count >= 2, plan.count == candidates.count,
              !zip(candidates, plan).contains(where: { candidate, k in k > candidate.minK }) else { return nil }
        let uniform = candidates.map { $0.maxK >= 1 ? max($0.minK, 1) : $0.minK }
        guard uniform != plan else { return nil }
        let chosen = expectedRate(plan, candidates: candidates, costs: costs, fixedContextRows: fixedContextRows)
        let trial = expectedRate(uniform, candidates: candidates, costs: costs, fixedContextRows: fixedContextRows)
        return trial >= (1 - tolerance) * chosen ? uniform : nil
    }

    /// The confidence gate's best threshold for the requests marked in `gated` that are at k = 0
    /// in `ks` and may draft, or nil when gating them does not beat `ks` as it is by `margin`.
    ///
    /// Gated, each of those requests drafts one token (the draft's context pass over its queued
    /// rows), and its draft is verified only when its calibrated acceptance reaches the threshold
    /// (`ConfidenceCalibration.gated`); the prompts being prefilled then feed their drafts too
    /// (`gatedFixedContextRows` instead of `fixedContextRows`). Every threshold the calibration
    /// tells apart is tried. Returns the threshold, the requests it gates, its expected rate and
    /// the seconds of its draft and verifier passes.
    public static func gate(_ ks: [Int], gated: [Bool], candidates: [Candidate], calibration: ConfidenceCalibration,
                            costs: SpeculationCosts, fixedContextRows: Int = 0, gatedFixedContextRows: Int = 0,
                            workspace: Workspace? = nil)
        -> (threshold: Double, requests: [Int], rate: Double, seconds: (draft: Double, verify: Double))? {
        guard costs.isCalibrated, ks.count == candidates.count, gated.count == candidates.count else { return nil }
        var gatedCount = 0, gatedContextRows = 0
        for index in candidates.indices where gated[index] && ks[index] == 0 && candidates[index].maxK >= 1 {
            gatedCount += 1
            gatedContextRows += candidates[index].contextRows
        }
        guard gatedCount > 0 else { return nil }
        let base = expectedRate(ks, candidates: candidates, costs: costs, fixedContextRows: fixedContextRows,
                                workspace: workspace)
        var ungated = State(candidates: candidates, fixedContextRows: gatedFixedContextRows, ks: ks, workspace: workspace)
        defer { ungated.recycle(into: workspace) }
        ungated.contextRows += gatedContextRows
        var best: (threshold: Double, rate: Double, seconds: (draft: Double, verify: Double))?
        calibration.forEachThreshold { threshold in
            let perRequest = calibration.gated(threshold: threshold)
            var state = ungated
            state.tokens += Double(gatedCount) * perRequest.tokens
            state.expectedExtraRows += Double(gatedCount) * perRequest.rows
            let rate = state.rate(costs)
            if rate > best?.rate ?? 0 { best = (threshold, rate, state.seconds(costs)) }
        }
        guard let best, best.rate > base * (1 + margin) else { return nil }
        let requests = candidates.indices.filter { gated[$0] && ks[$0] == 0 && candidates[$0].maxK >= 1 }
        return (best.threshold, requests, best.rate, best.seconds)
    }

    /// Which of the due probes (`candidates[i].minK == 1` where `due[i]`) to force this step.
    ///
    /// A probe is there to notice a request whose text turned predictable, and it costs a draft
    /// context pass over the rows queued since the last one and a verifier row. Alone on the
    /// machine, with a draft accepted about half the time, that is cheaper than the token it is
    /// likely to win, and a probe is taken as soon as it is due (with the weak reference draft,
    /// accepted 27% of the time, probes wait there too). In a batch of eight bound by arithmetic (SmolLM2 on two cores) it costs
    /// 3-7 ms against a step of 26 ms shared by eight requests and wins about 1.6 ms; probes
    /// every 16-64 steps cost such a batch a few percent. So a probe's predicted net cost (its extra seconds minus its expected tokens at
    /// the step's seconds per token) must be at most `budget` of the time the request has spent
    /// at plain decoding since its last probe (`idleSeconds`, its share of each step); until
    /// then it waits. Only on curves measured over every batch size (`coversBatches`): learnt
    /// from the passes run so far, the draft's cost may rest on one slow pass (a prompt's, on a
    /// busy machine), and probes are what would correct it.
    public static func affordableProbes(_ candidates: [Candidate], due: [Bool], idleSeconds: [Double],
                                        costs: SpeculationCosts, fixedContextRows: Int = 0,
                                        budget: Double = AdaptiveSpeculation.probeBudget) -> [Bool] {
        guard costs.coversBatches, !candidates.isEmpty else { return due }
        var relaxed = candidates
        for index in relaxed.indices where due[index] { relaxed[index].minK = 0 }
        let base = relaxed.map(\.minK)
        let baseParts = expectedSeconds(base, candidates: relaxed, costs: costs, fixedContextRows: fixedContextRows)
        let baseSeconds = baseParts.draft + baseParts.verify
        let baseTokens = zip(relaxed, base).reduce(0.0) { $0 + $1.0.expected[$1.1] }
        guard baseSeconds > 0, baseTokens > 0 else { return due }
        let secondsPerToken = baseSeconds / baseTokens
        return candidates.indices.map { index in
            guard due[index], relaxed[index].maxK >= 1 else { return due[index] }
            var trial = base
            trial[index] = 1
            let parts = expectedSeconds(trial, candidates: relaxed, costs: costs, fixedContextRows: fixedContextRows)
            let gain = (relaxed[index].expected[1] - relaxed[index].expected[0]) * secondsPerToken
            let net = parts.draft + parts.verify - baseSeconds - gain
            return net <= budget * idleSeconds[index]
        }
    }

    /// Running totals of a choice of ks, updated per change in O(max k).
    private struct State {
        let candidates: [Candidate]
        var k: [Int]
        var tokens = 0.0
        var verifyRows = 0
        /// Verifier rows expected on top of `verifyRows` (gated drafts, verified or not).
        var expectedExtraRows = 0.0
        var contextRows: Int
        /// `depth[j]`: requests proposing more than `j` drafts (chain pass `j` serves those with j ≥ 1).
        var depth: [Int]

        init(candidates: [Candidate], fixedContextRows: Int, workspace: Workspace? = nil) {
            self.candidates = candidates
            let depthCount = candidates.reduce(0) { max($0, $1.maxK) } + 1
            k = workspace?.take(count: candidates.count) ?? Array(repeating: 0, count: candidates.count)
            depth = workspace?.take(count: depthCount) ?? Array(repeating: 0, count: depthCount)
            contextRows = fixedContextRows
            verifyRows = candidates.count
            tokens = Double(candidates.count)
            for (index, candidate) in candidates.enumerated() where candidate.minK > 0 { set(index, to: candidate.minK) }
        }

        /// With draft lengths `ks` (one per candidate, clamped to its limits).
        init(candidates: [Candidate], fixedContextRows: Int, ks: [Int], workspace: Workspace? = nil) {
            self.init(candidates: candidates, fixedContextRows: fixedContextRows, workspace: workspace)
            for (index, k) in ks.enumerated() where index < candidates.count {
                set(index, to: min(max(k, candidates[index].minK), candidates[index].maxK))
            }
        }

        /// Gives the state's arrays back to `workspace` (the state is not used after).
        func recycle(into workspace: Workspace?) {
            workspace?.recycle(k)
            workspace?.recycle(depth)
        }

        mutating func set(_ index: Int, to newK: Int) {
            let old = k[index]
            guard old != newK else { return }
            let candidate = candidates[index]
            tokens += candidate.expected[newK] - candidate.expected[old]
            verifyRows += newK - old
            if old == 0 { contextRows += candidate.contextRows }
            if newK == 0 { contextRows -= candidate.contextRows }
            if newK > old {
                for j in old..<newK { depth[j] += 1 }
            } else {
                for j in newK..<old { depth[j] -= 1 }
            }
            k[index] = newK
        }

        /// Expected tokens per second of the step.
        func rate(_ costs: SpeculationCosts) -> Double {
            let parts = seconds(costs)
            let time = parts.draft + parts.verify
            return time > 0 ? tokens / time : 0
        }

        /// Expected seconds of the step's draft passes and of its verifier pass.
        func seconds(_ costs: SpeculationCosts) -> (draft: Double, verify: Double) {
            let verify = (expectedExtraRows > 0 ? costs.verify.estimate(expectedRows: Double(verifyRows) + expectedExtraRows)
                                                : costs.verify.estimate(rows: verifyRows)) ?? 0
            // Without a measured draft pass, assume one costs a tenth of a verifier row's pass.
            let fallback = (costs.verify.estimate(rows: 1) ?? 0) / 10
            var draft = 0.0
            if contextRows > 0 { draft += costs.draftContext.estimate(rows: contextRows) ?? fallback }
            for j in depth.indices.dropFirst() where depth[j] > 0 {
                draft += costs.draftChain.estimate(rows: depth[j]) ?? fallback
            }
            return (draft, verify)
        }
    }
}
