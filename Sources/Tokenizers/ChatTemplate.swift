import Foundation

/// One chat turn: `role` is "system", "user" or "assistant" (some templates accept other roles).
public struct ChatMessage: Sendable, Equatable, Codable {
    public var role: String
    public var content: String

    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }
}

/// Per-request settings that some templates read.
public struct ChatTemplateOptions: Sendable, Equatable {
    /// Qwen3: false appends an empty `<think>` block to the generation prompt (thinking off).
    public var enableThinking: Bool?
    /// Llama-3.1+: the "Today Date" line; nil means the template's default ("26 Jul 2024", or today's date
    /// for templates that call `strftime_now`, such as Llama-3.2).
    public var dateString: String?

    public init(enableThinking: Bool? = nil, dateString: String? = nil) {
        self.enableThinking = enableThinking
        self.dateString = dateString
    }
}

/// A chat template rendered natively (no Jinja engine): the dialect is recognised from the template text
/// and reproduced exactly for conversations of system, user and assistant text messages.
///
/// Recognised dialects:
/// - ChatML (`<|im_start|>role\ncontent<|im_end|>\n`), with the default system message the template inserts
///   when the conversation does not start with one (SmolLM2, Qwen2.5), and Qwen3's handling of `<think>`
///   blocks in assistant turns and `enable_thinking`.
/// - Llama-3 (`<|start_header_id|>role<|end_header_id|>\n\n` + trimmed content + `<|eot_id|>`, after the BOS
///   text), and Llama-3.1/3.2/3.3's system block with "Cutting Knowledge Date" and "Today Date".
///
/// Tools, tool calls and image content are not supported: such requests get an error, never a wrong prompt.
public struct ChatTemplate: Sendable, Equatable {
    public enum Dialect: Sendable, Equatable {
        /// `defaultSystemMessage` is inserted when the first message is not a system message.
        /// `anyRole`: every message is rendered whatever its role (SmolLM2); otherwise only system, user and
        /// assistant are (Qwen), and "tool" is refused. `qwen3Reasoning`: Qwen3's `<think>` rules.
        case chatML(defaultSystemMessage: String?, anyRole: Bool, qwen3Reasoning: Bool, thinkingSwitch: Bool)
        /// `systemBlock`: Llama-3.1+ (always a system block with the knowledge/today dates); otherwise
        /// Llama-3.0. `todayByDefault`: the date defaults to today (`strftime_now`) rather than 26 Jul 2024.
        case llama3(systemBlock: Bool, todayByDefault: Bool)
    }

    public let dialect: Dialect
    /// Text of the BOS token, which Llama-3 templates write at the start.
    public let bosToken: String

    /// Recognises the dialect of `source`; throws `TokenizerError.unsupported` for other templates.
    public init(_ source: String, bosToken: String? = nil, eosToken: String? = nil) throws {
        self.bosToken = bosToken ?? ""
        if source.contains("<|im_start|>") {
            let qwen3 = source.contains("</think>") && source.contains("last_query_index")
            dialect = .chatML(defaultSystemMessage: Self.defaultSystemMessage(in: source),
                              anyRole: !source.contains("message.role == \"user\"") && !source.contains("message['role'] == 'user'"),
                              qwen3Reasoning: qwen3,
                              thinkingSwitch: source.contains("enable_thinking"))
        } else if source.contains("<|start_header_id|>") && source.contains("<|eot_id|>") {
            dialect = .llama3(systemBlock: source.contains("Cutting Knowledge Date"),
                              todayByDefault: source.contains("strftime_now"))
        } else {
            throw TokenizerError.unsupported("chat template dialect not recognised (supported: ChatML and Llama-3 templates)")
        }
    }

    /// The prompt text for `messages`. With `addGenerationPrompt` it ends with the header of an assistant
    /// turn, ready for the model to continue.
    public func render(_ messages: [ChatMessage], addGenerationPrompt: Bool,
                       options: ChatTemplateOptions = ChatTemplateOptions()) throws -> String {
        guard !messages.isEmpty else { throw TokenizerError.unsupported("chat with no messages") }
        switch dialect {
        case .chatML(let defaultSystem, let anyRole, let qwen3, let thinkingSwitch):
            return try renderChatML(messages, addGenerationPrompt: addGenerationPrompt, options: options,
                                    defaultSystem: defaultSystem, anyRole: anyRole, qwen3: qwen3, thinkingSwitch: thinkingSwitch)
        case .llama3(let systemBlock, let todayByDefault):
            return try renderLlama3(messages, addGenerationPrompt: addGenerationPrompt, options: options,
                                    systemBlock: systemBlock, todayByDefault: todayByDefault)
        }
    }

