import Foundation
import Models
import Tensors

extension SpeculativeEngine {
    /// Chooses each sequence's k, runs one batched draft context pass over the verifier features
    /// queued since the last one, then `k - 1` batched chain steps. The proposals become the
    /// drafts the next step verifies.
    func proposeDrafts() throws {
        guard let draft else { return }
        var contextRequests: [Eagle3DraftModel.Request] = []
        var contextSequences: [SequenceState] = []
        var proposing: [(sequence: SequenceState, cache: KVCache, k: Int)] = []
        hiddenScratch.removeAll(keepingCapacity: true)

        let plan = planDraftLengths()
        for (sequence, k) in plan {
            guard let draftCache = sequence.draftCache else { continue }
            let pending = sequence.pendingTokens.count
            // Catch the draft up when it will propose, or during prefill (the draft's own prefill,
            // unless drafting is dormant and the request may never need it).
            let prefillsDraft = sequence.isPrefilling && (!draftingDormant || sequence.controller.pinned != nil)
            guard pending > 0, k > 0 || prefillsDraft else { continue }
            draftCache.truncate(to: sequence.draftSynced)
            contextRequests.append(Eagle3DraftModel.Request(cache: draftCache, tokens: sequence.pendingTokens,
                                                            logits: k > 0 ? .last : .none))
            contextSequences.append(sequence)
            hiddenScratch.append(contentsOf: sequence.pendingFeatures)
            if k > 0 { proposing.append((sequence, draftCache, k)) }
        }
        guard !contextRequests.isEmpty else { return }

        var start = DispatchTime.now().uptimeNanoseconds
        let context = try hiddenScratch.withUnsafeBufferPointer { features -> Eagle3DraftModel.Output in
            guard let base = features.baseAddress else { throw SpeculativeEngine.EngineError.emptyPrompt }
            return try draft.forward(contextRequests, hidden: .verifierFeatures(base), pool: pool)
        }
        let contextSeconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        costs.draftContext.observe(rows: contextRequests.reduce(0) { $0 + $1.tokens.count }, seconds: contextSeconds)
        pendingPrediction?.draftSeconds += contextSeconds
        for sequence in contextSequences {
            sequence.draftSynced += sequence.pendingTokens.count
            sequence.pendingTokens.removeAll(keepingCapacity: true)
            sequence.pendingFeatures.removeAll(keepingCapacity: true)
        }
        guard !proposing.isEmpty else { return }

        // First proposals come from the context pass (rows selected in `proposing` order).
        let hidden = draft.hiddenSize
        chainScratch.removeAll(keepingCapacity: true)
        chainScratch.append(contentsOf: UnsafeBufferPointer(start: context.nextHidden, count: proposing.count * hidden))
        var lastTokens = context.proposedTokens
        for (slot, entry) in proposing.enumerated() {
            entry.sequence.drafts = [lastTokens[slot]]
            entry.sequence.draftConfidences = [context.confidences[slot]]
            confidence.noteFirstProposal(confidence: context.confidences[slot])
        }
        // Row r of `chainScratch` / `lastTokens` belongs to `proposing[active[r]]`.
        var active = Array(proposing.indices)
        let deepest = proposing.map(\.k).max() ?? 1
        var step = 2
        while step <= deepest {
            let going = active.enumerated().filter { proposing[$0.element].k >= step }
            if going.isEmpty { break }
            chainInputScratch.removeAll(keepingCapacity: true)
            for (row, _) in going { chainInputScratch.append(contentsOf: chainScratch[(row * hidden)..<((row + 1) * hidden)]) }
            let requests = going.map { row, index in
                Eagle3DraftModel.Request(cache: proposing[index].cache, tokens: [lastTokens[row]], logits: .last)
            }
            start = DispatchTime.now().uptimeNanoseconds
            let result = try chainInputScratch.withUnsafeBufferPointer { buffer -> Eagle3DraftModel.Output in
                guard let base = buffer.baseAddress else { throw SpeculativeEngine.EngineError.emptyPrompt }
                return try draft.forward(requests, hidden: .draftHidden(base), pool: pool)
            }
            let chainSeconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            costs.draftChain.observe(rows: requests.count, seconds: chainSeconds)
            pendingPrediction?.draftSeconds += chainSeconds
            chainScratch.removeAll(keepingCapacity: true)
            chainScratch.append(contentsOf: UnsafeBufferPointer(start: result.nextHidden, count: going.count * hidden))
            lastTokens = result.proposedTokens
            for (slot, entry) in going.enumerated() {
                proposing[entry.element].sequence.drafts.append(lastTokens[slot])
                proposing[entry.element].sequence.draftConfidences.append(result.confidences[slot])
            }
            active = going.map(\.element)
            step += 1
        }
        gateDrafts(proposing.map(\.sequence))
    }

