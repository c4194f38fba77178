import Foundation
import Tensors

extension SpeculativeEngine {
    /// Appends emitted tokens one at a time, applying the stop rules after each (min_tokens gate,
    /// EOS, stop token ids, stop strings, max_tokens, context length); nothing past the first
    /// stop is kept. `logits[i]` is the verifier row that produced `tokens[i]`.
    func emit(_ tokens: [Int], logits: [UnsafePointer<Float>], for sequence: SequenceState) {
        let request = sequence.request
        for (index, token) in tokens.enumerated() where !sequence.isFinished {
            sequence.output.append(token)
            sequence.newTokens.append(token)
            sequence.lastToken = token
            if let count = request.logprobs, index < logits.count {
                sequence.newLogprobs.append(logprob(of: token, in: logits[index], alternatives: count))
            }
            let generated = sequence.output.count
            // vLLM's rules: EOS and stop ids count from the min_tokens-th token on, stop strings
            // only in text after it (the ids cannot come earlier: `LogitProcessor` masks them).
            let stopsAllowed = generated >= request.minTokens
            if stopsAllowed, !request.ignoreEOS, configuration.eosTokenIds.contains(token) {
                keepStopTokenText(token, of: sequence)
                finish(sequence, .stop, reason: .eos)
            } else if stopsAllowed, request.stopTokenIds.contains(token) {
                keepStopTokenText(token, of: sequence)
                finish(sequence, .stop, reason: .token(token))
            } else if let stop = sequence.text.append(token, checkStops: generated > request.minTokens) {
                finish(sequence, .stop, reason: .string(stop))
            } else if generated >= request.maxTokens || sequence.length >= configuration.maxModelLength {
                finish(sequence, .length, reason: nil)
            }
        }
    }

    /// The text of the EOS or stop token that ends a request goes into its output only with
    /// `include_stop_str_in_output` (and, for a special token, without `skip_special_tokens`).
    private func keepStopTokenText(_ token: Int, of sequence: SequenceState) {
        if sequence.request.includeStopStringInOutput { _ = sequence.text.append(token, checkStops: false) }
    }

    private func finish(_ sequence: SequenceState, _ reason: FinishReason, reason stop: StopReason?) {
        sequence.finish = reason
        sequence.stopReason = stop
    }

    /// Log-softmax of the raw verifier logits at the emitted token, its rank, and the top alternatives.
    func logprob(of token: Int, in logits: UnsafePointer<Float>, alternatives: Int) -> TokenLogprob {
        let vocab = verifier.config.vocabSize
        var maxLogit = -Float.infinity
        for i in 0..<vocab where logits[i] > maxLogit { maxLogit = logits[i] }
        var sum = 0.0
        for i in 0..<vocab { sum += Foundation.exp(Double(logits[i] - maxLogit)) }
        let logNormaliser = Float(Foundation.log(sum)) + maxLogit
        let chosen = logits[token]
        var rank = 0
        for i in 0..<vocab where logits[i] >= chosen { rank += 1 }
        let top = Kernels.largest(logits, count: vocab, k: alternatives).map {
            TokenLogprob.Alternative(token: $0, logprob: logits[$0] - logNormaliser)
        }
        return TokenLogprob(token: token, logprob: chosen - logNormaliser, rank: max(rank, 1), top: top)
    }
}
