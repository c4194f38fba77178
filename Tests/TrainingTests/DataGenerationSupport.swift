import Foundation
import Models
import Tensors
import Testing
import Tokenizers
import Training

/// Fixtures beside this file and the tiny verifier.
enum TrainingFixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let pool = ThreadPool(threadCount: 2)

    static func url(_ name: String) -> URL { root.appendingPathComponent(name) }

    /// tiny-llama: 4 layers, hidden 64, vocab 384, 256 positions.
    static func tinyVerifier() throws -> TransformerModel {
        try TransformerModel.load(from: url("tiny-llama"))
    }

    static let smolLM2 = packageRoot.appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf")
    static var hasSmolLM2: Bool { FileManager.default.fileExists(atPath: smolLM2.path) }
    static let mtBench = packageRoot.appendingPathComponent("data/mt_bench_question.jsonl")

    /// A fresh empty directory under the system temporary directory.
    static func temporaryDirectory(_ label: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("datagen-tests-\(label)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

/// A ChatML-like renderer over byte tokens, for the tiny models (which have no tokenizer):
/// `[1, role] + (10 + byte)… + [2, 7]` per message, `[1, 5]` as the generation prompt. Ids: 1 start, 2 end
/// (the EOS), 3 system, 4 user, 5 assistant, 6 any other role, 7 newline, 10..<266 bytes.
struct ByteRenderer: ConversationRenderer {
    static let end = 2
    /// What ends a generated turn for the random tiny model: the end token, or any id without text
    /// (300..<384), so that turns end within a few tokens and multi-turn regeneration is exercised.
    static let stops: Set<Int> = Set(300..<384).union([end])

    /// Like Qwen3 dropping reasoning: earlier assistant turns lose their first byte when rendered
    /// before another turn (so the rows of a conversation are not prefixes of each other).
    var shortensEarlierAnswers = false
    /// A template that closes the last user turn differently from an earlier one (unstable boundaries).
    var marksLastUserTurn = false

    static func role(_ role: String) -> Int {
        switch role {
        case "system": return 3
        case "user": return 4
        case "assistant": return 5
        default: return 6
        }
    }

    static func bytes(_ text: String) -> [Int] { text.utf8.map { 10 + Int($0) } }

    func render(_ messages: [ChatMessage], addGenerationPrompt: Bool) throws -> [Int] {
        var ids: [Int] = []
        for (index, message) in messages.enumerated() {
            var content = message.content
            let isLast = index == messages.count - 1
            if shortensEarlierAnswers, message.role == "assistant", !isLast, !content.isEmpty { content.removeFirst() }
            ids += [1, Self.role(message.role)] + Self.bytes(content)
            if marksLastUserTurn, isLast, message.role == "user" { ids.append(8) }
            ids += [2, 7]
        }
        if addGenerationPrompt { ids += [1, 5] }
        return ids
    }

    func openUserTurn(system: String?, opening: String) throws -> [Int] {
        (system.map { [1, 3] + Self.bytes($0) + [2, 7] } ?? []) + [1, 4] + Self.bytes(opening)
    }

    func text(of tokens: [Int]) -> String {
        String(decoding: tokens.filter { $0 >= 10 && $0 < 266 }.map { UInt8($0 - 10) }, as: UTF8.self)
    }
}

/// Greedy continuation of `prompt` by plain KV-cached decoding (the reference for regenerated responses).
func greedyContinuation(_ model: TransformerModel, prompt: [Int], maxTokens: Int, eos: Set<Int>) throws -> [Int] {
    let cache = try model.makeCache(capacity: prompt.count + maxTokens + 1)
    var output: [Int] = []
    var next = prompt
    for _ in 0..<maxTokens {
        let result = try model.forward([.init(cache: cache, tokens: next, logits: .last)], pool: TrainingFixtures.pool)
        let token = Kernels.argmax(result.logits(request: 0, row: 0), count: result.vocabularySize)
        output.append(token)
        if eos.contains(token) { break }
        next = [token]
    }
    return output
}

/// float32 → bfloat16 → float32, round to nearest even (the reference for stored states).
func bf16Rounded(_ value: Float) -> Float {
    let bits = value.bitPattern
    let rounded = (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) & 0xFFFF_0000
    return Float(bitPattern: rounded)
}
