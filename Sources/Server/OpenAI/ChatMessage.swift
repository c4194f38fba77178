// Chat messages as the chat template receives them: role plus text content. Text parts are
// joined with "\n" (vLLM's "string" content format); other part types are refused, since the
// served models read text only.

/// One message of a chat request.
public struct ChatMessage: Sendable, Equatable {
    /// `system`, `user`, `assistant`, `tool`, `developer`, or any role the template knows.
    public var role: String
    /// The text; empty for an assistant message that carries only tool calls.
    public var content: String
    /// Optional participant name.
    public var name: String?
    /// `tool_call_id` of a tool message.
    public var toolCallID: String?
    /// `tool_calls` of an assistant message, as compact JSON (passed to the template).
    public var toolCallsJSON: String?

    public init(role: String, content: String, name: String? = nil, toolCallID: String? = nil,
                toolCallsJSON: String? = nil) {
        self.role = role
        self.content = content
        self.name = name
        self.toolCallID = toolCallID
        self.toolCallsJSON = toolCallsJSON
    }
}

extension ChatMessage {
    /// Reads `messages`: a non-empty list of objects with a `role` string and `content` that is a
    /// string, a list of text parts, or null.
    static func readList(_ r: inout FieldReader) throws(APIError) -> [ChatMessage]? {
        guard let value = r.require("messages") else { return nil }
        let location = r.path("messages")
        guard case .array(let elements) = value else {
            r.record(SchemaIssue(kind: "list_type", location: location, message: "Input should be a valid list",
                                 input: value))
            return nil
        }
        if elements.isEmpty {
            throw .badRequest("messages must contain at least one message.", param: "messages")
        }
        var messages: [ChatMessage] = []
        for (i, element) in elements.enumerated() {
            var m = FieldReader(element, at: location + [.index(i)])
            let role = m.require("role").flatMap { _ in m.string("role", nullable: false) }
            let content = try readContent(&m, messageIndex: i)
            let name = m.string("name")
            let toolCallID = m.string("tool_call_id")
            let toolCalls = m.raw("tool_calls").flatMap { $0.isNull ? nil : $0.compactJSON }
            r.absorb(m)
            if let role, let content {
                messages.append(ChatMessage(role: role, content: content, name: name, toolCallID: toolCallID,
                                            toolCallsJSON: toolCalls))
            }
        }
        return messages.count == elements.count ? messages : nil
    }

    private static func readContent(_ m: inout FieldReader, messageIndex: Int) throws(APIError) -> String? {
        guard let value = m.raw("content") else { return "" }
        let location = m.path("content")
        switch value {
        case .null: return ""
        case .string(let s): return s
        case .array(let parts):
            var texts: [String] = []
            for (j, part) in parts.enumerated() {
                var p = FieldReader(part, at: location + [.index(j)])
                let type = p.string("type") ?? (p.has("text") ? "text" : nil)
                guard type == "text" else {
                    m.absorb(p)
                    let shown = type.map { "'\($0)'" } ?? "without a type"
                    throw .badRequest("Content part \(shown) is not supported: this server accepts text only.",
                                      param: "messages[\(messageIndex)].content[\(j)]")
                }
                if let text = p.string("text", nullable: false) {
                    texts.append(text)
                } else if !p.has("text") {
                    _ = p.require("text")
                }
                m.absorb(p)
            }
            return texts.count == parts.count ? texts.joined(separator: "\n") : nil
        default:
            m.record(SchemaIssue(kind: "string_type", location: location,
                                 message: "Input should be a valid string or a list of content parts", input: value))
            return nil
        }
    }
}
