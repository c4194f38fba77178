import Foundation
import Tokenizers

/// One input conversation after normalisation: a list of system, user, assistant (and tool) turns.
public struct Conversation: Sendable, Equatable {
    /// Where it came from (`file:line`, or `magpie:<n>`), for messages.
    public var origin: String
    public var messages: [ChatMessage]

    public init(origin: String, messages: [ChatMessage]) {
        self.origin = origin
        self.messages = messages
    }

    /// The user turns, in order (what an evaluation set would share with the data).
    public var userTexts: [String] { messages.filter { $0.role == "user" }.map(\.content) }
}

/// Reads conversation and prompt files: JSONL (one object per line) or a JSON array, optionally
/// gzip-compressed, in any of the common layouts:
///
/// * ShareGPT: `{"conversations": [{"from": "human", "value": "..."}, {"from": "gpt", ...}]}`
/// * UltraChat / OpenAI: `{"messages": [{"role": "user", "content": "..."}, ...]}`
/// * plain prompts: `{"prompt": "..."}` (also `instruction`, `question`, `text`, `input`), or a bare JSON string
/// * MT-Bench style: `{"turns": ["first user turn", "second user turn"]}`
///
/// An optional top-level `system` string becomes a system turn. Roles are normalised as the Python
/// library does (training.md §2.2): `human`/`user` → user, `gpt`/`assistant` → assistant, `system` and `tool`
/// kept, any other role → assistant. Content lists keep their text parts; images are refused.
public enum ConversationReader {
    public static func read(_ url: URL) throws -> [Conversation] {
        let raw: Data
        var isDirectory: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory)
        do { raw = try Data(contentsOf: url) } catch {
            // Foundation's own text for these on Linux is "(NSCocoaErrorDomain error 256.)".
            let problem = !exists ? "no such file" : isDirectory.boolValue ? "it is a folder, not a file" : "not readable"
            throw DataGenerationError.unreadableFile(file: url.path, problem: problem)
        }
        let data = try Gzip.decompressIfNeeded(raw, file: url.path)
        return try parse(data, file: url.path)
    }

    /// Parses the (decompressed) bytes of one file.
    public static func parse(_ data: Data, file: String) throws -> [Conversation] {
        guard let text = String(data: data, encoding: .utf8) else {
            throw DataGenerationError.unreadableFile(file: file, problem: "not UTF-8 text")
        }
        var conversations: [Conversation] = []
        let trimmed = text.drop { $0.isWhitespace }
        if trimmed.first == "[" {
            let value: Any
            do { value = try JSONSerialization.jsonObject(with: Data(trimmed.utf8), options: [.fragmentsAllowed]) } catch {
                throw DataGenerationError.invalidLine(file: file, line: 1, problem: "invalid JSON array: \(error.localizedDescription)")
            }
            guard let items = value as? [Any] else {
                throw DataGenerationError.invalidLine(file: file, line: 1, problem: "expected a JSON array")
            }
            for (index, item) in items.enumerated() {
                if let conversation = try normalise(item, origin: "\(file)#\(index)", file: file, line: index + 1) {
                    conversations.append(conversation)
                }
            }
        } else {
            for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let content = line.trimmingCharacters(in: .whitespacesAndNewlines)
                if content.isEmpty { continue }
                let value: Any
                do { value = try JSONSerialization.jsonObject(with: Data(content.utf8), options: [.fragmentsAllowed]) } catch {
                    throw DataGenerationError.invalidLine(file: file, line: index + 1, problem: "invalid JSON: \(error.localizedDescription)")
                }
                if let conversation = try normalise(value, origin: "\(file):\(index + 1)", file: file, line: index + 1) {
                    conversations.append(conversation)
                }
            }
        }
        return conversations
    }

    private static let promptKeys = ["prompt", "instruction", "question", "text", "input"]

    /// One record → a conversation (nil for a record with no turns at all).
    static func normalise(_ value: Any, origin: String, file: String, line: Int) throws -> Conversation? {
        if let prompt = value as? String {
            return prompt.isEmpty ? nil : Conversation(origin: origin, messages: [ChatMessage(role: "user", content: prompt)])
        }
        guard let object = value as? [String: Any] else {
            throw DataGenerationError.invalidLine(file: file, line: line, problem: "expected a JSON object or string")
        }
        var messages: [ChatMessage] = []
        if let system = object["system"] as? String, !system.isEmpty {
            messages.append(ChatMessage(role: "system", content: system))
        }
        if let turns = (object["conversations"] ?? object["messages"]) {
            guard let list = turns as? [Any] else {
                throw DataGenerationError.invalidLine(file: file, line: line, problem: "`conversations`/`messages` must be a list of turns")
            }
            for (index, turn) in list.enumerated() {
                guard let fields = turn as? [String: Any] else {
                    throw DataGenerationError.invalidLine(file: file, line: line, problem: "turn \(index) is not an object")
                }
                let role = (fields["from"] ?? fields["role"]) as? String ?? ""
                let content = try text(of: fields["value"] ?? fields["content"], file: file, line: line, turn: index)
                messages.append(ChatMessage(role: normalisedRole(role), content: content))
            }
        } else if let turns = object["turns"] as? [Any] {
            for (index, turn) in turns.enumerated() {
                guard let content = turn as? String else {
                    throw DataGenerationError.invalidLine(file: file, line: line, problem: "turn \(index) of `turns` is not a string")
                }
                messages.append(ChatMessage(role: "user", content: content))
            }
        } else if let key = promptKeys.first(where: { object[$0] is String }), let prompt = object[key] as? String {
            messages.append(ChatMessage(role: "user", content: prompt))
        } else {
            throw DataGenerationError.invalidLine(
                file: file, line: line,
                problem: "no `conversations`, `messages`, `turns` or prompt field (\(promptKeys.joined(separator: ", ")))")
        }
        return messages.contains { $0.role == "user" } ? Conversation(origin: origin, messages: messages) : nil
    }

    /// Role names as the library maps them; unknown roles are assistant turns.
    public static func normalisedRole(_ role: String) -> String {
        switch role.lowercased() {
        case "human", "user": return "user"
        case "system": return "system"
        case "tool": return "tool"
        default: return "assistant"
        }
    }

    private static func text(of value: Any?, file: String, line: Int, turn: Int) throws -> String {
        switch value {
        case nil, is NSNull: return ""
        case let string as String: return string
        case let parts as [Any]:
            var text = ""
            for part in parts {
                if let string = part as? String { text += string; continue }
                guard let fields = part as? [String: Any] else { continue }
                if let piece = fields["text"] as? String { text += piece; continue }
                throw DataGenerationError.invalidLine(file: file, line: line,
                                                      problem: "turn \(turn) has non-text content (images are not supported)")
            }
            return text
        default:
            throw DataGenerationError.invalidLine(file: file, line: line, problem: "turn \(turn) content is not text")
        }
    }
}
