import Foundation
import Models
import Tensors
import Testing
import Tokenizers
import Training

/// The whole datagen pipeline on the tiny verifier with byte-token conversations.
@Suite("Datagen pipeline on the tiny verifier", .serialized) struct DataGenerationPipelineTests {
    static let conversations: [Conversation] = (0..<7).map { i in
        var messages = [ChatMessage(role: "user", content: "question \(i)")]
        if i % 3 == 0 {  // multi-turn: the given answer is replaced, the second user turn answered too
            messages += [ChatMessage(role: "assistant", content: "old answer"), ChatMessage(role: "user", content: "more \(i)")]
        }
        if i == 5 { messages.insert(ChatMessage(role: "system", content: "sys"), at: 0) }
        return Conversation(origin: "test:\(i)", messages: messages)
    }

    static func options(_ output: URL, stopAfter: Int? = nil, maxNewTokens: Int = 10,
                        precision: MatmulPrecision? = nil) -> DataGenerationOptions {
        DataGenerationOptions(output: output, verifierName: "tiny-llama", auxLayerIds: [1, 2],
                              settings: GenerationSettings(maxNewTokens: maxNewTokens, maxLength: 200, shardConversations: 3,
                                                           matmulPrecision: precision),
                              seed: 7, batchSize: 3, captureBatchTokens: 64, stopAfterShards: stopAfter)
    }

    func generate(_ output: URL, stopAfter: Int? = nil, maxNewTokens: Int = 10,
                  precision: MatmulPrecision? = nil) throws -> (DatasetIndex, Int) {
        let generator = try DataGenerator(verifier: try TrainingFixtures.tinyVerifier(), renderer: ByteRenderer(),
                                          eosTokenIds: ByteRenderer.stops, pool: TrainingFixtures.pool,
                                          options: Self.options(output, stopAfter: stopAfter, maxNewTokens: maxNewTokens,
                                                                precision: precision))
        let index = try generator.run(Self.conversations, source: "test")
        return (index, generator.shardsWritten)
    }

    func shards(_ directory: URL, _ index: DatasetIndex) throws -> [TrainingShard] {
        try index.shards.map { try TrainingShard(url: directory.appendingPathComponent($0.file), hiddenSize: 64, auxLayerCount: 2) }
    }

    @Test("The index describes the verifier, the layers and every shard")
    func index() throws {
        let output = try TrainingFixtures.temporaryDirectory("index")
        defer { try? FileManager.default.removeItem(at: output) }
        let (index, written) = try generate(output)
        #expect(written == 3)
        #expect(index.complete && index.plannedShards == 3 && index.shards.count == 3)
        #expect(index.format == "speculators-swift-datagen" && index.version == 1 && index.hiddenDtype == "BF16")
        #expect(index.hiddenSize == 64 && index.verifierLayers == 4 && index.vocabSize == 384 && index.auxLayerIds == [1, 2])
        #expect(index.shards.map(\.file) == ["shard-00000.safetensors", "shard-00001.safetensors", "shard-00002.safetensors"])
        #expect(index.shards.map(\.conversations) == [3, 3, 1])
        #expect(index.conversations == 7)
        let loaded = try #require(try DatasetIndex.load(directory: output))
        #expect(loaded == index)
        let json = try String(contentsOf: output.appendingPathComponent("index.json"), encoding: .utf8)
        for key in ["\"format\"", "\"verifier\"", "\"hidden_size\"", "\"verifier_layers\"", "\"aux_layer_ids\"", "\"hidden_dtype\"", "\"shards\""] {
            #expect(json.contains(key), "index.json lacks \(key)")
        }
        let files = try shards(output, index)
        #expect(files.map(\.tokenCount) == index.shards.map(\.tokens))
        #expect(files.map { $0.lossMask.filter { $0 }.count } == index.shards.map(\.supervisedTokens))
    }

