import Engine
import Foundation
import Models
import Tensors
import Tokenizers

/// How a data generation run is set up (what it produces is decided by `settings`, the seed and the input).
public struct DataGenerationOptions: Sendable {
    public var output: URL
    /// Written into the index as the verifier's name or path.
    public var verifierName: String
    /// The draft's aux layer ids; nil = the library default `[2, N/2, N-3]`.
    public var auxLayerIds: [Int]?
    public var settings: GenerationSettings
    public var seed: UInt64
    /// Sequences generated together, and tokens per hidden-state capture forward.
    public var batchSize: Int
    public var captureBatchTokens: Int
    /// Keep the verifier's batch-invariant kernels (results independent of batch composition).
    /// Off by default: datagen needs no such guarantee, a run stays reproducible because its
    /// batches are formed the same way every time, and a whole batch goes to one GEMM call.
    /// (Measured at batch 32: 185 generated tokens/s either way; batch 64 gave 228.)
    public var batchInvariant: Bool = false
    /// Use at most this many input conversations (after dropping evaluation prompts).
    public var maxConversations: Int?
    /// Drop conversations holding an evaluation prompt instead of refusing the whole input.
    public var dropEvaluationPrompts: Bool
    public var evaluationGuard: EvaluationGuard
    /// Stop after writing this many shards in this run (an interruption, for tests); nil runs to the end.
    public var stopAfterShards: Int?

    public init(output: URL, verifierName: String, auxLayerIds: [Int]? = nil, settings: GenerationSettings = GenerationSettings(),
                seed: UInt64 = 0, batchSize: Int = 32, captureBatchTokens: Int = 2048, maxConversations: Int? = nil,
                dropEvaluationPrompts: Bool = false, evaluationGuard: EvaluationGuard = EvaluationGuard(),
                stopAfterShards: Int? = nil) {
        self.output = output
        self.verifierName = verifierName
        self.auxLayerIds = auxLayerIds
        self.settings = settings
        self.seed = seed
        self.batchSize = batchSize
        self.captureBatchTokens = captureBatchTokens
        self.maxConversations = maxConversations
        self.dropEvaluationPrompts = dropEvaluationPrompts
        self.evaluationGuard = evaluationGuard
        self.stopAfterShards = stopAfterShards
    }

    /// The library's default aux layers for an `n`-layer verifier.
    public static func defaultAuxLayerIds(layers n: Int) -> [Int] { [2, n / 2, n - 3] }
}

/// `speculators datagen`: conversations in, a sharded dataset of token ids, loss masks and verifier hidden
/// states out (docs/training-data.md).
///
/// Input conversations are cut into shards of `shardConversations`; for each shard the assistant turns are
/// regenerated with the verifier (turn by turn, each turn seeing the regenerated history; the hidden states
/// of the last turn's prompt and answer are recorded while it is generated), and the shard is written, then
/// the index. Kept (not regenerated) conversations are run through the verifier once to capture their states.
/// A rerun of the same command skips the shards the index lists.
public final class DataGenerator {
    public let verifier: TransformerModel
    public let renderer: any ConversationRenderer
    public let options: DataGenerationOptions
    /// Generates the answers and records their hidden states as it goes.
    let generator: ResponseGenerator
    /// Generates without recording (Magpie prompts).
    let plainGenerator: ResponseGenerator
    /// Hidden states of conversations whose answers are kept.
    let capture: HiddenStateCapture
    let pool: ThreadPool
    let report: (String) -> Void
    /// Shards this run wrote (not those found from an earlier run).
    public private(set) var shardsWritten = 0

