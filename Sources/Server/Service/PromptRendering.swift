import Engine
import Foundation
import Tokenizers

// Turning request prompts into verifier token ids: text with the tokenizer, chat messages with
// the model's chat template (or one the request supplies), and `truncate_prompt_tokens`.

extension ServedModel {
    /// Token ids of a text prompt; special-token text (`<|im_start|>`) is parsed as such, as in vLLM.
    func encode(_ text: String, addSpecialTokens: Bool) -> [Int] {
        tokenizer.encode(text, parseSpecialTokens: true, addSpecialTokens: addSpecialTokens)
    }

    /// The prompt text of a chat: the template rendered over `messages`. With
    /// `continueFinalMessage` the text stops right after the last message's content, leaving
    /// that turn open for the model to continue (vLLM's rule).
    func renderChat(_ messages: [ChatMessage], addGenerationPrompt: Bool, continueFinalMessage: Bool,
                    chatTemplate source: String?) throws(APIError) -> String {
        let template: ChatTemplate
        if let source {
            do {
                let bos = tokenizer.bosTokenId.flatMap { tokenizer.token(forId: $0) }
                template = try ChatTemplate(source, bosToken: bos)
            } catch {
                throw .badRequest("chat_template cannot be used: \(error)", param: "chat_template")
            }
        } else if let bundled = bundle.chatTemplate {
            template = bundled
        } else {
            throw .badRequest("This model has no usable chat template (\(bundle.chatTemplateProblem ?? "none")); "
                              + "send one as chat_template or use /v1/completions.")
        }
        let turns = messages.map { Tokenizers.ChatMessage(role: $0.role, content: $0.content) }
        var text: String
        do {
            text = try template.render(turns, addGenerationPrompt: addGenerationPrompt && !continueFinalMessage)
        } catch {
            throw .badRequest("The chat template cannot render these messages: \(error)", param: "messages")
        }
        if continueFinalMessage, let last = messages.last, !last.content.isEmpty,
           let range = text.range(of: last.content, options: .backwards) {
            text = String(text[..<range.upperBound])
        }
        return text
    }

    /// `truncate_prompt_tokens`: keep the last `k` tokens (-1: as many as the context holds).
    func truncated(_ ids: [Int], to limit: Int?) -> [Int] {
        guard let limit else { return ids }
        let keep = limit == -1 ? maxModelLen : limit
        return ids.count > keep ? Array(ids.suffix(keep)) : ids
    }

    /// The text a completions/chat logprob entry shows for a token.
    func tokenText(_ id: Int, asTokenID: Bool) -> String {
        asTokenID ? "token_id:\(id)" : tokenizer.decode([id])
    }
}

/// Checks for request features this server's engine does not implement. They are refused
/// rather than ignored whenever ignoring them would change the output.
enum EngineSupport {
    static func check(sampling: SamplingSettings, stop: StopSettings, decoding: DecodingOptions) throws(APIError) {
        if sampling.repetitionPenalty != 1 {
            throw .badRequest("repetition_penalty is not supported by this server; send 1 or omit it.",
                              param: "repetition_penalty")
        }
        if sampling.presencePenalty != 0 {
            throw .badRequest("presence_penalty is not supported by this server; send 0 or omit it.",
                              param: "presence_penalty")
        }
        if sampling.frequencyPenalty != 0 {
            throw .badRequest("frequency_penalty is not supported by this server; send 0 or omit it.",
                              param: "frequency_penalty")
        }
        if !sampling.logitBias.isEmpty {
            throw .badRequest("logit_bias is not supported by this server.", param: "logit_bias")
        }
        if sampling.allowedTokenIDs != nil {
            throw .badRequest("allowed_token_ids is not supported by this server.", param: "allowed_token_ids")
        }
        if stop.includeStopStringInOutput {
            throw .badRequest("include_stop_str_in_output is not supported by this server.",
                              param: "include_stop_str_in_output")
        }
        if !decoding.skipSpecialTokens {
            throw .badRequest("skip_special_tokens=false is not supported by this server.",
                              param: "skip_special_tokens")
        }
    }

    /// The engine's request for one choice. Seeded requests with `n > 1` give choice `j` the
    /// seed `seed + j`, so the choices differ but the whole request is reproducible.
    static func generationRequest(prompt: [Int], sampling: SamplingSettings, stop: StopSettings, maxTokens: Int,
                                  logprobs: Int?, speculativeTokens: Int?, choice: Int) -> GenerationRequest {
        let seed = sampling.seed.map { UInt64(bitPattern: $0 &+ Int64(choice)) }
        let parameters = SamplingParameters(temperature: Float(sampling.temperature), topP: Float(sampling.topP),
                                            topK: sampling.topK, minP: Float(sampling.minP), seed: seed)
        return GenerationRequest(prompt: prompt, sampling: parameters, maxTokens: maxTokens, minTokens: stop.minTokens,
                                 stopTokenIds: Set(stop.tokenIDs), stopStrings: stop.strings, ignoreEOS: stop.ignoreEOS,
                                 logprobs: logprobs, speculativeTokens: speculativeTokens)
    }
}