    // MARK: ChatML

    private func renderChatML(_ messages: [ChatMessage], addGenerationPrompt: Bool, options: ChatTemplateOptions,
                              defaultSystem: String?, anyRole: Bool, qwen3: Bool, thinkingSwitch: Bool) throws -> String {
        var text = ""
        if messages[0].role != "system", let defaultSystem {
            text += "<|im_start|>system\n" + defaultSystem + "<|im_end|>\n"
        }
        // Qwen3: the last user message that is not a tool response; assistant turns after it keep reasoning.
        var lastQuery = messages.count - 1
        if qwen3, let index = messages.lastIndex(where: { $0.role == "user" && !Self.isToolResponse($0.content) }) {
            lastQuery = index
        }
        for (index, message) in messages.enumerated() {
            switch message.role {
            case "user", "system":
                text += "<|im_start|>" + message.role + "\n" + message.content + "<|im_end|>\n"
            case "assistant" where qwen3:
                text += Self.qwen3Assistant(message.content, keepsReasoning: index > lastQuery,
                                            isLast: index == messages.count - 1) + "<|im_end|>\n"
            case "assistant":
                text += "<|im_start|>assistant\n" + message.content + "<|im_end|>\n"
            default:
                guard anyRole else {
                    throw TokenizerError.unsupported("chat role \(message.role.debugDescription) in this template (system, user and assistant are supported)")
                }
                text += "<|im_start|>" + message.role + "\n" + message.content + "<|im_end|>\n"
            }
        }
        if addGenerationPrompt {
            text += "<|im_start|>assistant\n"
            if thinkingSwitch, options.enableThinking == false { text += "<think>\n\n</think>\n\n" }
        }
        return text
    }

    /// Qwen3 moves reasoning out of assistant content: earlier turns lose their `<think>` block, turns after
    /// the last user query keep it (the final one always gets one, empty if need be).
    private static func qwen3Assistant(_ content: String, keepsReasoning: Bool, isLast: Bool) -> String {
        var visible = content
        var reasoning = ""
        let parts = content.exactComponents(separatedBy: "</think>")
        if parts.count > 1 {
            let beforeFirstClose = parts[0].trimmingSuffix(while: { $0 == "\n" })
            reasoning = (beforeFirstClose.exactComponents(separatedBy: "<think>").last ?? "").trimmingPrefix(while: { $0 == "\n" })
            visible = (parts.last ?? "").trimmingPrefix(while: { $0 == "\n" })
        }
        if keepsReasoning && (isLast || !reasoning.isEmpty) {
            let trimmedReasoning = reasoning.trimmingPrefix(while: { $0 == "\n" }).trimmingSuffix(while: { $0 == "\n" })
            return "<|im_start|>assistant\n<think>\n" + trimmedReasoning + "\n</think>\n\n"
                + visible.trimmingPrefix(while: { $0 == "\n" })
        }
        return "<|im_start|>assistant\n" + visible
    }

    private static func isToolResponse(_ content: String) -> Bool {
        content.utf8.starts(with: "<tool_response>".utf8) && content.utf8.reversed().starts(with: "</tool_response>".utf8.reversed())
    }

    /// The default system message: a literal `<|im_start|>system\n...<|im_end|>` in the template whose text
    /// is plain (not built from `messages[0]['content']`).
    static func defaultSystemMessage(in source: String) -> String? {
        var searchStart = source.startIndex
        while let open = source.range(of: "<|im_start|>system", range: searchStart..<source.endIndex) {
            searchStart = open.upperBound
            guard let close = source.range(of: "<|im_end|>", range: open.upperBound..<source.endIndex) else { return nil }
            var body = String(source[open.upperBound..<close.lowerBound])
            if body.hasPrefix("\\n") { body.removeFirst(2) } else if body.hasPrefix("\n") { body.removeFirst() } else { continue }
            // A template expression (`' + messages[0]['content'] + '`) is not a literal message.
            if body.contains("'") || body.contains("\"") || body.contains("{") || body.contains("}") || body.isEmpty { continue }
            return unescapeJinjaString(body)
        }
        return nil
    }

