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

        for sequence in sequences where !sequence.isFinished {
            guard let verifierCache = sequence.verifierCache, let draftCache = sequence.draftCache else { continue }
            var k = 0
            if !sequence.isPrefilling {
                k = sequence.controller.choose(cost: costs)
                let remaining = sequence.request.maxTokens - sequence.output.count
                let room = min(verifierCache.capacity, configuration.maxModelLength) - verifierCache.length - 1
                k = max(0, min(k, remaining - 1, room, configuration.maxSpeculativeTokens))
            }
            let pending = sequence.pendingTokens.count
            // Catch the draft up when it will propose, during prefill (the draft's own prefill),
            // or when features have piled up while speculation was off.
            guard pending > 0, k > 0 || sequence.isPrefilling || pending >= 64 else { continue }
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
        // A context pass over a few rows per sequence costs what a chain step does; one over a
        // whole prompt chunk says nothing about the cost of drafting, so it is not counted.
        if contextRequests.allSatisfy({ $0.tokens.count <= 4 }) {
            costs.observeDraft(seconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
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
        for (slot, entry) in proposing.enumerated() { entry.sequence.drafts = [lastTokens[slot]] }
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
            costs.observeDraft(seconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            chainScratch.removeAll(keepingCapacity: true)
            chainScratch.append(contentsOf: UnsafeBufferPointer(start: result.nextHidden, count: going.count * hidden))
            lastTokens = result.proposedTokens
            for (slot, entry) in going.enumerated() { proposing[entry.element].sequence.drafts.append(lastTokens[slot]) }
            active = going.map(\.element)
            step += 1
        }
    }
}
