import ArgumentParser
import Engine
import Foundation
import Models
import Tensors
import Tokenizers

/// `speculators generate`: one prompt, streamed to the terminal, with speed and acceptance.
struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate", abstract: "Generate text for one prompt (optionally with an EAGLE-3 speculator).")

    @OptionGroup var models: ModelOptions
    @Option(help: "The prompt text ('-' reads standard input).") var prompt: String
    @Flag(help: "Wrap the prompt in the model's chat template as a user message.") var chat = false
    @Option(help: "Tokens to generate at most.") var maxTokens = 128
    @Option(help: "Sampling temperature (0 = greedy).") var temperature: Float = 0
    @Option(help: "Nucleus sampling mass.") var topP: Float = 1
    @Option(help: "Sample among the k most likely tokens (0 = all).") var topK = 0
    @Option(help: "Random seed for sampled generation.") var seed: UInt64?
    @Option(help: "Draft tokens per step (0 = no speculation; default: adaptive).") var numSpeculativeTokens: Int?
    @Flag(help: "Print one JSON object instead of streaming text.") var json = false
    @Option(help: ArgumentHelp(
        "With --json: the N largest logits of the first generated position (the prompt's last row) as first_position_top (0 = none).",
        discussion: "From a prefill of the prompt of its own with the full head, for checks against reference logits."))
    var topLogits = 0

    func validate() throws {
        try requireOption(maxTokens >= 1, "--max-tokens must be at least 1, got \(maxTokens)")
        try requireOption(temperature.isFinite && temperature >= 0, "--temperature must be 0 or more, got \(temperature)")
        try requireOption(topP > 0 && topP <= 1, "--top-p must be in (0, 1], got \(topP)")
        try requireOption(topK >= 0, "--top-k must be 0 (all tokens) or more, got \(topK)")
        if let numSpeculativeTokens {
            try requireOption((0...32).contains(numSpeculativeTokens),
                              "--num-speculative-tokens must be in [0, 32], got \(numSpeculativeTokens)")
            try requireOption(numSpeculativeTokens == 0 || models.speculator != nil,
                              "--num-speculative-tokens \(numSpeculativeTokens) needs --speculator")
        }
        try requireOption(topLogits >= 0, "--top-logits must be 0 or more, got \(topLogits)")
        try requireOption(topLogits == 0 || json, "--top-logits needs --json")
    }

    func run() throws {
        let text = prompt == "-" ? try standardInputText() : prompt
        let bundle = try models.loadBundle(forServing: true)
        let draft = try models.loadDraft(for: bundle)
        let promptIds = try PromptEncoding.encode(text, chat: chat, bundle: bundle)
        let pool = ThreadPool(threadCount: models.threads)
        let firstPositionTop = topLogits > 0
            ? try TopLogits.firstPosition(topLogits, prompt: promptIds, model: bundle.verifier, pool: pool) : nil
        let engine = SpeculativeEngine(
            verifier: bundle.verifier, draft: draft,
            // A pinned k may exceed the length the draft was configured with: the chain simply
            // runs longer (as `bench spec --k` does), so it is honoured rather than clipped.
            configuration: .init(maxSpeculativeTokens: max(draft?.config.speculativeTokens ?? 0, numSpeculativeTokens ?? 0),
                                 speculativeTokens: numSpeculativeTokens,
                                 maxModelLength: bundle.verifier.config.maxPositions, eosTokenIds: bundle.eosTokenIds),
            pool: pool, makeTextStream: { bundle.textStream(skipSpecialTokens: $0) })
        let request = GenerationRequest(
            prompt: promptIds, sampling: SamplingParameters(temperature: temperature, topP: topP, topK: topK, seed: seed),
            maxTokens: maxTokens)
        if draft != nil, numSpeculativeTokens == nil {
            // Adaptive k weighs a draft pass against the verifier's, measured up front as the
            // server does at start (SmolLM2: 0.33 s from quantised blocks, 0.6 s in float32).
            // Learnt only from the passes one request runs, drafting seldom started: one chat
            // prompt, 256 tokens, quantised verifier, 10 runs each, 373 tok/s and no run drafting
            // more than 32 of 256 tokens without, 507 tok/s and 7 runs drafting throughout with.
            try engine.calibrateCosts(maxRows: engine.configuration.maxSpeculativeTokens + 1)
        }
        try engine.add(request)
        let start = now()
        var firstToken: Double?
        var output: [Int] = []
        var outputText = ""
        var last: GenerationEvent?
        while engine.hasWork {
            for event in try engine.step() {
                if firstToken == nil, !event.tokens.isEmpty { firstToken = now() }
                output += event.tokens
                outputText += event.text
                if !json, !event.text.isEmpty {
                    FileHandle.standardOutput.write(Data(event.text.utf8))
                }
                if event.finish != nil { last = event }
            }
        }
        let end = now()
        let prefillSeconds = (firstToken ?? end) - start
        let decodeSeconds = end - (firstToken ?? end)
        let promptRate = Double(promptIds.count) / max(prefillSeconds, 1e-9)
        let decodeRate = Double(max(output.count - 1, 0)) / max(decodeSeconds, 1e-9)
        let stats = last?.stats ?? SpeculationStats()
        if json {
            let result = GenerateResult(
                promptIds: promptIds, outputIds: output, text: outputText,
                finishReason: last?.finish?.rawValue ?? "abort",
                timings: .init(promptTokens: promptIds.count, completionTokens: output.count, prefillSeconds: prefillSeconds,
                               decodeSeconds: decodeSeconds, promptTokensPerSecond: promptRate, decodeTokensPerSecond: decodeRate),
                speculation: draft == nil ? nil : .init(stats), firstPositionTop: firstPositionTop)
            print(jsonString(result))
        } else {
            var summary = String(format: "\n\n[prompt %d tokens, %.1f tok/s; decode %d tokens, %.1f tok/s",
                                 promptIds.count, promptRate, output.count, decodeRate)
            if draft != nil {
                summary += String(format: "; mean acceptance length %.3f, accepted %d of %d draft tokens",
                                  stats.meanAcceptanceLength, stats.acceptedTokens, stats.draftTokens)
            }
            printError(summary + "; finish: \(last?.finish?.rawValue ?? "abort")]")
        }
    }
}