    @Test("Regenerated answers are the verifier's greedy continuations, masked as supervised")
    func regeneration() throws {
        let output = try TrainingFixtures.temporaryDirectory("regen")
        defer { try? FileManager.default.removeItem(at: output) }
        let (index, _) = try generate(output)
        let verifier = try TrainingFixtures.tinyVerifier()
        let renderer = ByteRenderer()
        let first = try shards(output, index)[0]
        // Conversation 1 is single-turn: prompt + greedy answer, only the answer supervised.
        let row = first.span(1)
        let prompt = try renderer.render([ChatMessage(role: "user", content: "question 1")], addGenerationPrompt: true)
        let expected = try greedyContinuation(verifier, prompt: prompt, maxTokens: 10, eos: ByteRenderer.stops)
        #expect(Array(first.inputIds[row]) == prompt + expected)
        #expect(Array(first.lossMask[row]) == Array(repeating: false, count: prompt.count) + Array(repeating: true, count: expected.count))
        // Conversation 0 has two user turns; its row ends with the greedy answer to the second one, asked with
        // the regenerated first answer in the history (never the given "old answer").
        let multi = Array(first.inputIds[first.span(0)])
        let firstPrompt = try renderer.render([ChatMessage(role: "user", content: "question 0")], addGenerationPrompt: true)
        let firstAnswer = try greedyContinuation(verifier, prompt: firstPrompt, maxTokens: 10, eos: ByteRenderer.stops)
        #expect(Array(multi.prefix(firstPrompt.count)) == firstPrompt)
        #expect(!renderer.text(of: multi).contains("old answer"))
        try #require(ByteRenderer.stops.contains(firstAnswer.last ?? -1), "the first answer must end for a second turn")
        do {
            let history = [ChatMessage(role: "user", content: "question 0"),
                           ChatMessage(role: "assistant", content: renderer.text(of: firstAnswer)),
                           ChatMessage(role: "user", content: "more 0")]
            let secondPrompt = try renderer.render(history, addGenerationPrompt: true)
            let secondAnswer = try greedyContinuation(verifier, prompt: secondPrompt, maxTokens: 10, eos: ByteRenderer.stops)
            #expect(multi == secondPrompt + secondAnswer)
        }
    }

    @Test("Stored hidden states are the verifier's residual streams rounded to bfloat16")
    func hiddenStates() throws {
        let output = try TrainingFixtures.temporaryDirectory("states")
        defer { try? FileManager.default.removeItem(at: output) }
        let (index, _) = try generate(output)
        let verifier = try TrainingFixtures.tinyVerifier()
        for shard in try shards(output, index) {
            let aux = try shard.auxHiddenStates()
            let last = try shard.lastHiddenStates()
            #expect(aux.shape == [shard.tokenCount, 128] && last.shape == [shard.tokenCount, 64])
            for c in 0..<shard.conversationCount {
                let span = shard.span(c)
                let tokens = Array(shard.inputIds[span])
                // Reference: this row alone, in one forward, ids [1, 2, 4].
                let cache = try verifier.makeCache(capacity: tokens.count)
                let result = try verifier.forward([.init(cache: cache, tokens: tokens, logits: .none)], auxiliaryLayers: [1, 2, 4],
                                                  pool: TrainingFixtures.pool)
                let states = try #require(result.auxiliary)
                var mismatches = 0, beyondOneStep = 0
                for (r, position) in span.enumerated() {
                    for i in 0..<192 {
                        let reference = bf16Rounded(states[r * 192 + i])
                        let stored = i < 128 ? aux.base[position * 128 + i] : last.base[position * 64 + i - 128]
                        if stored != reference { mismatches += 1 }
                        // One bfloat16 step (8 significant bits) around the reference.
                        if abs(stored - reference) > abs(reference) / 128 + 1e-30 { beyondOneStep += 1 }
                    }
                }
                // Datagen captures several conversations in one GEMM (it needs no batch invariance), so a
                // float32 state can differ from this conversation alone in its last bits; after rounding to
                // bfloat16 that leaves at most a rare one-step difference, never more.
                #expect(beyondOneStep == 0, "conversation \(c): \(beyondOneStep) values differ by more than a bf16 step")
                #expect(mismatches * 100 <= span.count * 192, "conversation \(c): \(mismatches) values differ")
            }
        }
    }

