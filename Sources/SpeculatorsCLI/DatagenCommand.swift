import ArgumentParser
import Engine
import Foundation
import Tensors
import Tokenizers
import Training

/// `speculators datagen`: regenerate conversations with the verifier and record token ids, loss masks and
/// hidden states for EAGLE-3 training (docs/training-data.md). Rerun the same command to resume.
struct DatagenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "datagen",
        abstract: "Generate EAGLE-3 training data (token ids, loss masks, verifier hidden states) with the verifier.",
        discussion: """
        Inputs: --data files (JSONL or JSON array, gzip accepted; ShareGPT `conversations`, OpenAI/UltraChat \
        `messages`, MT-Bench `turns` or plain `prompt` records) and/or --magpie N prompts written by the verifier \
        itself (kept in <output>/magpie-<N>-seed-<seed>.jsonl), and/or --magpie-steered N prompts the verifier writes \
        after an opening of --magpie-openings ("Write a", "Imagine you are", ...). MT-Bench and HumanEval prompts are refused. The output is \
        resumable: run the same command again after an interruption.
        """)

    @Option(help: "Verifier: a .gguf file or a Hugging Face model folder.")
    var model: String = "models/SmolLM2-135M-Instruct.Q4_1.gguf"
    @Option(help: "Output dataset directory.") var output: String
    @Option(help: "Conversation or prompt file (repeatable).") var data: [String] = []
    @Option(help: "Also synthesise this many user prompts with the verifier (Magpie).") var magpie = 0
    @Option(help: "System message for Magpie prompts (default: the template's own).") var magpieSystem: String?
    @Option(help: "Tokens per Magpie prompt at most.") var magpieMaxTokens = 60
    @Option(help: "Also synthesise this many Magpie prompts started with the openings of --magpie-openings.")
    var magpieSteered = 0
    @Option(help: "Text file of user-turn openings for --magpie-steered, one per line (e.g. \"Write a\"), taken in turn.")
    var magpieOpenings: String?
    @Flag(help: "Keep the given assistant turns instead of regenerating them.") var keepResponses = false
    @Option(help: "New tokens per regenerated turn at most.") var maxNewTokens = 256
    @Option(help: "Sampling temperature for responses (0 = greedy).") var temperature: Float = 0
    @Option(help: "Nucleus mass for sampled responses.") var topP: Float = 1
    @Option(help: "Top-k for sampled responses (0 = all).") var topK = 0
    @Option(help: "Rows are clipped to this many tokens.") var maxLength = 2048
    @Option(help: "Input conversations per shard (the unit of resumption).") var shardConversations = 128
    @Option(help: "Sequences generated together.") var batchSize = 32
    @Option(help: "Precision of the verifier's batched matrix products: f32 (exactly the served verifier) or bf16 (operands rounded to bfloat16, as the Python reference's bf16 verifier made its data; faster on CPUs with AVX-512 BF16).")
    var matmulPrecision = "f32"
    @Option(help: "Tokens per hidden-state capture forward.") var captureBatchTokens = 2048
    @Option(help: "Use at most this many conversations.") var maxConversations: Int?
    @Option(help: "Aux layer ids, comma-separated (default: 2,N/2,N-3).") var auxLayerIds: String?
    @Option(help: "Random seed (Magpie prompts and sampled responses).") var seed: UInt64 = 0
    @Flag(help: "Drop conversations that contain an evaluation prompt instead of refusing the input.") var dropEvaluationPrompts = false
    @Option(help: "Worker threads: one per core unless given, at most 1024.") var threads = ProcessInfo.processInfo.activeProcessorCount

    func validate() throws {
        _ = try precision()
        try requireOption((1...1024).contains(threads), "--threads must be between 1 and 1024, got \(threads)")
        try requireOption((maxConversations ?? 1) >= 1, "--max-conversations must be at least 1, got \(maxConversations ?? 0)")
        try requireFolderPath(output, option: "--output")
    }

    /// `--matmul-precision`, parsed (a usage error names the option).
    func precision() throws -> MatmulPrecision {
        guard let precision = MatmulPrecision(rawValue: matmulPrecision) else {
            throw ValidationError("--matmul-precision must be f32 or bf16, not '\(matmulPrecision)'")
        }
        return precision
    }

    func run() throws {
        announceInterruption("datagen", resume: "the shards written so far are kept; run the same command again to continue after the last one")
        guard !data.isEmpty || magpie > 0 || magpieSteered > 0 else {
            throw CommandFailure("give --data files and/or --magpie N and/or --magpie-steered N")
        }
        let openings = try magpieOpenings.map(Self.readOpenings) ?? []
        guard magpieSteered == 0 || !openings.isEmpty else {
            throw CommandFailure("--magpie-steered needs --magpie-openings with at least one opening")
        }
        let start = now()
        // Inputs first: a bad file or an evaluation prompt is reported before the model is loaded.
        var conversations: [Conversation] = []
        var sources: [String] = []
        for path in data {
            let read = try ConversationReader.read(URL(fileURLWithPath: path))
            guard !read.isEmpty else { throw CommandFailure("\(path): no usable conversation or prompt") }
            printError("datagen: \(path): \(read.count) conversations")
            conversations += read
            sources.append(path)
        }
        if !dropEvaluationPrompts {
            let evaluation = EvaluationGuard()
            if let hit = conversations.first(where: { evaluation.evaluationSet(of: $0) != nil }) {
                throw DataGenerationError.evaluationData(origin: hit.origin, set: evaluation.evaluationSet(of: hit) ?? "")
            }
        }
        BLAS.configure()
        let bundle = try ModelBundle.load(path: URL(fileURLWithPath: model))
        guard let template = bundle.chatTemplate else {
            throw CommandFailure("\(model): \(bundle.chatTemplateProblem ?? "no chat template")")
        }
        let renderer = TemplateRenderer(template: template, tokenizer: bundle.tokenizer)
        let pool = ThreadPool(threadCount: threads)
        let outputURL = URL(fileURLWithPath: output)
        var aux: [Int]?
        if let auxLayerIds {
            let parsed = auxLayerIds.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard !parsed.isEmpty, parsed.allSatisfy({ $0 != nil }) else { throw CommandFailure("--aux-layer-ids: expected integers like 2,15,27") }
            aux = parsed.compactMap { $0 }
        }
        let settings = GenerationSettings(
            regenerate: !keepResponses, maxNewTokens: maxNewTokens, temperature: temperature, topP: topP, topK: topK,
            maxLength: maxLength, shardConversations: shardConversations, matmulPrecision: try precision().effective)
        let options = DataGenerationOptions(
            output: outputURL, verifierName: model, auxLayerIds: aux, settings: settings, seed: seed, batchSize: batchSize,
            captureBatchTokens: captureBatchTokens, maxConversations: maxConversations,
            dropEvaluationPrompts: dropEvaluationPrompts)
        let generator = try DataGenerator(verifier: bundle.verifier, renderer: renderer, eosTokenIds: bundle.eosTokenIds,
                                          pool: pool, options: options, report: printError)

        if magpie > 0 {
            conversations += try magpiePrompts(count: magpie, openings: [], generator: generator, renderer: renderer,
                                               outputURL: outputURL)
            sources.append("magpie:\(magpie)")
        }
        if magpieSteered > 0 {
            conversations += try magpiePrompts(count: magpieSteered, openings: openings, generator: generator,
                                               renderer: renderer, outputURL: outputURL)
            sources.append("magpie-steered:\(magpieSteered)")
        }
        let index = try generator.run(conversations, source: sources.joined(separator: " + "))
        let seconds = now() - start
        printError("datagen: \(index.complete ? "complete" : "interrupted"): \(index.conversations) rows, \(index.tokens) tokens (\(index.supervisedTokens) supervised) in \(index.shards.count)/\(index.plannedShards) shards; \(index.droppedEvaluation) evaluation and \(index.droppedEmpty) empty conversations dropped; \(String(format: "%.1f", seconds)) s")
        if generator.shardsWritten > 0 {
            let written = index.shards.suffix(generator.shardsWritten).reduce(0) { $0 + $1.tokens }
            printError("datagen: this run wrote \(written) tokens in \(String(format: "%.1f s = %.1f tokens/s", seconds, Double(written) / max(seconds, 1e-9)))")
        }
    }

    /// Openings, one per line, trimmed; blank lines and lines starting with `#` are skipped.
    static func readOpenings(_ path: String) throws -> [String] {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw CommandFailure("\(path): cannot read the Magpie openings (\(error.localizedDescription))")
        }
        return text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
    }

    /// Synthesises the Magpie prompts once and keeps them in `<output>/magpie-<count>-seed-<seed>.jsonl` (steered:
    /// `magpie-steered-<count>-seed-<seed>-<hash of the openings>.jsonl`), so a resumed run reuses exactly the same
    /// prompts (and other settings make other prompts).
    func magpiePrompts(count: Int, openings: [String], generator: DataGenerator, renderer: TemplateRenderer,
                       outputURL: URL) throws -> [Conversation] {
        let name = openings.isEmpty
            ? "magpie-\(count)-seed-\(seed).jsonl"
            : "magpie-steered-\(count)-seed-\(seed)-\(SHA256.hex(openings.joined(separator: "\n")).prefix(12)).jsonl"
        let file = outputURL.appendingPathComponent(name)
        if FileManager.default.fileExists(atPath: file.path) {
            let prompts = try ConversationReader.read(file)
            printError("datagen: reusing \(prompts.count) Magpie prompts from \(file.path)")
            return prompts
        }
        var synthesizer = MagpieSynthesizer(system: magpieSystem, seed: seed)
        synthesizer.maxTokens = magpieMaxTokens
        synthesizer.openings = openings
        let start = now()
        let texts = try synthesizer.synthesize(count: count, renderer: renderer, generator: generator.responseGenerator,
                                               guard: EvaluationGuard(), report: printError)
        printError("datagen: Magpie prompts took \(String(format: "%.1f", now() - start)) s")
        try FileManager.default.createDirectory(at: outputURL, withIntermediateDirectories: true)
        var lines = ""
        for text in texts { lines += jsonString(["prompt": text]) + "\n" }
        try Data(lines.utf8).write(to: file, options: .atomic)
        return try ConversationReader.read(file)
    }
}
