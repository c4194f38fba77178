import Engine
import Foundation
import Models
import Tensors
import Testing
import Tokenizers

/// The real verifier, fetched by `make models`; the reference draft ships with the project.
enum SmolLM2 {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    static let modelURL = packageRoot.appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf")
    static let draftURL = packageRoot.appendingPathComponent("assets/drafts/smollm2-135m-eagle3-ref")
    static var available: Bool { FileManager.default.fileExists(atPath: modelURL.path) }

    /// Loaded once for every test that needs it.
    static let bundle: Result<ModelBundle, Error> = Result { try ModelBundle.load(path: modelURL) }

    static func requireBundle() throws -> ModelBundle {
        if !available, ProcessInfo.processInfo.environment["CI"] != nil {
            Issue.record("\(modelURL.path) is missing: `make test` runs `make models` first")
        }
        return try bundle.get()
    }

    static func cases() throws -> [[String: Any]] {
        let url = packageRoot.appendingPathComponent("Tests/EngineTests/Fixtures/smollm2-greedy.json")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        return try #require(json["cases"] as? [[String: Any]])
    }
}

/// Serialized: the tests share one model, and a model runs one forward at a time whose logits
/// stay valid only until the next forward (a test reading them while another ran would see the
/// other's).
@Suite("SmolLM2-135M from the GGUF against the transformers goldens", .serialized,
       .enabled(if: SmolLM2.available, "run `make models` first"))
struct SmolLM2Tests {
    @Test("Chat prompts render and tokenize to the reference prompt ids")
    func promptIds() throws {
        let bundle = try SmolLM2.requireBundle()
        let template = try #require(bundle.chatTemplate)
        for item in try SmolLM2.cases() {
            let messages = (item["messages"] as? [[String: String]] ?? []).map { ChatMessage(role: $0["role"] ?? "", content: $0["content"] ?? "") }
            let text = try template.render(messages, addGenerationPrompt: true)
            #expect(text == item["prompt_text"] as? String)
            #expect(bundle.tokenizer.encode(text, parseSpecialTokens: true, addSpecialTokens: false) == item["prompt_ids"] as? [Int])
        }
    }

    @Test("The tokenizer and chat template load without the weights, from the GGUF and from a folder of tokenizer files only")
    func promptCodecWithoutWeights() throws {
        let bundle = try SmolLM2.requireBundle()
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../TokenizersTests/Fixtures/smollm2-hf").standardizedFileURL
        #expect(!FileManager.default.fileExists(atPath: folder.appendingPathComponent("model.safetensors").path))
        let text = "Hello 123, <|im_start|>wörld 👍"
        let messages = [ChatMessage(role: "user", content: text)]
        for codec in [try PromptCodec.load(path: SmolLM2.modelURL), try PromptCodec.load(path: folder)] {
            #expect(codec.tokenizer.encode(text) == bundle.tokenizer.encode(text))
            let rendered = try #require(codec.chatTemplate).render(messages, addGenerationPrompt: true)
            #expect(rendered == (try #require(bundle.chatTemplate).render(messages, addGenerationPrompt: true)))
        }
    }

    @Test("An output that ends inside a character ends without it, as vLLM's incremental detokenizer ends it")
    func outputEndsBeforeAnUnfinishedCharacter() throws {
        let bundle = try SmolLM2.requireBundle()
        // "a👍" is "a" and then the emoji's three byte tokens (F0 9F | 91 | 8D).
        let ids = bundle.tokenizer.encode("a👍", addSpecialTokens: false)
        try #require(ids.count == 4)
        var stream = bundle.textStream()
        let text = ids.dropLast().map { stream.append($0) }.joined() + stream.finish()
        #expect(text == "a")
        var whole = bundle.textStream()
        #expect(ids.map { whole.append($0) }.joined() + whole.finish() == "a👍")
    }

    @Test("Prefill logits at the first generated position are within 1e-3 of the reference top-5")
    func prefillLogits() throws {
        let bundle = try SmolLM2.requireBundle()
        let model = bundle.verifier
        for item in try SmolLM2.cases() {
            let prompt = try #require(item["prompt_ids"] as? [Int])
            let top5 = try #require(item["first_position_top5"] as? [String: Any])
            let output = try model.forward([.init(cache: try model.makeCache(capacity: prompt.count + 1), tokens: prompt, logits: .last)],
                                           pool: TinyModels.pool)
            let logits = output.logits(request: 0, row: 0)
            for (id, value) in zip(ints(top5["ids"]), (top5["logits"] as? [Double]) ?? []) {
                #expect(abs(Double(logits[id]) - value) <= 1e-3 + 1e-5 * abs(value), "logit of \(id)")
            }
            #expect(Kernels.argmax(logits, count: model.config.vocabSize) == ints(top5["ids"]).first)
        }
    }