    @Test("Shards round-trip: what was written reads back, bfloat16 exactly representable")
    func roundTrip() throws {
        let output = try TrainingFixtures.temporaryDirectory("roundtrip")
        defer { try? FileManager.default.removeItem(at: output) }
        let (index, _) = try generate(output)
        for shard in try shards(output, index) {
            #expect(shard.offsets.first == 0 && shard.offsets.last == shard.tokenCount)
            let aux = try shard.auxHiddenStates()
            for i in 0..<aux.count { #expect(aux.base[i] == bf16Rounded(aux.base[i])) }
            #expect(shard.file.info("input_ids")?.dataType == .i32)
            #expect(shard.file.info("loss_mask")?.dataType == .bool)
            #expect(shard.file.info("offsets")?.dataType == .i64)
            #expect(shard.file.info("aux_hidden_states")?.dataType == .bf16)
        }
    }

    @Test("An interrupted run resumes where it stopped and ends byte-identical to an uninterrupted one")
    func resume() throws {
        let straight = try TrainingFixtures.temporaryDirectory("straight")
        let resumed = try TrainingFixtures.temporaryDirectory("resumed")
        defer { try? FileManager.default.removeItem(at: straight); try? FileManager.default.removeItem(at: resumed) }
        let (full, _) = try generate(straight)
        let (partial, firstWritten) = try generate(resumed, stopAfter: 1)
        #expect(firstWritten == 1 && !partial.complete && partial.shards.count == 1)
        let (finished, secondWritten) = try generate(resumed)
        #expect(secondWritten == 2)
        #expect(finished == full)
        for shard in full.shards {
            let a = try Data(contentsOf: straight.appendingPathComponent(shard.file))
            let b = try Data(contentsOf: resumed.appendingPathComponent(shard.file))
            #expect(a == b, "\(shard.file) differs")
        }
        // Once complete, a rerun does nothing.
        let (_, thirdWritten) = try generate(resumed)
        #expect(thirdWritten == 0)
    }

    @Test("Resuming with different settings is refused with a clear error")
    func incompatibleResume() throws {
        let output = try TrainingFixtures.temporaryDirectory("incompatible")
        defer { try? FileManager.default.removeItem(at: output) }
        _ = try generate(output, stopAfter: 1)
        let error = #expect(throws: DataGenerationError.self) { try generate(output, maxNewTokens: 5) }
        #expect(error?.description.contains("generation settings") == true)
    }

    @Test("Token counts over two datasets are the sums of each one's, and a token budget runs across them in order")
    func countsOverSeveralDatasets() throws {
        let first = try TrainingFixtures.temporaryDirectory("counts-a"), second = try TrainingFixtures.temporaryDirectory("counts-b")
        defer { for folder in [first, second] { try? FileManager.default.removeItem(at: folder) } }
        let (firstIndex, _) = try generate(first)
        _ = try generate(second, maxNewTokens: 6)
        let a = try TokenCounts.count(dataset: first), b = try TokenCounts.count(dataset: second)
        let both = try TokenCounts.count(datasets: [first, second])
        #expect(both.counts == zip(a.counts, b.counts).map { $0 + $1 })
        #expect(try TokenCounts.count(datasets: [first, second], maxTokens: firstIndex.tokens) == a)
    }

    @Test("A bf16 run records its precision in the index, and resuming it in float32 is refused",
          .enabled(if: BFloat16Product.isSupported, "needs AVX-512 BF16"))
    func bf16Precision() throws {
        let single = try TrainingFixtures.temporaryDirectory("f32"), half = try TrainingFixtures.temporaryDirectory("bf16")
        defer { for folder in [single, half] { try? FileManager.default.removeItem(at: folder) } }
        _ = try generate(single, stopAfter: 1)
        let singleJSON = try String(contentsOf: single.appendingPathComponent("index.json"), encoding: .utf8)
        #expect(!singleJSON.contains("matmul_precision"), "a float32 index keeps the older format")
        let (index, _) = try generate(half, stopAfter: 1, precision: .bfloat16)
        #expect(index.generation.matmulPrecision == .bfloat16)
        let json = try String(contentsOf: half.appendingPathComponent("index.json"), encoding: .utf8)
        #expect(json.contains("matmul_precision") && json.contains("bf16"))
        let error = #expect(throws: DataGenerationError.self) { try generate(half) }
        #expect(error?.description.contains("generation settings") == true)
        #expect(try generate(half, precision: .bfloat16).0.complete)
    }

    @Test("Keeping the given answers supervises them by render boundaries")
    func keepResponses() throws {
        let output = try TrainingFixtures.temporaryDirectory("keep")
        defer { try? FileManager.default.removeItem(at: output) }
        var options = Self.options(output)
        options.settings.regenerate = false
        let generator = try DataGenerator(verifier: try TrainingFixtures.tinyVerifier(), renderer: ByteRenderer(),
                                          eosTokenIds: ByteRenderer.stops, pool: TrainingFixtures.pool, options: options)
        let index = try generator.run(Self.conversations, source: "test")
        // Only conversations 0, 3 and 6 have an assistant turn.
        #expect(index.conversations == 3 && index.droppedEmpty == 4)
        let shard = try TrainingShard(url: output.appendingPathComponent(index.shards[0].file), hiddenSize: 64, auxLayerCount: 2)
        let expected = try LossMask.conversationRows(Self.conversations[0].messages, renderer: ByteRenderer(), maxLength: 200)
        #expect(Array(shard.inputIds[shard.span(0)]) == expected[0].inputIds)
        #expect(Array(shard.lossMask[shard.span(0)]) == expected[0].lossMask)
    }

    @Test("Bad settings are refused before any work")
    func badSettings() throws {
        let verifier = try TrainingFixtures.tinyVerifier()
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("never-\(UUID().uuidString)")
        var options = Self.options(output)
        options.settings.maxLength = 10_000
        #expect(throws: DataGenerationError.self) {
            try DataGenerator(verifier: verifier, renderer: ByteRenderer(), eosTokenIds: [2], pool: TrainingFixtures.pool, options: options)
        }
        options = Self.options(output)
        options.auxLayerIds = [2, 9]
        #expect(throws: DataGenerationError.self) {
            try DataGenerator(verifier: verifier, renderer: ByteRenderer(), eosTokenIds: [2], pool: TrainingFixtures.pool, options: options)
        }
        #expect(!FileManager.default.fileExists(atPath: output.path))
    }

    static func magpieGenerator() throws -> ResponseGenerator {
        ResponseGenerator(verifier: try TrainingFixtures.tinyVerifier(), eosTokenIds: ByteRenderer.stops,
                          pool: TrainingFixtures.pool, batchSize: 8)
    }

    static func magpieSynthesizer() -> MagpieSynthesizer {
        var synthesizer = MagpieSynthesizer(system: "sys", seed: 3)
        synthesizer.maxTokens = 40
        return synthesizer
    }

    @Test("Magpie synthesis samples distinct finished user turns from an open user header, reproducibly")
    func magpie() throws {
        let generator = try Self.magpieGenerator()
        let synthesizer = Self.magpieSynthesizer()
        let prompts = try synthesizer.synthesize(count: 3, renderer: ByteRenderer(), generator: generator, guard: EvaluationGuard())
        let again = try synthesizer.synthesize(count: 3, renderer: ByteRenderer(), generator: generator, guard: EvaluationGuard())
        #expect(prompts.count == 3)
        #expect(prompts == again)
        #expect(Set(prompts.map(EvaluationGuard.normalise)).count == prompts.count)
        #expect(prompts.allSatisfy { !$0.isEmpty })
    }

    @Test("Steered Magpie prompts start with their openings, taken in turn, and differ from free ones")
    func steeredMagpie() throws {
        let generator = try Self.magpieGenerator()
        var synthesizer = Self.magpieSynthesizer()
        let free = try synthesizer.synthesize(count: 4, renderer: ByteRenderer(), generator: generator, guard: EvaluationGuard())
        synthesizer.openings = ["Write a", "Solve"]
        let steered = try synthesizer.synthesize(count: 4, renderer: ByteRenderer(), generator: generator, guard: EvaluationGuard())
        #expect(steered.count == 4)
        #expect(steered.allSatisfy { $0.hasPrefix("Write a") || $0.hasPrefix("Solve") }, "\(steered)")
        #expect(steered.contains { $0.hasPrefix("Write a") } && steered.contains { $0.hasPrefix("Solve") })
        #expect(steered != free)
        let again = try synthesizer.synthesize(count: 4, renderer: ByteRenderer(), generator: generator, guard: EvaluationGuard())
        #expect(again == steered)
    }
}
