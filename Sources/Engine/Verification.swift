import Foundation
import Models
import Tensors

/// One sequence's part of a verifier pass.
struct VerificationItem {
    let sequence: SequenceState
    let cache: KVCache
    let tokens: [Int]
    /// A prefill chunk (`tokens` are prompt tokens) rather than last token + drafts.
    let isPrefill: Bool
    /// The chunk completes the prompt (its last row's logits give the first output token).
    let completesPrompt: Bool
}

extension SpeculativeEngine {
    /// Decoding sequences first (their last token and drafts), then prefill chunks while the
    /// token budget lasts; at least one chunk runs every step so prompts always progress.
    func planVerification() -> [VerificationItem] {
        // First, so that the items of the last step let go of the sequences' token arrays.
        verificationPlan.removeAll(keepingCapacity: true)
        var budget = configuration.maxBatchTokens
        for sequence in sequences where !sequence.isPrefilling {
            guard let cache = sequence.verifierCache else { continue }
            sequence.verifyTokens.removeAll(keepingCapacity: true)
            sequence.verifyTokens.append(sequence.lastToken)
            sequence.verifyTokens.append(contentsOf: sequence.drafts)
            verificationPlan.append(VerificationItem(sequence: sequence, cache: cache, tokens: sequence.verifyTokens,
                                                     isPrefill: false, completesPrompt: false))
            budget -= sequence.verifyTokens.count
        }
        var ranChunk = false
        for sequence in sequences where sequence.isPrefilling {
            guard let cache = sequence.verifierCache else { continue }
            let prompt = sequence.request.prompt
            let chunkEnd = min(prompt.count, (sequence.prefilled / configuration.prefillChunk + 1) * configuration.prefillChunk)
            let count = chunkEnd - sequence.prefilled
            if ranChunk && count > budget { break }
            verificationPlan.append(VerificationItem(sequence: sequence, cache: cache,
                                                     tokens: Array(prompt[sequence.prefilled..<chunkEnd]),
                                                     isPrefill: true, completesPrompt: chunkEnd == prompt.count))
            budget -= count
            ranChunk = true
        }
        return verificationPlan
    }

