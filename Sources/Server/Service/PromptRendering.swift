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
        var turns = messages.map { Tokenizers.ChatMessage(role: $0.role, content: $0.content) }
        // transformers (which vLLM calls) marks where the final message ends with a tag appended
        // to it, renders, and cuts at the tag; searching for the content instead finds it inside
        // the template's own text when the content is "", "m" or ">" (`<|im_end|>`).
        let tag = "CONTINUE_FINAL_MESSAGE_TAG "
        if continueFinalMessage, !turns.isEmpty { turns[turns.count - 1].content += tag }
        var text: String
        do {
            text = try template.render(turns, addGenerationPrompt: addGenerationPrompt && !continueFinalMessage)
        } catch {
            throw .badRequest("The chat template cannot render these messages: \(error)", param: "messages")
        }
        guard continueFinalMessage, let last = messages.last else { return text }
        let bareTag = tag.trimmingCharacters(in: .whitespaces)
        let content = last.content.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let range = text.range(of: bareTag, options: .backwards), content.isEmpty || text.contains(content) else {
            throw .badRequest("continue_final_message is set but the final message does not appear in the chat after "
                              + "applying the chat template! This can happen if the chat template deletes portions of "
                              + "the final message.", param: "messages")
        }
        // A template that keeps the message's spacing keeps the tag's space too; one that trims
        // it also trimmed the message's own trailing space, which is then trimmed here as well.
        if text[range.lowerBound...].hasPrefix(tag) { return String(text[..<range.lowerBound]) }
        var end = range.lowerBound
        while end > text.startIndex, text[text.index(before: end)].isWhitespace { end = text.index(before: end) }
        return String(text[..<end])
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

/// Turns a decoded request into the engine's requests. Every sampling, stop and detokenizer
/// option of the spec reaches the engine except `spaces_between_special_tokens`, which has no
/// effect, as in vLLM with a fast (byte-level) tokenizer: special tokens are joined without spaces.
enum EngineSupport {
    /// The engine's request for one choice. Seeded requests with `n > 1` give choice `j` the
    /// seed `seed + j`, so the choices differ but the whole request is reproducible.
    static func generationRequest(prompt: [Int], sampling: SamplingSettings, stop: StopSettings, decoding: DecodingOptions,
                                  maxTokens: Int, logprobs: Int?, promptLogprobs: Int? = nil, speculativeTokens: Int?,
                                  choice: Int) -> GenerationRequest {
        let seed = sampling.seed.map { UInt64(bitPattern: $0 &+ Int64(choice)) }
        let parameters = SamplingParameters(
            temperature: Float(sampling.temperature), topP: Float(sampling.topP), topK: sampling.topK, minP: Float(sampling.minP),
            seed: seed, repetitionPenalty: Float(sampling.repetitionPenalty), presencePenalty: Float(sampling.presencePenalty),
            frequencyPenalty: Float(sampling.frequencyPenalty), logitBias: sampling.logitBias.mapValues { Float($0) },
            allowedTokenIds: sampling.allowedTokenIDs)
        return GenerationRequest(prompt: prompt, sampling: parameters, maxTokens: maxTokens, minTokens: stop.minTokens,
                                 stopTokenIds: Set(stop.tokenIDs), stopStrings: stop.strings, ignoreEOS: stop.ignoreEOS,
                                 includeStopStringInOutput: stop.includeStopStringInOutput,
                                 skipSpecialTokens: decoding.skipSpecialTokens,
                                 logprobs: logprobs, promptLogprobs: promptLogprobs, speculativeTokens: speculativeTokens)
    }
}