/// How a prompt becomes token ids: raw text with the model's special-token rules, or a chat turn.
enum PromptEncoding {
    static func encode(_ text: String, chat: Bool, bundle: ModelBundle) throws -> [Int] {
        try encode(text, chat: chat, codec: bundle.codec)
    }

    static func encode(_ text: String, chat: Bool, codec: PromptCodec) throws -> [Int] {
        if chat {
            let rendered = try render(text, codec: codec)
            return codec.tokenizer.encode(rendered, parseSpecialTokens: true, addSpecialTokens: false)
        }
        return codec.tokenizer.encode(text, parseSpecialTokens: true, addSpecialTokens: true)
    }

    /// `text` as the one user message of a chat, with the generation prompt.
    static func render(_ text: String, codec: PromptCodec) throws -> String {
        guard let template = codec.chatTemplate else {
            throw CommandFailure("--chat: \(codec.chatTemplateProblem ?? "no chat template")")
        }
        return try template.render([ChatMessage(role: "user", content: text)], addGenerationPrompt: true)
    }
}

/// `generate --json` output.
struct GenerateResult: Encodable {
    struct Timings: Encodable {
        let promptTokens: Int
        let completionTokens: Int
        let prefillSeconds: Double
        let decodeSeconds: Double
        let promptTokensPerSecond: Double
        let decodeTokensPerSecond: Double
        enum CodingKeys: String, CodingKey {
            case promptTokens = "prompt_tokens", completionTokens = "completion_tokens"
            case prefillSeconds = "prefill_seconds", decodeSeconds = "decode_seconds"
            case promptTokensPerSecond = "prompt_tokens_per_second", decodeTokensPerSecond = "decode_tokens_per_second"
        }
    }
    let promptIds: [Int]
    let outputIds: [Int]
    let text: String
    let finishReason: String
    let timings: Timings
    let speculation: SpeculationReport?
    let firstPositionTop: TopLogits?
    enum CodingKeys: String, CodingKey {
        case promptIds = "prompt_ids", outputIds = "output_ids", text, finishReason = "finish_reason", timings, speculation
        case firstPositionTop = "first_position_top"
    }
}

/// The largest logits of one row, in the fixtures' `first_position_top5` form.
struct TopLogits: Encodable {
    let ids: [Int]
    let logits: [Float]

    /// The `count` largest logits of the prompt's last row, the distribution of the first generated
    /// token (ties by lower id). From a prefill of its own with every logit computed (no argmax
    /// screening), so that a check against reference logits sees the head's float32 values.
    static func firstPosition(_ count: Int, prompt: [Int], model: TransformerModel, pool: ThreadPool) throws -> TopLogits {
        guard !prompt.isEmpty else { throw CommandFailure("--top-logits: the prompt has no tokens") }
        let cache = try model.makeCache(capacity: prompt.count)
        let output = try model.forward([.init(cache: cache, tokens: prompt, logits: .last)], pool: pool)
        let row = output.logits(request: 0, row: 0)
        let ids = Kernels.largest(row, count: output.vocabularySize, k: count)
        return TopLogits(ids: ids, logits: ids.map { row[$0] })
    }
}

/// Acceptance telemetry in JSON (vLLM's names where they exist).
struct SpeculationReport: Encodable {
    let numDrafts: Int
    let numDraftTokens: Int
    let numAcceptedTokens: Int
    let acceptedPerPosition: [Int]
    let verifierSteps: Int
    let meanAcceptanceLength: Double
    init(_ stats: SpeculationStats) {
        numDrafts = stats.drafts
        numDraftTokens = stats.draftTokens
        numAcceptedTokens = stats.acceptedTokens
        acceptedPerPosition = stats.acceptedPerPosition
        verifierSteps = stats.verifierSteps
        meanAcceptanceLength = stats.meanAcceptanceLength
    }
    enum CodingKeys: String, CodingKey {
        case numDrafts = "num_drafts", numDraftTokens = "num_draft_tokens", numAcceptedTokens = "num_accepted_tokens"
        case acceptedPerPosition = "num_accepted_tokens_per_pos", verifierSteps = "verifier_steps"
        case meanAcceptanceLength = "mean_acceptance_length"
    }
}