    @Test("Greedy outputs equal the reference up to the first near-tie, with and without the draft")
    func greedyOutputs() throws {
        let bundle = try SmolLM2.requireBundle()
        let draft = try Eagle3DraftModel.load(folder: SmolLM2.draftURL, verifier: bundle.verifier)
        let cases = try SmolLM2.cases()
        func run(draft: Eagle3DraftModel?, k: Int?) throws -> [[Int]] {
            let engine = SpeculativeEngine(
                verifier: bundle.verifier, draft: draft,
                configuration: .init(maxSpeculativeTokens: 5, speculativeTokens: k, maxModelLength: 2048,
                                     eosTokenIds: bundle.eosTokenIds),
                pool: TinyModels.pool, makeTextStream: { bundle.textStream(skipSpecialTokens: $0) })
            let requests = try cases.map { GenerationRequest(prompt: try #require($0["prompt_ids"] as? [Int]), maxTokens: 48) }
            return try TinyModels.run(engine, requests).map(\.tokens)
        }
        let plain = try run(draft: nil, k: nil)
        for (item, output) in zip(cases, plain) {
            let reference = ints(item["output_ids"])
            let margins = (item["top1_top2_margin"] as? [Double]) ?? []
            let trusted = margins.firstIndex { $0 < 1e-3 } ?? reference.count
            #expect(Array(output.prefix(trusted)) == Array(reference.prefix(trusted)), "case \(item["id"] ?? "?")")
        }
        for k in [1, 3, 5] {
            #expect(try run(draft: draft, k: k) == plain, "k = \(k) differs from plain greedy decoding")
        }
        #expect(try run(draft: draft, k: nil) == plain, "adaptive k differs from plain greedy decoding")
    }

    @Test("Computed from the GGUF's Q4_1 and Q8_0 blocks, with or without float32 copies, every logit has the float32 weights' bits, and speculative decoding emits the same tokens")
    func quantizedWeights() throws {
        let bundle = try SmolLM2.requireBundle()
        let quantized = try ModelBundle.load(path: SmolLM2.modelURL, weights: .quantized)
        let model = quantized.verifier, vocab = model.config.vocabSize
        // Every layer's four matrices are Q4_1 and the tied head (the embedding) is Q8_0.
        #expect(model.usesQuantizedWeights && model.quantizedMatrixCount == 4 * model.config.layerCount + 1)
        func logits(_ model: TransformerModel, _ cache: KVCache, _ tokens: [Int]) throws -> [UInt32] {
            let output = try model.forward([.init(cache: cache, tokens: tokens, logits: .all)], pool: TinyModels.pool)
            return (0..<tokens.count).flatMap { row in
                UnsafeBufferPointer(start: output.logits(request: 0, row: row), count: vocab).map(\.bitPattern)
            }
        }
        func compareLogits(_ form: String, _ model: TransformerModel) throws {
            for item in try SmolLM2.cases().prefix(3) {
                let prompt = try #require(item["prompt_ids"] as? [Int])
                let plainCache = try bundle.verifier.makeCache(capacity: prompt.count + 8)
                let quantizedCache = try model.makeCache(capacity: prompt.count + 8)
                // The prompt (a prefill chunk), then a verification-sized chunk and one decode row.
                for chunk in [prompt, [504, 6376, 314, 4461, 30], [657]] {
                    #expect(try logits(bundle.verifier, plainCache, chunk) == logits(model, quantizedCache, chunk),
                            "\(form): case \(item["id"] ?? "?"), chunk of \(chunk.count)")
                }
            }
        }
        try compareLogits("float32 copies kept", model)
        // What serving loads: the layers read as blocks alone, never as float32 (with AVX-512,
        // where the blocks' kernel is the fastest for every pass); the tied embedding and head
        // keep their float32 rows.
        let lean = try ModelBundle.load(path: SmolLM2.modelURL, weights: .automatic, blocksOnly: true)
        #expect(lean.verifier.quantizedMatrixCount == model.quantizedMatrixCount)
        let withoutFloat32 = QuantizedWeights.fastestUpToRows == Int.max
        #expect(lean.verifier.hasBlocksOnlyLayers == withoutFloat32)
        #expect(lean.verifier.layers.allSatisfy { ($0.qkv.weight == nil) == withoutFloat32 && ($0.down.weight == nil) == withoutFloat32 })
        #expect(lean.verifier.head.weight != nil)
        if withoutFloat32 {
            lean.verifier.useQuantizedWeights(false)
            #expect(lean.verifier.usesQuantizedWeights, "layers without float32 weights cannot switch back to them")
        }
        try compareLogits("loaded as blocks alone", lean.verifier)
        try compareScreenedRows(lean.verifier, bundle.verifier)
        let draft = try Eagle3DraftModel.load(folder: SmolLM2.draftURL, verifier: lean.verifier)
        let requests = try SmolLM2.cases().map { GenerationRequest(prompt: try #require($0["prompt_ids"] as? [Int]), maxTokens: 32) }
        func run(_ bundle: ModelBundle, draft: Eagle3DraftModel?) throws -> [[Int]] {
            let engine = SpeculativeEngine(
                verifier: bundle.verifier, draft: draft,
                configuration: .init(maxSpeculativeTokens: 5, speculativeTokens: draft == nil ? nil : 3, maxModelLength: 2048,
                                     eosTokenIds: bundle.eosTokenIds),
                pool: TinyModels.pool, makeTextStream: { bundle.textStream(skipSpecialTokens: $0) })
            return try TinyModels.run(engine, requests).map(\.tokens)
        }
        #expect(try run(lean, draft: draft) == run(bundle, draft: nil))
    }

    /// With a quantised head, greedy passes of at least 8 rows are screened in bfloat16 (fewer
    /// are not), and keep the float32 head's tokens and candidate logits.
    func compareScreenedRows(_ model: TransformerModel, _ float32: TransformerModel) throws {
        guard model.enableArgmaxScreening() else { return }
        let vocab = model.config.vocabSize
        let prompts = try SmolLM2.cases().prefix(8).map { try #require($0["prompt_ids"] as? [Int]) }
        for sequences in [4, 8] {
            let requests = { (model: TransformerModel, argmaxOnly: Bool) in
                try prompts.prefix(sequences).map {
                    TransformerModel.Request(cache: try model.makeCache(capacity: $0.count), tokens: $0, logits: .last,
                                             argmaxOnly: argmaxOnly)
                }
            }
            let screened = try model.forward(try requests(model, true), pool: TinyModels.pool)
            let exact = try float32.forward(try requests(float32, false), pool: TinyModels.pool)
            #expect(screened.screenedRows == (sequences >= 8 ? sequences : 0), "\(sequences) rows")
            for s in 0..<sequences {
                let fast = UnsafeBufferPointer(start: screened.logits(request: s, row: 0), count: vocab)
                let full = UnsafeBufferPointer(start: exact.logits(request: s, row: 0), count: vocab)
                #expect(Kernels.argmax(Array(fast), count: vocab) == Kernels.argmax(Array(full), count: vocab))
                #expect(zip(fast, full).allSatisfy { $0 == -.infinity || $0.bitPattern == $1.bitPattern })
            }
        }
    }

    @Test("The screened head picks the float32 head's token at every greedy step, with bit-identical candidate logits",
          .enabled(if: BFloat16Product.isSupported, "needs AVX-512 BF16"))
    func screenedHead() throws {
        let bundle = try SmolLM2.requireBundle()
        let model = bundle.verifier
        try #require(model.enableArgmaxScreening(), "screening could not be enabled")
        let vocab = model.config.vocabSize
        func rowArray(_ row: UnsafePointer<Float>, _ count: Int) -> [Float] { Array(UnsafeBufferPointer(start: row, count: count)) }
        var rows = 0, candidates = 0
        for item in try SmolLM2.cases() {
            let prompt = try #require(item["prompt_ids"] as? [Int])
            let full = try model.makeCache(capacity: prompt.count + 40), screened = try model.makeCache(capacity: prompt.count + 40)
            var tokens = prompt
            for _ in 0..<32 {
                let exact = rowArray(try model.forward([.init(cache: full, tokens: tokens, logits: .last)], pool: TinyModels.pool)
                    .logits(request: 0, row: 0), vocab)
                let output = try model.forward([.init(cache: screened, tokens: tokens, logits: .last, argmaxOnly: true)],
                                               pool: TinyModels.pool)
                let fast = rowArray(output.logits(request: 0, row: 0), vocab)
                let token = Kernels.argmax(exact, count: vocab)
                #expect(Kernels.argmax(fast, count: vocab) == token, "case \(item["id"] ?? "?")")
                #expect(zip(fast, exact).allSatisfy { $0 == -.infinity || $0.bitPattern == $1.bitPattern })
                rows += output.screenedRows
                candidates += output.screenedCandidates
                tokens = [token]
            }
        }
        #expect(rows > 0 && Double(candidates) / Double(rows) < 20, "\(candidates) candidates in \(rows) rows")
    }
}

