import Foundation
import Models
import Tensors

/// A sequence that proposes drafts this step, its draft cache and how many.
struct ProposingSequence {
    let sequence: SequenceState
    let cache: KVCache
    let k: Int
}

/// One of the engine's step buffers, moved out of `storage` and emptied (keeping its capacity)
/// for a step to fill: while it is out, appending to it never finds its storage shared and
/// copies it. `returnEmptied` puts it back.
func borrowEmptied<T>(_ storage: inout [T]) -> [T] {
    var buffer: [T] = []
    swap(&buffer, &storage)
    buffer.removeAll(keepingCapacity: true)
    return buffer
}

/// Empties `buffer`, keeping its capacity, and puts it back into `storage`; what it held (the
/// sequences' arrays, among others) is let go before the next step edits it.
func returnEmptied<T>(_ buffer: inout [T], to storage: inout [T]) {
    buffer.removeAll(keepingCapacity: true)
    swap(&buffer, &storage)
}

extension SpeculativeEngine {
    /// Chooses each sequence's k, runs one batched draft context pass over the verifier features
    /// queued since the last one, then `k - 1` batched chain steps. The proposals become the
    /// drafts the next step verifies.
    func proposeDrafts() throws {
        guard let draft else { return }
        var requests = borrowEmptied(&draftRequests), proposing = borrowEmptied(&proposingSequences)
        defer {
            returnEmptied(&requests, to: &draftRequests)
            returnEmptied(&proposing, to: &proposingSequences)
        }
        hiddenScratch.removeAll(keepingCapacity: true)

        let plan = planDraftLengths()
        for (sequence, k) in plan {
            sequence.draftContextRows = 0
            guard let draftCache = sequence.draftCache else { continue }
            let pending = sequence.pendingTokens.count
            // Catch the draft up when it will propose, or during prefill (the draft's own prefill,
            // unless drafting is dormant and the request may never need it).
            let prefillsDraft = sequence.isPrefilling && (!draftingDormant || sequence.controller.pinned != nil)
            guard pending > 0, k > 0 || prefillsDraft else { continue }
            draftCache.truncate(to: sequence.draftSynced)
            requests.append(Eagle3DraftModel.Request(cache: draftCache, tokens: sequence.pendingTokens,
                                                            logits: k > 0 ? .last : .none))
            sequence.draftContextRows = pending
            hiddenScratch.append(contentsOf: sequence.pendingFeatures)
            if k > 0 { proposing.append(ProposingSequence(sequence: sequence, cache: draftCache, k: k)) }
        }
        guard !requests.isEmpty else { return }
        var contextRows = 0
        for request in requests { contextRows += request.tokens.count }

        let contextSeconds: Double
        do {
            // The requests hold the sequences' pending tokens, and the output the draft's own
            // arrays: both are let go at the end of this block, before they are written again.
            defer { requests.removeAll(keepingCapacity: true) }
            let context: Eagle3DraftModel.Output
            (context, contextSeconds) = try draftPass(draft, requests, inputs: hiddenScratch) { .verifierFeatures($0) }
            proposeFirst(from: context, proposing: proposing, hidden: draft.hiddenSize)
        }
        costs.draftContext.observe(rows: contextRows, seconds: contextSeconds)
        pendingPrediction?.draftSeconds += contextSeconds
        for (sequence, _) in plan where sequence.draftContextRows > 0 {
            sequence.draftSynced += sequence.draftContextRows
            sequence.draftContextRows = 0
            sequence.pendingTokens.removeAll(keepingCapacity: true)
            sequence.pendingFeatures.removeAll(keepingCapacity: true)
        }
        guard !proposing.isEmpty else { return }

        let hidden = draft.hiddenSize
        let deepest = proposing.reduce(1) { max($0, $1.k) }
        // Chain step s runs the proposing sequences with k >= s, in `proposing` order. Those that
        // ran step s - 1 are the ones holding s - 1 drafts, and row r of `chainScratch` is the
        // r-th of them; each feeds its newest draft.
        var step = 2
        while step <= deepest {
            requests.removeAll(keepingCapacity: true)
            chainInputScratch.removeAll(keepingCapacity: true)
            var row = 0
            for entry in proposing where entry.sequence.drafts.count == step - 1 {
                if entry.k >= step {
                    chainInputScratch.append(contentsOf: chainScratch[(row * hidden)..<((row + 1) * hidden)])
                    entry.sequence.chainToken.removeAll(keepingCapacity: true)
                    entry.sequence.chainToken.append(entry.sequence.drafts[step - 2])
                    requests.append(Eagle3DraftModel.Request(cache: entry.cache, tokens: entry.sequence.chainToken,
                                                                    logits: .last))
                }
                row += 1
            }
            if requests.isEmpty { break }
            let going = requests.count
            let chainSeconds: Double
            do {
                defer { requests.removeAll(keepingCapacity: true) }
                let result: Eagle3DraftModel.Output
                (result, chainSeconds) = try draftPass(draft, requests, inputs: chainInputScratch) { .draftHidden($0) }
                chainScratch.removeAll(keepingCapacity: true)
                chainScratch.append(contentsOf: UnsafeBufferPointer(start: result.nextHidden, count: going * hidden))
                var slot = 0
                for entry in proposing where entry.sequence.drafts.count == step - 1 && entry.k >= step {
                    entry.sequence.drafts.append(result.proposedTokens[slot])
                    entry.sequence.draftConfidences.append(result.confidences[slot])
                    slot += 1
                }
            }
            costs.draftChain.observe(rows: going, seconds: chainSeconds)
            pendingPrediction?.draftSeconds += chainSeconds
            step += 1
        }
        for entry in proposing { gateDrafts(entry.sequence) }
    }