    public init(verifier: TransformerModel, renderer: any ConversationRenderer, eosTokenIds: Set<Int>, pool: ThreadPool,
                options: DataGenerationOptions, report: @escaping (String) -> Void = { _ in }) throws {
        let settings = options.settings
        guard settings.maxNewTokens > 0, settings.shardConversations > 0, options.batchSize > 0 else {
            throw DataGenerationError.invalidSetting("max new tokens, shard size and batch size must be positive")
        }
        guard settings.maxLength > 1, settings.maxLength <= verifier.config.maxPositions else {
            throw DataGenerationError.invalidSetting("max length \(settings.maxLength) must be in 2...\(verifier.config.maxPositions) (the verifier's context)")
        }
        guard settings.temperature >= 0, settings.topP > 0, settings.topP <= 1 else {
            throw DataGenerationError.invalidSetting("temperature must be >= 0 and top-p in (0, 1]")
        }
        self.verifier = verifier
        verifier.batchInvariant = options.batchInvariant
        verifier.gemmPrecision = settings.matmulPrecision ?? .float32
        if verifier.gemmPrecision == .bfloat16 { verifier.packBFloat16Weights() }
        self.renderer = renderer
        self.options = options
        self.pool = pool
        self.report = report
        capture = try HiddenStateCapture(
            verifier: verifier, auxLayerIds: options.auxLayerIds ?? DataGenerationOptions.defaultAuxLayerIds(layers: verifier.config.layerCount),
            pool: pool, batchTokens: options.captureBatchTokens)
        generator = ResponseGenerator(verifier: verifier, eosTokenIds: eosTokenIds, pool: pool, batchSize: options.batchSize,
                                      captureLayers: capture.auxLayerIds + [verifier.config.layerCount])
        plainGenerator = ResponseGenerator(verifier: verifier, eosTokenIds: eosTokenIds, pool: pool, batchSize: options.batchSize)
    }

    /// A generator with the same batching that records nothing, for Magpie prompt synthesis.
    public var responseGenerator: ResponseGenerator { plainGenerator }

    /// Generates (or continues) the dataset for `conversations`; `source` names the input in the index.
    @discardableResult
    public func run(_ conversations: [Conversation], source: String) throws -> DatasetIndex {
        let (planned, droppedEvaluation) = try plan(conversations)
        var index = try startIndex(planned: planned, source: source, droppedEvaluation: droppedEvaluation)
        let shardSize = options.settings.shardConversations
        let totalShards = index.plannedShards
        report("datagen: \(planned.count) conversations in \(totalShards) shards, \(index.shards.count) already done; aux layers \(capture.auxLayerIds) + [\(verifier.config.layerCount)]")
        let doneBefore = index.shards.count * shardSize
        var meter = ProgressMeter(label: "datagen conversations", total: max(planned.count - doneBefore, 0),
                                  tokenUnit: options.settings.regenerate ? "generated tokens" : "tokens", report: report)
        var tokensThisRun = 0  // generated (or, keeping answers, row) tokens, for the progress rate
        while index.shards.count < totalShards {
            if let stop = options.stopAfterShards, shardsWritten >= stop { break }
            let number = index.shards.count
            let range = (number * shardSize)..<min(planned.count, (number + 1) * shardSize)
            let doneSoFar = number * shardSize - doneBefore
            let elapsedBefore = meter.elapsed
            var tokensInShard = 0
            var shard = ShardBuilder(hiddenSize: verifier.config.hiddenSize, auxLayerCount: capture.auxLayerIds.count)
            let progress = { (finished: Int, tokens: Int) in
                tokensInShard = tokens
                meter.update(done: doneSoFar + finished, tokens: tokensThisRun + tokens)
            }
            let conversationsInShard = Array(planned[range])
            var generationSeconds = 0.0
            if options.settings.regenerate {
                let rows = try regenerate(conversationsInShard, firstIndex: range.lowerBound, progress: progress)
                index.droppedEmpty += range.count - rows.count
                generationSeconds = meter.elapsed - elapsedBefore
                for (row, states) in rows {
                    states.withUnsafeBufferPointer { buffer in
                        if let base = buffer.baseAddress { shard.append(row, states: base, pool: pool) }
                    }
                }
            } else {
                let rows = try keptRows(conversationsInShard, progress: progress)
                index.droppedEmpty += range.count - rows.count
                generationSeconds = meter.elapsed - elapsedBefore
                try capture.capture(rows, into: &shard)
            }
            let captureSeconds = meter.elapsed - elapsedBefore - generationSeconds
            let name = DatasetIndex.shardFileName(number)
            try shard.write(to: options.output.appendingPathComponent(name))
            index.shards.append(.init(file: name, conversations: shard.conversationCount, tokens: shard.tokenCount,
                                      supervisedTokens: shard.supervisedCount))
            index.conversations += shard.conversationCount
            index.tokens += shard.tokenCount
            index.supervisedTokens += shard.supervisedCount
            index.complete = index.shards.count == totalShards
            try index.save(directory: options.output)
            shardsWritten += 1
            tokensThisRun += tokensInShard
            meter.update(done: range.upperBound - doneBefore, tokens: tokensThisRun, force: true)
            report(String(format: "datagen: wrote %@ (%d conversations, %d tokens, %d supervised; generation %.1f s, hidden states %.1f s), %d/%d shards",
                          name, shard.conversationCount, shard.tokenCount, shard.supervisedCount, generationSeconds, captureSeconds,
                          index.shards.count, totalShards))
        }
        return index
    }