    private static func unescapeJinjaString(_ text: String) -> String {
        guard text.contains("\\") else { return text }
        var result = ""
        var escaping = false
        for character in text {
            if escaping {
                switch character {
                case "n": result.append("\n")
                case "t": result.append("\t")
                case "r": result.append("\r")
                default: result.append(character)
                }
                escaping = false
            } else if character == "\\" {
                escaping = true
            } else {
                result.append(character)
            }
        }
        return result
    }

    // MARK: Llama-3

    private func renderLlama3(_ messages: [ChatMessage], addGenerationPrompt: Bool, options: ChatTemplateOptions,
                              systemBlock: Bool, todayByDefault: Bool) throws -> String {
        var text = bosToken
        var turns = messages[...]
        if systemBlock {
            var systemMessage = ""
            if let first = turns.first, first.role == "system" {
                systemMessage = Self.jinjaTrim(first.content)
                turns = turns.dropFirst()
            }
            let date = options.dateString ?? (todayByDefault ? Self.today() : "26 Jul 2024")
            text += "<|start_header_id|>system<|end_header_id|>\n\n"
            text += "Cutting Knowledge Date: December 2023\nToday Date: " + date + "\n\n"
            text += systemMessage + "<|eot_id|>"
        }
        for message in turns {
            if systemBlock, ["tool", "ipython"].contains(message.role) {
                throw TokenizerError.unsupported("chat role \(message.role.debugDescription) (tool calling) in this template")
            }
            text += "<|start_header_id|>" + message.role + "<|end_header_id|>\n\n" + Self.jinjaTrim(message.content) + "<|eot_id|>"
        }
        if addGenerationPrompt { text += "<|start_header_id|>assistant<|end_header_id|>\n\n" }
        return text
    }

    /// Jinja's `trim` filter: Python `str.strip()`.
    static func jinjaTrim(_ text: String) -> String {
        var scalars = Substring(text).unicodeScalars
        while let first = scalars.first, UnicodeRules.isPythonWhitespace(first) { scalars.removeFirst() }
        while let last = scalars.last, UnicodeRules.isPythonWhitespace(last) { scalars.removeLast() }
        return String(scalars)
    }

    /// Today's date as `strftime("%d %b %Y")` writes it in the C locale, in local time ("05 Mar 2025").
    static func today() -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "dd MMM yyyy"
        return formatter.string(from: Date())
    }
}

private extension String {
    /// Python `str.split(separator)`: exact UTF-8 matching, unlike Swift's grapheme-aware searching
    /// (which does not find "</think>" when a combining mark follows it).
    func exactComponents(separatedBy separator: String) -> [String] {
        let bytes = Array(utf8), needle = Array(separator.utf8)
        var parts: [String] = []
        var start = 0, index = 0
        while index + needle.count <= bytes.count {
            if bytes[index..<(index + needle.count)].elementsEqual(needle) {
                parts.append(String(decoding: bytes[start..<index], as: UTF8.self))
                index += needle.count
                start = index
            } else {
                index += 1
            }
        }
        parts.append(String(decoding: bytes[start...], as: UTF8.self))
        return parts
    }

    /// Python `lstrip(chars)` / `rstrip(chars)` with a single character: by scalar, not by grapheme
    /// (so "\r\n" loses only its "\n").
    func trimmingPrefix(while predicate: (Unicode.Scalar) -> Bool) -> String {
        var scalars = Substring(self).unicodeScalars
        while let first = scalars.first, predicate(first) { scalars.removeFirst() }
        return String(scalars)
    }

    func trimmingSuffix(while predicate: (Unicode.Scalar) -> Bool) -> String {
        var scalars = Substring(self).unicodeScalars
        while let last = scalars.last, predicate(last) { scalars.removeLast() }
        return String(scalars)
    }
}
