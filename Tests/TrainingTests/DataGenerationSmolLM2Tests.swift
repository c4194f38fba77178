import Engine
import Foundation
import Testing
import Tokenizers
import Training

/// The real verifier, tokenizer and chat template (skipped without `make models`).
@Suite("Datagen on SmolLM2", .serialized, .enabled(if: TrainingFixtures.hasSmolLM2, "needs models/SmolLM2-135M-Instruct.Q4_1.gguf (make models)"))
struct DataGenerationSmolLM2Tests {
    static let bundle: ModelBundle? = try? ModelBundle.load(path: TrainingFixtures.smolLM2)

    func renderer() throws -> TemplateRenderer {
        let bundle = try #require(Self.bundle)
        return TemplateRenderer(template: try #require(bundle.chatTemplate), tokenizer: bundle.tokenizer)
    }

    struct GreedyCase: Decodable {
        let messages: [ChatMessage]
        let prompt_ids: [Int]
        let output_ids: [Int]
    }

    @Test("Regenerated rows are the template's prompt ids plus the transformers greedy output")
    func regeneratedMatchesGolden() throws {
        let bundle = try #require(Self.bundle)
        struct File: Decodable { let cases: [GreedyCase] }
        let cases = try JSONDecoder().decode(File.self, from: Data(contentsOf: TrainingFixtures.url("smollm2-greedy.json"))).cases
        let picked = Array(cases.filter { $0.messages.count == 1 }.prefix(3))
        try #require(picked.count == 3)
        let output = try TrainingFixtures.temporaryDirectory("smol")
        defer { try? FileManager.default.removeItem(at: output) }
        let options = DataGenerationOptions(output: output, verifierName: "SmolLM2",
                                            settings: GenerationSettings(maxNewTokens: 6, maxLength: 512, shardConversations: 8),
                                            batchSize: 3)
        let generator = try DataGenerator(verifier: bundle.verifier, renderer: try renderer(), eosTokenIds: bundle.eosTokenIds,
                                          pool: TrainingFixtures.pool, options: options)
        let index = try generator.run(picked.enumerated().map { Conversation(origin: "golden:\($0.offset)", messages: $0.element.messages) },
                                      source: "golden")
        #expect(index.auxLayerIds == [2, 15, 27] && index.verifierLayers == 30 && index.hiddenSize == 576)
        let shard = try TrainingShard(url: output.appendingPathComponent(index.shards[0].file), hiddenSize: 576, auxLayerCount: 3)
        for (c, golden) in picked.enumerated() {
            let ids = Array(shard.inputIds[shard.span(c)])
            #expect(Array(ids.prefix(golden.prompt_ids.count)) == golden.prompt_ids)
            #expect(Array(ids.dropFirst(golden.prompt_ids.count)) == Array(golden.output_ids.prefix(6)))
            #expect(Array(shard.lossMask[shard.span(c)]).filter { $0 }.count == 6)
        }
        let last = try shard.lastHiddenStates()
        #expect((0..<last.count).allSatisfy { last.base[$0].isFinite })
    }

    @Test("Kept answers are supervised from the answer text through <|im_end|> and its newline")
    func keptAnswerMask() throws {
        let renderer = try renderer()
        let messages = [ChatMessage(role: "user", content: "Hi"), ChatMessage(role: "assistant", content: "Hello there!"),
                        ChatMessage(role: "user", content: "Bye"), ChatMessage(role: "assistant", content: "Goodbye.")]
        let rows = try LossMask.conversationRows(messages, renderer: renderer, maxLength: 4096)
        try #require(rows.count == 1)
        let supervised = zip(rows[0].inputIds, rows[0].lossMask).filter(\.1).map(\.0)
        let bundle = try #require(Self.bundle)
        #expect(bundle.tokenizer.decode(supervised) == "Hello there!<|im_end|>\nGoodbye.<|im_end|>\n")
    }

    @Test("The Magpie header is the template up to an open user turn")
    func magpieHeader() throws {
        let renderer = try renderer()
        let bundle = try #require(Self.bundle)
        let header = try renderer.openUserTurn(system: "Be kind.", opening: "")
        #expect(bundle.tokenizer.decode(header) == "<|im_start|>system\nBe kind.<|im_end|>\n<|im_start|>user\n")
        let defaultHeader = bundle.tokenizer.decode(try renderer.openUserTurn(system: nil, opening: ""))
        #expect(defaultHeader.hasPrefix("<|im_start|>system\nYou are a helpful AI assistant named SmolLM"))
        #expect(defaultHeader.hasSuffix("<|im_end|>\n<|im_start|>user\n"))
        let steered = try renderer.openUserTurn(system: "Be kind.", opening: "Write a")
        #expect(Array(steered.prefix(header.count)) == header)
        #expect(bundle.tokenizer.decode(Array(steered.dropFirst(header.count))) == "Write a")
    }
}
