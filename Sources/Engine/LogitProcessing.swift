/// What a request does to a verifier row before a token is chosen from it, in vLLM's order:
/// the allowed-token mask, then `min_tokens` (EOS and stop ids cannot be chosen before that many
/// output tokens), then `logit_bias`, then the repetition, frequency and presence penalties.
///
/// Speculative decoding stays exact because every row is processed against the history plain
/// decoding would have at that position: the output so far plus the draft tokens before the row
/// (for the bonus row, all of them). Log-probabilities are taken from the raw rows, as vLLM's
/// default `raw_logprobs` mode does.
final class LogitProcessor {
    let vocabularySize: Int
    /// The processed row; valid until the next `process` call.
    private let row: UnsafeMutablePointer<Float>
    /// Output-token counts, rebuilt for each processed row (kept to reuse its storage).
    private var counts: [Int: Int] = [:]
    private var kept: [(Int, Float)] = []

    init(vocabularySize: Int) {
        self.vocabularySize = vocabularySize
        row = .allocate(capacity: max(vocabularySize, 1))
    }

    deinit { row.deallocate() }

    /// `raw` as `request` sees it when its output so far is `output` followed by `pending`;
    /// `raw` itself when nothing applies to this row. `promptTokens` are the prompt's distinct
    /// ids (repetition penalty), `stopTokenIds` the ids that `min_tokens` holds back (the
    /// request's stop ids and the model's EOS ids, even with `ignore_eos`, as vLLM does).
    func process(_ raw: UnsafePointer<Float>, request: GenerationRequest, promptTokens: Set<Int>,
                 output: [Int], pending: ArraySlice<Int>, stopTokenIds: Set<Int>) -> UnsafePointer<Float> {
        let sampling = request.sampling
        let holdsStops = output.count + pending.count < request.minTokens
        guard sampling.adjustsLogits || holdsStops else { return raw }
        row.update(from: raw, count: vocabularySize)
        if let allowed = sampling.allowedTokenIds {
            kept.removeAll(keepingCapacity: true)
            for id in allowed where id >= 0 && id < vocabularySize { kept.append((id, row[id])) }
            row.update(repeating: -.infinity, count: vocabularySize)
            for (id, value) in kept { row[id] = value }
        }
        if holdsStops {
            for id in stopTokenIds where id >= 0 && id < vocabularySize { row[id] = -.infinity }
        }
        for (id, bias) in sampling.logitBias where id >= 0 && id < vocabularySize { row[id] += bias }
        let penalises = sampling.repetitionPenalty != 1 || sampling.frequencyPenalty != 0 || sampling.presencePenalty != 0
        guard penalises else { return UnsafePointer(row) }
        counts.removeAll(keepingCapacity: true)
        for token in output { counts[token, default: 0] += 1 }
        for token in pending { counts[token, default: 0] += 1 }
        if sampling.repetitionPenalty != 1 {
            let penalty = sampling.repetitionPenalty
            func penalise(_ id: Int) {
                guard id >= 0 && id < vocabularySize else { return }
                let value = row[id]
                row[id] = value > 0 ? value / penalty : value * penalty
            }
            for id in promptTokens { penalise(id) }
            for id in counts.keys where !promptTokens.contains(id) { penalise(id) }
        }
        for (id, count) in counts where id >= 0 && id < vocabularySize {
            // Two subtractions, as vLLM makes them (frequency times the count, then presence).
            row[id] -= sampling.frequencyPenalty * Float(count)
            row[id] -= sampling.presencePenalty
        }
        return UnsafePointer(row)
    }
}