    /// One draft pass over `requests`, their hidden inputs read from `inputs`, and its seconds.
    private func draftPass(_ draft: Eagle3DraftModel, _ requests: [Eagle3DraftModel.Request], inputs: [Float],
                           _ hidden: (UnsafePointer<Float>) -> Eagle3DraftModel.HiddenInput) throws
        -> (Eagle3DraftModel.Output, seconds: Double) {
        let start = DispatchTime.now().uptimeNanoseconds
        let output = try inputs.withUnsafeBufferPointer { buffer -> Eagle3DraftModel.Output in
            guard let base = buffer.baseAddress else { throw SpeculativeEngine.EngineError.emptyPrompt }
            return try draft.forward(requests, hidden: hidden(base), pool: pool)
        }
        return (output, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }

    /// The first proposals, from the context pass (its rows selected in `proposing` order): each
    /// proposing sequence's first draft, and the hidden states its chain goes on from. The
    /// context's output is let go on return, before a chain pass writes the draft's buffers.
    private func proposeFirst(from context: Eagle3DraftModel.Output, proposing: [ProposingSequence], hidden: Int) {
        guard !proposing.isEmpty else { return }
        chainScratch.removeAll(keepingCapacity: true)
        chainScratch.append(contentsOf: UnsafeBufferPointer(start: context.nextHidden, count: proposing.count * hidden))
        for (slot, entry) in proposing.enumerated() {
            let sequence = entry.sequence
            sequence.drafts.removeAll(keepingCapacity: true)
            sequence.draftConfidences.removeAll(keepingCapacity: true)
            sequence.drafts.append(context.proposedTokens[slot])
            sequence.draftConfidences.append(context.confidences[slot])
            confidence.noteFirstProposal(confidence: context.confidences[slot])
        }
    }

    /// Drops the gated drafts whose calibrated acceptance is below their step's threshold
    /// (`SpeculationPlanner.gate`): they will not be verified, and the request emits one token.
    func gateDrafts(_ sequence: SequenceState) {
        guard let threshold = sequence.gateThreshold else { return }
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
        // The engine's lists, emptied and refilled (each candidate's `expected` in place), so
        // that planning a step allocates nothing once they have grown to the batch.
        draftPlan.removeAll(keepingCapacity: true)
        plannedSequences.removeAll(keepingCapacity: true)
        prefillingSequences.removeAll(keepingCapacity: true)
        var count = 0
        for sequence in sequences where !sequence.isFinished {
            guard let verifierCache = sequence.verifierCache, sequence.draftCache != nil else { continue }
            if sequence.isPrefilling {
                prefillingSequences.append(sequence)
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
            if count == plannerCandidates.count {
                plannerCandidates.append(SpeculationPlanner.Candidate(expected: [], minK: 0, contextRows: 0))
                optimisticCandidates.append(SpeculationPlanner.Candidate(expected: [], minK: 0, contextRows: 0))
            }
            plannerCandidates[count].refill(maxK: maxK, minK: pinned ?? min(controller.minimumNext, maxK),
                                            contextRows: contextRows) { controller.expectedTokens(k: $0) }
            optimisticCandidates[count].refill(maxK: maxK, minK: pinned ?? 0, contextRows: contextRows) { k in
                (0...k).reduce(0) { total, i in total + pow(0.8, Double(i)) }
            }
            plannedSequences.append(sequence)
            count += 1
        }
        plannerCandidates.removeLast(plannerCandidates.count - count)
        optimisticCandidates.removeLast(optimisticCandidates.count - count)
        let planned = plannedSequences
        // Only on measured curves: extrapolated from plain steps alone, every draft looks dear.
        var ungatedDormant = false
        if costs.coversBatches, count > 0 {
            let optimistic = SpeculationPlanner.plan(optimisticCandidates, costs: costs, workspace: plannerWorkspace)
            ungatedDormant = zip(optimistic, planned).allSatisfy { k, sequence in k == 0 || sequence.controller.pinned != nil }
            plannerWorkspace.recycle(optimistic)
        }
        // Draft context rows of the prompts being prefilled: all of them while drafting is
        // active, only the pinned requests' while it is dormant.
        var activePrefillRows = 0, pinnedPrefillRows = 0
        for sequence in prefillingSequences {
            activePrefillRows += sequence.pendingTokens.count
            if sequence.controller.pinned != nil { pinnedPrefillRows += sequence.pendingTokens.count }
        }
        var fixedContextRows = ungatedDormant ? pinnedPrefillRows : activePrefillRows
        if ungatedDormant {
            for (index, sequence) in planned.enumerated() where sequence.controller.pinned == nil {
                plannerCandidates[index].minK = 0
            }
        } else if planned.indices.contains(where: { planned[$0].controller.probeDue && plannerCandidates[$0].minK == 1 }) {
            // A due probe waits while it would cost more than its budget (`affordableProbes`).
            let due = planned.indices.map { planned[$0].controller.probeDue && plannerCandidates[$0].minK == 1 }
            let affordable = SpeculationPlanner.affordableProbes(
                plannerCandidates, due: due, idleSeconds: planned.map(\.controller.idleSeconds), costs: costs,
                fixedContextRows: fixedContextRows)
            for index in planned.indices where due[index] && !affordable[index] {
                plannerCandidates[index].minK = 0
                probesPostponed += 1
            }
        }
        var ks = SpeculationPlanner.plan(plannerCandidates, costs: costs, fixedContextRows: fixedContextRows,
                                         workspace: plannerWorkspace)
        defer { plannerWorkspace.recycle(ks) }
        // Now and then, measure the pass of one draft each if the planner stopped running it
        // while it is nearly as good (`SpeculationPlanner.costCheck`); it costs a fraction of a
        // percent and corrects a stale cost at once (`CostCurve` weighs early passes heavily).
        stepsSinceCostCheck += 1
        if !ungatedDormant, stepsSinceCostCheck >= SpeculativeEngine.costCheckInterval,
           let check = SpeculationPlanner.costCheck(ks, candidates: plannerCandidates, costs: costs,
                                                    fixedContextRows: fixedContextRows) {
            ks = check
            stepsSinceCostCheck = 0
            costChecks += 1
        }
        var predicted = SpeculationPlanner.expectedSeconds(ks, candidates: plannerCandidates, costs: costs,
                                                           fixedContextRows: fixedContextRows, workspace: plannerWorkspace)
        // The requests left at plain decoding may still draft one token each and have only the
        // sure drafts verified (`ConfidenceCalibration`), when that is predicted to pay.
        var gateThreshold: Double?
        for sequence in planned { sequence.gateThreshold = nil }
        if configuration.confidenceGate {
            gatedRequests.removeAll(keepingCapacity: true)
            // A gated request's draft restarts from its newest rows (`gateRestartRows`) rather
            // than catching up on everything queued while it idled. (The candidates are not
            // used after this, so they are changed in place.)
            for index in planned.indices {
                let gated = planned[index].controller.pinned == nil
                gatedRequests.append(gated)
                if gated, ks[index] == 0 {
                    plannerCandidates[index].contextRows = min(plannerCandidates[index].contextRows,
                                                               SpeculativeEngine.gateRestartRows)
                }
            }
            if let choice = SpeculationPlanner.gate(ks, gated: gatedRequests, candidates: plannerCandidates,
                                                    calibration: confidence, costs: costs,
                                                    fixedContextRows: fixedContextRows,
                                                    gatedFixedContextRows: activePrefillRows, workspace: plannerWorkspace) {
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
        for sequence in prefillingSequences {
            if draftingDormant && sequence.controller.pinned == nil,
               sequence.pendingTokens.count >= configuration.draftRestartRows {
                restartDraft(sequence)
            }
            sequence.gateThreshold = nil
            draftPlan.append((sequence, 0))
        }
        pendingPrediction = PendingPrediction(predictedDraftSeconds: predicted.draft, predictedVerifySeconds: predicted.verify,
                                              drafting: ks.contains { $0 > 0 })
        let share = (predicted.draft + predicted.verify) / Double(max(planned.count, 1))
        for (sequence, k) in zip(planned, ks) {
            // A gated request's prediction is made when its draft passes the gate or not (`gateDrafts`).
            if sequence.gateThreshold == nil { sequence.predictedTokens = sequence.controller.expectedTokens(k: k) }
            if !draftingDormant { sequence.controller.planned(k, share: share) }
            if k == 0, sequence.pendingTokens.count >= configuration.draftRestartRows { restartDraft(sequence) }
            draftPlan.append((sequence, k))
        }
        return draftPlan
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