    /// Drops (or refuses) evaluation prompts and applies the cap.
    func plan(_ conversations: [Conversation]) throws -> ([Conversation], Int) {
        var kept: [Conversation] = []
        var dropped = 0
        for conversation in conversations {
            if let set = options.evaluationGuard.evaluationSet(of: conversation) {
                guard options.dropEvaluationPrompts else { throw DataGenerationError.evaluationData(origin: conversation.origin, set: set) }
                dropped += 1
                continue
            }
            kept.append(conversation)
            if let cap = options.maxConversations, kept.count >= cap { break }
        }
        return (kept, dropped)
    }

    /// A fresh index, or the existing one when it describes the same run.
    func startIndex(planned: [Conversation], source: String, droppedEvaluation: Int) throws -> DatasetIndex {
        try FileManager.default.createDirectory(at: options.output, withIntermediateDirectories: true)
        let shardSize = options.settings.shardConversations
        let fresh = DatasetIndex(
            verifier: options.verifierName, hiddenSize: verifier.config.hiddenSize, verifierLayers: verifier.config.layerCount,
            vocabSize: verifier.config.vocabSize, auxLayerIds: capture.auxLayerIds, shards: [], source: source,
            sourceSha256: Self.fingerprint(planned), seed: options.seed, generation: options.settings,
            plannedConversations: planned.count, plannedShards: (planned.count + shardSize - 1) / shardSize,
            conversations: 0, tokens: 0, supervisedTokens: 0, droppedEvaluation: droppedEvaluation, droppedEmpty: 0,
            complete: planned.isEmpty)
        guard let existing = try DatasetIndex.load(directory: options.output) else {
            try fresh.save(directory: options.output)
            return fresh
        }
        var differences: [String] = []
        if existing.verifier != fresh.verifier { differences.append("verifier \(existing.verifier)") }
        if existing.hiddenSize != fresh.hiddenSize || existing.verifierLayers != fresh.verifierLayers { differences.append("verifier shape") }
        if existing.auxLayerIds != fresh.auxLayerIds { differences.append("aux layer ids \(existing.auxLayerIds)") }
        if existing.generation != fresh.generation { differences.append("generation settings") }
        if existing.seed != fresh.seed { differences.append("seed \(existing.seed)") }
        if existing.sourceSha256 != fresh.sourceSha256 { differences.append("input conversations (source \(existing.source))") }
        guard differences.isEmpty else {
            throw DataGenerationError.incompatibleOutput(
                directory: options.output.path,
                problem: "holds a dataset made with a different " + differences.joined(separator: ", ") + "; use another output directory or remove it")
        }
        return existing
    }

    /// SHA-256 over the conversations' roles and texts.
    static func fingerprint(_ conversations: [Conversation]) -> String {
        var text = ""
        for conversation in conversations {
            for message in conversation.messages { text += message.role + "\u{1F}" + message.content + "\u{1E}" }
            text += "\u{1D}"
        }
        return SHA256.hex(text)
    }