    /// Drops the gated drafts whose calibrated acceptance is below their step's threshold
    /// (`SpeculationPlanner.gate`): they will not be verified, and the request emits one token.
    func gateDrafts(_ sequences: [SequenceState]) {
        for sequence in sequences {
            guard let threshold = sequence.gateThreshold else { continue }
            sequence.draftsGated = true
            let acceptance = sequence.draftConfidences.first.map { confidence.acceptance(confidence: $0) } ?? 0
            if acceptance >= threshold, !sequence.drafts.isEmpty {
                sequence.drafts.removeSubrange(1...)
                sequence.draftConfidences.removeSubrange(1...)
                sequence.predictedTokens = 1 + acceptance
            } else {
                gatedDraftsDropped += sequence.drafts.isEmpty ? 0 : 1
                sequence.drafts.removeAll(keepingCapacity: true)
                sequence.draftConfidences.removeAll(keepingCapacity: true)
                sequence.predictedTokens = 1
            }
        }
    }

    /// Every running request's k for the next step: prompts still prefilling propose nothing;
    /// the others are planned together by `SpeculationPlanner` within their limits (tokens left,
    /// cache room, the configured maximum, a pinned k).
    ///
    /// When even drafts accepted 80% of the time would not pay at the current batch (eight
    /// SmolLM2 requests on two cores already keep the arithmetic units busy), drafting is
    /// dormant: no probes, and new prompts skip the draft's prefill. Their features are kept
    /// only for a window, from which the draft restarts once the batch shrinks. Otherwise that
    /// draft work (prompts and probes, about 7% of a batch of eight's time) buys nothing.
    ///
    /// The requests the planner leaves at plain decoding (all of them, at such a batch) may
    /// still be gated: each drafts one token, verified only if the draft is sure enough
    /// (`SpeculationPlanner.gate`). Drafting is then not dormant.
    func planDraftLengths() -> [(SequenceState, Int)] {
        var planned: [SequenceState] = []
        var candidates: [SpeculationPlanner.Candidate] = []
        var optimistic: [SpeculationPlanner.Candidate] = []
        var prefilling: [SequenceState] = []
        var result: [(SequenceState, Int)] = []
        for sequence in sequences where !sequence.isFinished {
            guard let verifierCache = sequence.verifierCache, sequence.draftCache != nil else { continue }
            if sequence.isPrefilling {
                prefilling.append(sequence)
                continue
            }
            let remaining = sequence.request.maxTokens - sequence.output.count
            let room = min(verifierCache.capacity, configuration.maxModelLength) - verifierCache.length - 1
            let maxK = max(0, min(sequence.controller.maximumNext, remaining - 1, room, configuration.maxSpeculativeTokens))
            let controller = sequence.controller
            let pinned = controller.pinned.map { min($0, maxK) }
            // A request that starts drafting first catches its draft up on every row queued
            // while it idled (at most `draftRestartRows`: `restartDraft` drops older ones), and
            // the step pays for all of them. Charged one or two rows, as a drafting request feeds,
            // under steady load at batch 8 the draft passes of drafting steps took 3-3.5 times
            // their predicted time (`PlannerAudit`) and the server ran 2-8% slower than plain.
            let contextRows = min(sequence.pendingTokens.count, configuration.draftRestartRows)
            candidates.append(SpeculationPlanner.Candidate(
                expected: (0...maxK).map { controller.expectedTokens(k: $0) },
                minK: pinned ?? min(controller.minimumNext, maxK), contextRows: contextRows))
            optimistic.append(SpeculationPlanner.Candidate(
                expected: (0...maxK).map { k in (0...k).reduce(0) { total, i in total + pow(0.8, Double(i)) } },
                minK: pinned ?? 0, contextRows: contextRows))
            planned.append(sequence)
        }
        // Only on measured curves: extrapolated from plain steps alone, every draft looks dear.
        let ungatedDormant = costs.coversBatches && !candidates.isEmpty
            && zip(SpeculationPlanner.plan(optimistic, costs: costs), planned)
                .allSatisfy { k, sequence in k == 0 || sequence.controller.pinned != nil }
        // Draft context rows of the prompts being prefilled: all of them while drafting is
        // active, only the pinned requests' while it is dormant.
        let activePrefillRows = prefilling.reduce(0) { $0 + $1.pendingTokens.count }
        let pinnedPrefillRows = prefilling.filter { $0.controller.pinned != nil }.reduce(0) { $0 + $1.pendingTokens.count }
        var fixedContextRows = ungatedDormant ? pinnedPrefillRows : activePrefillRows
        if ungatedDormant {
            for (index, sequence) in planned.enumerated() where sequence.controller.pinned == nil { candidates[index].minK = 0 }
        } else {
            // A due probe waits while it would cost more than its budget (`affordableProbes`).
            let due = planned.indices.map { planned[$0].controller.probeDue && candidates[$0].minK == 1 }
            if due.contains(true) {
                let affordable = SpeculationPlanner.affordableProbes(
                    candidates, due: due, idleSeconds: planned.map(\.controller.idleSeconds), costs: costs,
                    fixedContextRows: fixedContextRows)
                for index in planned.indices where due[index] && !affordable[index] {
                    candidates[index].minK = 0
                    probesPostponed += 1
                }
            }
        }
        var ks = SpeculationPlanner.plan(candidates, costs: costs, fixedContextRows: fixedContextRows)
        // Now and then, measure the pass of one draft each if the planner stopped running it
        // while it is nearly as good (`SpeculationPlanner.costCheck`); it costs a fraction of a
        // percent and corrects a stale cost at once (`CostCurve` weighs early passes heavily).
        stepsSinceCostCheck += 1
        if !ungatedDormant, stepsSinceCostCheck >= SpeculativeEngine.costCheckInterval,
           let check = SpeculationPlanner.costCheck(ks, candidates: candidates, costs: costs,
                                                    fixedContextRows: fixedContextRows) {
            ks = check
            stepsSinceCostCheck = 0
            costChecks += 1
        }
        var predicted = SpeculationPlanner.expectedSeconds(ks, candidates: candidates, costs: costs,
                                                           fixedContextRows: fixedContextRows)
        // The requests left at plain decoding may still draft one token each and have only the
        // sure drafts verified (`ConfidenceCalibration`), when that is predicted to pay.
        var gateThreshold: Double?
        for sequence in planned { sequence.gateThreshold = nil }
        if configuration.confidenceGate {
            let gated = planned.map { $0.controller.pinned == nil }
            // A gated request's draft restarts from its newest rows (`gateRestartRows`) rather
            // than catching up on everything queued while it idled.
            var gateCandidates = candidates
            for index in planned.indices where gated[index] && ks[index] == 0 {
                gateCandidates[index].contextRows = min(gateCandidates[index].contextRows, SpeculativeEngine.gateRestartRows)
            }
            if let choice = SpeculationPlanner.gate(ks, gated: gated, candidates: gateCandidates, calibration: confidence,
                                                    costs: costs, fixedContextRows: fixedContextRows,
                                                    gatedFixedContextRows: activePrefillRows) {
                gateThreshold = choice.threshold
                for index in choice.requests {
                    ks[index] = 1
                    planned[index].gateThreshold = choice.threshold
                    restartDraft(planned[index], keeping: SpeculativeEngine.gateRestartRows)
                }
                fixedContextRows = activePrefillRows
                predicted = choice.seconds
                gatedSteps += 1
            }
        }
        draftingDormant = ungatedDormant && gateThreshold == nil
        for sequence in prefilling {
            if draftingDormant && sequence.controller.pinned == nil,
               sequence.pendingTokens.count >= configuration.draftRestartRows {
                restartDraft(sequence)
            }
            sequence.gateThreshold = nil
            result.append((sequence, 0))
        }
        pendingPrediction = PendingPrediction(predictedDraftSeconds: predicted.draft, predictedVerifySeconds: predicted.verify,
                                              drafting: ks.contains { $0 > 0 })
        let share = (predicted.draft + predicted.verify) / Double(max(planned.count, 1))
        for (sequence, k) in zip(planned, ks) {
            // A gated request's prediction is made when its draft passes the gate or not (`gateDrafts`).
            if sequence.gateThreshold == nil { sequence.predictedTokens = sequence.controller.expectedTokens(k: k) }
            if !draftingDormant { sequence.controller.planned(k, share: share) }
            if k == 0, sequence.pendingTokens.count >= configuration.draftRestartRows { restartDraft(sequence) }
            result.append((sequence, k))
        }
        return result
    }

