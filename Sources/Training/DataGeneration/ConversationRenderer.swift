import Foundation
import Tokenizers

/// Turns chat messages into the verifier's token ids: the chat template plus the tokenizer. Data
/// generation is written against this protocol so it can be tested with models that have no tokenizer.
public protocol ConversationRenderer: Sendable {
    /// Token ids of `messages` rendered with the chat template (ending with an open assistant header when
    /// `addGenerationPrompt`).
    func render(_ messages: [ChatMessage], addGenerationPrompt: Bool) throws -> [Int]
    /// Token ids of the conversation so far followed by an open user header and `opening`, the start
    /// of the user's text (Magpie prompt synthesis; empty for a free user turn).
    func openUserTurn(system: String?, opening: String) throws -> [Int]
    /// Text of generated token ids, special tokens left out (to put a response back into a conversation).
    func text(of tokens: [Int]) -> String
}

/// The renderer of a real verifier: its native chat template and byte-level BPE tokenizer.
public struct TemplateRenderer: ConversationRenderer {
    public let template: ChatTemplate
    public let tokenizer: Tokenizer

    public init(template: ChatTemplate, tokenizer: Tokenizer) {
        self.template = template
        self.tokenizer = tokenizer
    }

    public func render(_ messages: [ChatMessage], addGenerationPrompt: Bool) throws -> [Int] {
        let text: String
        do { text = try template.render(messages, addGenerationPrompt: addGenerationPrompt) } catch {
            throw DataGenerationError.renderFailed(problem: "\(error)")
        }
        return tokenizer.encode(text, parseSpecialTokens: true)
    }

    /// Renders a user turn whose content is a sentinel and keeps the text before the sentinel: the template's
    /// own user header, whatever the dialect (ChatML: `...<|im_start|>user\n`). The opening is encoded
    /// with it, so its first word is tokenised as at the start of a user's text.
    public func openUserTurn(system: String?, opening: String) throws -> [Int] {
        let sentinel = "\u{E000}MAGPIE\u{E001}"
        var messages: [ChatMessage] = []
        if let system { messages.append(ChatMessage(role: "system", content: system)) }
        messages.append(ChatMessage(role: "user", content: sentinel))
        let text: String
        do { text = try template.render(messages, addGenerationPrompt: false) } catch {
            throw DataGenerationError.renderFailed(problem: "\(error)")
        }
        guard let range = text.range(of: sentinel) else {
            throw DataGenerationError.renderFailed(problem: "the template does not write the user text verbatim")
        }
        return tokenizer.encode(String(text[..<range.lowerBound]), parseSpecialTokens: true)
            + tokenizer.encode(opening, parseSpecialTokens: false)
    }

    public func text(of tokens: [Int]) -> String {
        tokenizer.decode(tokens, skipSpecialTokens: true)
    }
}