    /// The training rows of conversations whose answers are kept.
    func keptRows(_ conversations: [Conversation], progress: (Int, Int) -> Void) throws -> [TrainingRow] {
        var rows: [TrainingRow] = []
        var tokens = 0
        for (offset, conversation) in conversations.enumerated() {
            do {
                let made = try LossMask.conversationRows(conversation.messages, renderer: renderer, maxLength: options.settings.maxLength)
                rows += made
                tokens += made.reduce(0) { $0 + $1.inputIds.count }
            } catch is LossMask.BoundaryUnstable {
                report("datagen: \(conversation.origin): skipped, the template renders its history unstably")
            }
            progress(offset + 1, tokens)
        }
        return rows
    }

    /// Regenerates every assistant turn, round by round: round r answers the r-th user turn of every
    /// conversation that got that far, with the earlier regenerated answers in its history. Returns each
    /// conversation's row (its last answered turn) with the hidden states recorded while generating it.
    func regenerate(_ conversations: [Conversation], firstIndex: Int,
                    progress: (Int, Int) -> Void) throws -> [(TrainingRow, [Float])] {
        let settings = options.settings
        var histories = conversations.map { $0.messages.filter { $0.role == "system" } }
        let userTurns = conversations.map { $0.messages.filter { $0.role == "user" }.map(\.content) }
        var rows = [(TrainingRow, [Float])?](repeating: nil, count: conversations.count)
        var open = Array(conversations.indices)
        var round = 0
        var finished = 0
        var tokens = 0
        while !open.isEmpty {
            var participants: [Int] = []
            var prompts: [[Int]] = []
            for i in open where round < userTurns[i].count {
                let history = histories[i] + [ChatMessage(role: "user", content: userTurns[i][round])]
                let prompt = try renderer.render(history, addGenerationPrompt: true)
                guard prompt.count < settings.maxLength - 1 else { continue }
                histories[i] = history
                participants.append(i)
                prompts.append(prompt)
            }
            let completions = try generator.generate(prompts, maxTokens: settings.maxNewTokens, sampling: { k in
                guard settings.temperature > 0 else { return .greedy }
                let seed = self.options.seed &+ UInt64(firstIndex + participants[k]) &* 1009 &+ UInt64(round)
                return SamplingParameters(temperature: settings.temperature, topP: settings.topP, topK: settings.topK, seed: seed)
            }, onProgress: { done, generated in progress(finished + (round == 0 ? done : 0), tokens + generated) })
            var stillOpen: [Int] = []
            for (k, i) in participants.enumerated() {
                let completion = completions[k]
                tokens += completion.tokens.count
                if let row = try LossMask.regeneratedRow(history: histories[i], prompt: prompts[k], completion: completion.tokens,
                                                         renderer: renderer, maxLength: settings.maxLength) {
                    rows[i] = try aligned(row, states: completion.states)
                }
                histories[i].append(ChatMessage(role: "assistant", content: renderer.text(of: completion.tokens)))
                if completion.stopped, round + 1 < userTurns[i].count { stillOpen.append(i) } else { finished += 1 }
            }
            finished += open.count - participants.count
            open = stillOpen
            round += 1
        }
        return rows.compactMap { $0 }
    }

    /// Cuts the recorded states to the row's positions (a row may be clipped to the maximum length).
    /// Should the final position ever be missing (the engine runs it when a request finishes), it gets
    /// zero states and leaves the loss: its target, the verifier's next-token distribution, is unknown.
    func aligned(_ row: TrainingRow, states: [Float]) throws -> (TrainingRow, [Float]) {
        let stride = (capture.auxLayerIds.count + 1) * verifier.config.hiddenSize
        let positions = row.inputIds.count
        let recorded = states.count / stride
        guard states.count % stride == 0, recorded + 1 >= positions else {
            throw DataGenerationError.invalidSetting("the generator recorded \(recorded) positions of hidden states for a row of \(positions) tokens")
        }
        guard recorded < positions else { return (row, Array(states.prefix(positions * stride))) }
        var masked = row
        for position in recorded..<positions { masked.lossMask[position] = false }
        return (masked, states + [Float](repeating: 0, count: (positions - recorded) * stride))
    }
}
