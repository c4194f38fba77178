import Foundation
import Testing
import Tokenizers
import Training

@Suite("Datagen input files") struct DataGenerationInputTests {
    @Test("ShareGPT, OpenAI, prompt, bare-string and MT-Bench records normalise as the library does")
    func normalisation() throws {
        let conversations = try ConversationReader.read(TrainingFixtures.url("conversations.jsonl"))
        // The last record has no user turn and is skipped.
        try #require(conversations.count == 5)
        #expect(conversations[0].messages == [
            ChatMessage(role: "system", content: "Be brief."), ChatMessage(role: "user", content: "Name a colour."),
            ChatMessage(role: "assistant", content: "Blue."), ChatMessage(role: "user", content: "Another?"),
            // An unknown role ("bard") is an assistant turn.
            ChatMessage(role: "assistant", content: "Red."),
        ])
        #expect(conversations[1].messages == [ChatMessage(role: "user", content: "Hello there"),
                                              ChatMessage(role: "assistant", content: "Hi!")])
        #expect(conversations[2].messages == [ChatMessage(role: "system", content: "You are a poet."),
                                              ChatMessage(role: "user", content: "Write a haiku about the sea.")])
        #expect(conversations[3].messages == [ChatMessage(role: "user", content: "A bare string prompt")])
        #expect(conversations[4].userTexts == ["First question", "Second question"])
        #expect(conversations[0].origin.hasSuffix("conversations.jsonl:1"))
    }

    @Test("Gzip input, single or multi-member, reads the same as the plain file")
    func gzip() throws {
        let plain = try ConversationReader.read(TrainingFixtures.url("conversations.jsonl")).map(\.messages)
        #expect(try ConversationReader.read(TrainingFixtures.url("conversations.jsonl.gz")).map(\.messages) == plain)
        #expect(try ConversationReader.read(TrainingFixtures.url("conversations-2members.jsonl.gz")).map(\.messages) == plain)
    }

    @Test("A truncated gzip file is an error naming the file")
    func truncatedGzip() throws {
        let error = #expect(throws: DataGenerationError.self) {
            try ConversationReader.read(TrainingFixtures.url("truncated.jsonl.gz"))
        }
        #expect(error?.description.contains("truncated.jsonl.gz") == true)
        #expect(error?.description.contains("gzip") == true)
    }

    @Test("Bad records are errors naming the file and line")
    func badLines() throws {
        let cases: [(String, String)] = [
            ("{\"prompt\": \"ok\"}\n{not json}\n", ":2: invalid JSON"),
            ("{\"conversations\": 3}\n", ":1: `conversations`/`messages` must be a list"),
            ("{\"other\": 1}\n", ":1: no `conversations`"),
            ("{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"image_url\", \"image_url\": {}}]}]}\n", "images are not supported"),
            ("[1, 2]\n", ":1: expected a JSON object or string"),
        ]
        for (text, expected) in cases {
            let error = #expect(throws: DataGenerationError.self) { try ConversationReader.parse(Data(text.utf8), file: "in.jsonl") }
            #expect(error?.description.contains(expected) == true, "\(error?.description ?? "no error") should contain \(expected)")
        }
        #expect(throws: DataGenerationError.self) { try ConversationReader.read(URL(fileURLWithPath: "/nonexistent/x.jsonl")) }
    }

    @Test("A JSON array file is read like JSONL")
    func jsonArray() throws {
        let text = "[{\"prompt\": \"a\"}, {\"conversations\": [{\"from\": \"human\", \"value\": \"b\"}]}]"
        let conversations = try ConversationReader.parse(Data(text.utf8), file: "x.json")
        #expect(conversations.map(\.userTexts) == [["a"], ["b"]])
    }
}

@Suite("Evaluation-set refusal") struct DataGenerationEvaluationTests {
    @Test("SHA-256 matches the FIPS 180-4 test vectors")
    func sha256() {
        #expect(SHA256.hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(SHA256.hex(String(repeating: "a", count: 1000)) == "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
    }

    @Test("Normalisation ignores case, whitespace runs and Unicode composition")
    func normalisation() {
        #expect(EvaluationGuard.normalise("  Hello,\n\tWORLD  ") == "hello, world")
        #expect(EvaluationGuard.normalise("cafe\u{301}") == EvaluationGuard.normalise("caf\u{E9}"))
        #expect(EvaluationGuard.hash("Hello  world") == EvaluationGuard.hash("hello world"))
        #expect(EvaluationGuard.hash("Hello world!") != EvaluationGuard.hash("hello world"))
    }

    @Test("The shipped guard knows 160 MT-Bench turns and 164 HumanEval prompts")
    func shippedCounts() {
        #expect(EvaluationGuard().count == 160 + 164)
    }

    @Test("Every MT-Bench question turn in data/ is recognised, in any case and spacing (needs `make models`)",
          .enabled(if: FileManager.default.fileExists(atPath: TrainingFixtures.mtBench.path)))
    func mtBench() throws {
        let questions = try ConversationReader.read(TrainingFixtures.mtBench)
        #expect(questions.count == 80)
        let guardian = EvaluationGuard()
        for question in questions {
            #expect(guardian.evaluationSet(of: question) == "MT-Bench", "\(question.origin)")
            for turn in question.userTexts {
                #expect(guardian.evaluationSet(of: "\n " + turn.uppercased() + "  ") == "MT-Bench")
            }
        }
    }

    @Test("Datagen refuses an input holding an evaluation prompt, or drops it when asked")
    func refusal() throws {
        let verifier = try TrainingFixtures.tinyVerifier()
        let secret = "What is the capital of the evaluation set?"
        let evaluation = EvaluationGuard(extra: [EvaluationGuard.hash(secret): "TestEval"])
        let conversations = [
            Conversation(origin: "in.jsonl:1", messages: [ChatMessage(role: "user", content: "hello")]),
            Conversation(origin: "in.jsonl:2", messages: [ChatMessage(role: "user", content: "fine"),
                                                          ChatMessage(role: "assistant", content: "ok"),
                                                          ChatMessage(role: "user", content: "  WHAT is the capital of the evaluation set?")]),
        ]
        let output = try TrainingFixtures.temporaryDirectory("refusal")
        defer { try? FileManager.default.removeItem(at: output) }
        var options = DataGenerationOptions(output: output, verifierName: "tiny-llama", auxLayerIds: [1, 2],
                                            settings: GenerationSettings(maxNewTokens: 4, maxLength: 128, shardConversations: 4),
                                            evaluationGuard: evaluation)
        let refusing = try DataGenerator(verifier: verifier, renderer: ByteRenderer(), eosTokenIds: [ByteRenderer.end],
                                         pool: TrainingFixtures.pool, options: options)
        let error = #expect(throws: DataGenerationError.self) { try refusing.run(conversations, source: "in.jsonl") }
        #expect(error == .evaluationData(origin: "in.jsonl:2", set: "TestEval"))
        #expect(!FileManager.default.fileExists(atPath: output.appendingPathComponent("index.json").path))

        options.dropEvaluationPrompts = true
        let dropping = try DataGenerator(verifier: verifier, renderer: ByteRenderer(), eosTokenIds: [ByteRenderer.end],
                                         pool: TrainingFixtures.pool, options: options)
        let index = try dropping.run(conversations, source: "in.jsonl")
        #expect(index.droppedEvaluation == 1)
        #expect(index.plannedConversations == 1)
        #expect(index.complete)
    }
}