    /// Runs the verifier over the plan and applies its results to every sequence.
    func verify(_ items: [VerificationItem]) throws {
        guard !items.isEmpty else { return }
        verifierRequests.removeAll(keepingCapacity: true)
        var rows = 0
        for item in items {
            let scoresPrompt = item.sequence.request.promptLogprobs != nil
            let logits: TransformerModel.LogitRows = item.isPrefill && !scoresPrompt ? (item.completesPrompt ? .last : .none) : .all
            let request = item.sequence.request
            let argmaxOnly = configuration.argmaxScreening && request.sampling.isGreedy && request.logprobs == nil
                && !item.sequence.adjustsNextRows && !(item.isPrefill && scoresPrompt)
            verifierRequests.append(TransformerModel.Request(cache: item.cache, tokens: item.tokens, logits: logits,
                                                             argmaxOnly: argmaxOnly))
            rows += item.tokens.count
        }
        let auxiliaryLayers = draft?.config.auxiliaryLayerIds ?? configuration.captureLayers
        let start = DispatchTime.now().uptimeNanoseconds
        let output: TransformerModel.Output
        do {
            // The requests hold the sequences' token arrays, which the next plan rewrites.
            defer { verifierRequests.removeAll(keepingCapacity: true) }
            output = try verifier.forward(verifierRequests, auxiliaryLayers: auxiliaryLayers, pool: pool)
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let withPrompts = items.contains(where: \.isPrefill)
        if !withPrompts { costs.verify.observe(rows: rows, seconds: seconds) }
        if let prediction = pendingPrediction { audit.settle(prediction, verifySeconds: seconds, withPrompts: withPrompts) }
        pendingPrediction = nil
        for (index, item) in items.enumerated() {
            if item.isPrefill {
                finishPrefillChunk(item, output: output, index: index)
            } else {
                accept(item, output: output, index: index)
            }
        }
    }

    /// Queues verifier features of `rows` rows (starting at `firstRow` of request `index`) for
    /// the draft's context pass, with the tokens that follow each position.
    func queueDraftContext(_ sequence: SequenceState, output: TransformerModel.Output, index: Int,
                           firstRow: Int, rows: Int, nextTokens: ArraySlice<Int>) {
        // A request pinned to plain decoding never drafts: its draft is never fed.
        guard draft != nil, sequence.controller.maximumNext > 0, let auxiliary = output.auxiliary, rows > 0 else { return }
        let width = output.auxiliaryWidth
        let start = auxiliary + (output.rowRanges[index].lowerBound + firstRow) * width
        sequence.pendingFeatures.append(contentsOf: UnsafeBufferPointer(start: start, count: rows * width))
        sequence.pendingTokens.append(contentsOf: nextTokens)
    }

    /// Records `rows` rows of request `index`'s captured layers (capturing engines only).
    func capture(_ sequence: SequenceState, output: TransformerModel.Output, index: Int, rows: Int) {
        guard !configuration.captureLayers.isEmpty, let auxiliary = output.auxiliary, rows > 0 else { return }
        let width = output.auxiliaryWidth
        let start = auxiliary + output.rowRanges[index].lowerBound * width
        sequence.captured.append(contentsOf: UnsafeBufferPointer(start: start, count: rows * width))
    }

    /// A capturing engine runs the final token of every sequence that finished (it is never fed
    /// otherwise) in one extra forward, so the captured states cover every position.
    func captureFinalPositions(_ finished: [SequenceState]) throws {
        let items = finished.compactMap { sequence -> (SequenceState, KVCache)? in
            guard let cache = sequence.verifierCache, cache.length < cache.capacity, sequence.lastToken >= 0 else { return nil }
            return (sequence, cache)
        }
        guard !items.isEmpty else { return }
        let requests = items.map { TransformerModel.Request(cache: $0.1, tokens: [$0.0.lastToken], logits: .none) }
        let output = try verifier.forward(requests, auxiliaryLayers: configuration.captureLayers, pool: pool)
        for (index, item) in items.enumerated() { capture(item.0, output: output, index: index, rows: 1) }
    }

    private func finishPrefillChunk(_ item: VerificationItem, output: TransformerModel.Output, index: Int) {
        let sequence = item.sequence
        capture(sequence, output: output, index: index, rows: item.tokens.count)
        let prompt = sequence.request.prompt
        let start = sequence.prefilled
        sequence.prefilled += item.tokens.count
        if let alternatives = sequence.request.promptLogprobs {
            // Row j scores prompt token start + j + 1; the last row of the prompt scores the first output token.
            for row in 0..<item.tokens.count where start + row + 1 < prompt.count {
                sequence.promptLogprobs.append(logprob(of: prompt[start + row + 1], in: output.logits(request: index, row: row),
                                                       alternatives: alternatives))
            }
        }
        if !item.completesPrompt {
            queueDraftContext(sequence, output: output, index: index, firstRow: 0, rows: item.tokens.count,
                              nextTokens: prompt[(start + 1)...(start + item.tokens.count)])
            return
        }
        let lastRow = output.logitRanges[index].count - 1
        let logits = UnsafePointer(output.logits(request: index, row: lastRow))
        let token = chooseToken(sequence, logits: logits)
        queueDraftContext(sequence, output: output, index: index, firstRow: 0, rows: item.tokens.count,
                          nextTokens: prompt[(start + 1)...] + [token])
        sequence.stats.verifierSteps += 1
        sequence.stats.emittedTokens += 1
        emit([token], logits: [UnsafePointer(logits)], for: sequence)
    }

    /// Samples (or takes the argmax of) a row with the request's parameters; `pending` are the
    /// tokens between its output so far and this row (accepted drafts).
    func chooseToken(_ sequence: SequenceState, logits raw: UnsafePointer<Float>, pending: ArraySlice<Int> = []) -> Int {
        let parameters = sequence.request.sampling
        let logits = processed(raw, for: sequence, pending: pending)
        if parameters.isGreedy { return Sampler.argmax(logits, count: verifier.config.vocabSize) }
        let distribution = sampler.distribution(logits, parameters)
        return Sampler.sample(distribution, using: &sequence.random)
    }

    /// The row the request chooses from: `raw` after its penalties, bias, allowed tokens and
    /// `min_tokens` (`LogitProcessor`), with `pending` counted as output. Valid until the next call.
    func processed(_ raw: UnsafePointer<Float>, for sequence: SequenceState, pending: ArraySlice<Int>) -> UnsafePointer<Float> {
        guard sequence.adjustsNextRows else { return raw }
        return logitProcessor.process(raw, request: sequence.request, promptTokens: sequence.promptTokens,
                                      output: sequence.output, pending: pending,
                                      stopTokenIds: sequence.minTokensHeldIds)
    }

    /// Checks the drafts of one sequence against its verifier rows and emits the accepted
    /// tokens plus one verifier token (the correction, or the bonus after a full match).
    private func accept(_ item: VerificationItem, output: TransformerModel.Output, index: Int) {
        let sequence = item.sequence
        // Moved out and given back emptied, so that its storage is not shared when emptied.
        var drafts: [Int] = []
        swap(&drafts, &sequence.drafts)
        var emitted = borrowEmptied(&acceptedTokens), rows = borrowEmptied(&acceptedRows)
        defer {
            returnEmptied(&drafts, to: &sequence.drafts)
            returnEmptied(&emitted, to: &acceptedTokens)
            returnEmptied(&rows, to: &acceptedRows)
        }
        let parameters = sequence.request.sampling
        let vocab = verifier.config.vocabSize
        var accepted = 0
        for (position, draftToken) in drafts.enumerated() {
            let raw = UnsafePointer(output.logits(request: index, row: position))
            rows.append(raw)
            let logits = processed(raw, for: sequence, pending: drafts[..<position])
            if parameters.isGreedy {
                let best = Sampler.argmax(logits, count: vocab)
                emitted.append(best)
                if best != draftToken { break }
            } else {
                // The token plain decoding would draw here, from the same uniform (one per emitted
                // token, spent as plain decoding spends them), and the draft stands if it is that
                // token. The draft is a point mass q = 1 at its token, so this accepts with
                // probability p(d) and otherwise emits a token of p with d removed: the law of the
                // rejection sampler (min(1, p/q), then the normalised residual p - q). But the
                // tokens are also the ones the seeded request gets without a draft, whatever k
                // each step chose, so adaptive k, load and batch company cannot change them.
                let token = Sampler.sample(sampler.distribution(logits, parameters), using: &sequence.random)
                emitted.append(token)
                if token != draftToken { break }
            }
            accepted += 1
        }
        if accepted == drafts.count {
            let bonus = UnsafePointer(output.logits(request: index, row: drafts.count))
            rows.append(bonus)
            emitted.append(chooseToken(sequence, logits: bonus, pending: drafts[...]))
        }
        if !drafts.isEmpty {
            audit.predictedTokens += sequence.predictedTokens
            audit.emittedTokens += emitted.count
        }
        sequence.stats.record(draftCount: drafts.count, accepted: accepted)
        lastStep.speculation.record(draftCount: drafts.count, accepted: accepted)
        if !drafts.isEmpty, sequence.draftCache?.positionOffset == 0 {
            wholeContextDrafts += 1
            if accepted > 0 { wholeContextFirstAccepted += 1 }
        }
        // Each draft up to the first rejection tells how often drafts of its confidence are accepted.
        for position in 0..<min(drafts.count, accepted + 1) where position < sequence.draftConfidences.count {
            confidence.record(confidence: sequence.draftConfidences[position], accepted: position < accepted)
        }
        if !sequence.draftsGated { sequence.controller.record(proposed: drafts.count, accepted: accepted) }
        sequence.draftsGated = false
        sequence.stats.verifierSteps += 1
        sequence.stats.emittedTokens += emitted.count

        // Keep the verifier cache up to the last accepted position: the last token (position n)
        // and the accepted drafts; the newest emitted token is not in the cache yet.
        let basePosition = item.cache.length - item.tokens.count
        item.cache.truncate(to: basePosition + accepted + 1)
        capture(sequence, output: output, index: index, rows: accepted + 1)
        // Draft context rows: positions n ... n + accepted, each followed by the next emitted token.
        queueDraftContext(sequence, output: output, index: index, firstRow: 0, rows: accepted + 1,
                          nextTokens: emitted[...])
        sequence.draftConfidences.removeAll(keepingCapacity: true)
        emit(emitted, logits: rows, for: sequence)
    }
}