    /// Drops all but the newest half of `draftRestartRows` queued rows of a request that is not drafting, and
    /// empties its draft cache so the draft restarts from those rows at their true positions.
    ///
    /// Keeping the draft in step with every token would cost a draft pass over each of them, for
    /// requests that may never draft again, and queued features would grow without bound. The
    /// draft's proposals then see a shorter context; the output does not change, since every
    /// draft token is verified. (At batch 8 on SmolLM2, same-run comparisons with catching up
    /// every 64 rows instead were within the machine's noise: 0.953x vs 0.963x, 0.991x vs 0.924x.)
    ///
    /// A gated request keeps only `SpeculativeEngine.gateRestartRows` (`keeping`): its one draft
    /// is verified only if sure, so a short context costs little, while catching up on a long
    /// backlog made every gate predicted after a few plain steps too dear to open.
    func restartDraft(_ sequence: SequenceState, keeping: Int? = nil) {
        guard let draftCache = sequence.draftCache else { return }
        let drop = sequence.pendingTokens.count - (keeping ?? configuration.draftRestartRows / 2)
        guard drop > 0 else { return }
        let width = sequence.pendingFeatures.count / max(sequence.pendingTokens.count, 1)
        draftCache.positionOffset += sequence.draftSynced + drop
        draftCache.truncate(to: 0)
        sequence.draftSynced = 0
        sequence.pendingTokens.removeFirst(drop)
        sequence.pendingFeatures.removeFirst(drop * width)
        draftRestarts += 1
    }
}
