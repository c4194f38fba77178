import Foundation
import Checkpoints
import Models
import Tensors
import Testing
import Training

/// The training loop end to end on a tiny datagen-format folder made in-test from tiny-llama.
@Suite("Trainer loop, checkpoints and resume")
struct TrainerLoopTests {
    /// Writes `index.json` + one shard in the datagen format (BF16 hidden states).
    static func writeDataset(to folder: URL, samples: [TrainingSample], auxLayerIds: [Int] = [1, 2, 3]) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var writer = SafetensorsWriter()
        var ids: [Int32] = [], mask: [Bool] = [], offsets: [Int64] = [0], aux: [Float] = [], last: [Float] = []
        for s in samples {
            ids += s.tokens.map(Int32.init)
            mask += s.lossMask
            aux += s.features
            last += s.lastHidden
            offsets.append(Int64(ids.count))
        }
        try writer.add("input_ids", shape: [ids.count], int32: ids)
        try writer.add("loss_mask", shape: [mask.count], bool: mask)
        try writer.add("offsets", shape: [offsets.count], int64: offsets)
        try writer.add("aux_hidden_states", dataType: .bf16, shape: [ids.count, 192], values: aux)
        try writer.add("last_hidden_states", dataType: .bf16, shape: [ids.count, 64], values: last)
        try writer.write(to: folder.appendingPathComponent("shard-00000.safetensors"))
        let index: [String: Any] = ["format": "speculators-swift-datagen", "version": 1, "verifier": "tiny-llama",
                                    "hidden_size": 64, "verifier_layers": 4, "aux_layer_ids": auxLayerIds, "hidden_dtype": "BF16",
                                    "shards": [["file": "shard-00000.safetensors", "conversations": samples.count, "tokens": ids.count]]]
        try JSONSerialization.data(withJSONObject: index).write(to: folder.appendingPathComponent("index.json"))
    }

    static func temporaryFolder(_ name: String) -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("trainer-tests-\(name)-\(UUID().uuidString)")
    }

    @Test("A trained draft records the verifier asked for, else a fine-tuned checkpoint's own, else the path it was loaded from")
    func recordedVerifier() throws {
        let pretrained = TrainerFixtures.root.appendingPathComponent("tiny-eagle3").path
        #expect(DraftCheckpointOptions.recordedVerifier(explicit: "org/model", pretrainedFolder: pretrained, verifierPath: "/m.gguf") == "org/model")
        #expect(DraftCheckpointOptions.recordedVerifier(explicit: nil, pretrainedFolder: pretrained, verifierPath: "/m.gguf") == "tiny-llama")
        #expect(DraftCheckpointOptions.recordedVerifier(explicit: nil, pretrainedFolder: nil, verifierPath: "/m.gguf") == "/m.gguf")
        #expect(DraftCheckpointOptions.recordedVerifier(explicit: nil, pretrainedFolder: "/nonexistent", verifierPath: "/m.gguf") == "/m.gguf")
    }

    @Test("Training lowers the loss, writes a loadable speculator whose logits equal the trained weights', and resumes")
    func endToEnd() throws {
        let verifier = try TrainerFixtures.verifier()
        // Verifier-generated continuations make the data learnable: greedy tokens of the verifier.
        var random = TrainingRandom(seed: 21)
        var conversations: [[Int]] = []
        for _ in 0..<12 {
            var tokens = (0..<4).map { _ in Int(random.next() % 384) }
            let cache = try verifier.makeCache(capacity: 64)
            var output = try verifier.forward([.init(cache: cache, tokens: tokens, logits: .last)], pool: TrainerFixtures.pool)
            for _ in 0..<20 {
                let next = Kernels.argmax(output.logits, count: 384)
                tokens.append(next)
                output = try verifier.forward([.init(cache: cache, tokens: [next], logits: .last)], pool: TrainerFixtures.pool)
            }
            conversations.append(tokens)
        }
        let samples = try TrainerFixtures.samples(verifier: verifier, lengths: conversations.map(\.count), prompt: 4,
                                                  tokens: conversations)
        let dataFolder = Self.temporaryFolder("data"), output = Self.temporaryFolder("out")
        defer {
            try? FileManager.default.removeItem(at: dataFolder)
            try? FileManager.default.removeItem(at: output)
        }
        try Self.writeDataset(to: dataFolder, samples: samples)
        let dataset = try TrainingDataset(folder: dataFolder)
        #expect(dataset.conversations.count == 12 && dataset.totalTokens == 12 * 24)

        let config = TrainerFixtures.draftConfig(verifier: verifier, normBeforeFC: true, normOutput: true)
        let mapping = Array(0..<384).filter { $0 % 4 == 0 || Set(conversations.joined()).contains($0) }.prefix(200)
        var draftConfig = config
        draftConfig.draftVocabSize = mapping.count
        let draft = try TrainableDraft.fresh(config: draftConfig, verifier: verifier, draftToTarget: Array(mapping), seed: 1)
        var options = TrainerOptions(checkpoint: DraftCheckpointOptions(dataType: .f32, includeEmbedding: true,
                                                                        verifierNameOrPath: "tiny-llama"))
        options.epochs = 2
        options.learningRate = 3e-3
        options.maxRowsPerBatch = 96
        options.validationFraction = 0.2
        options.logEvery = 1000
        let lines = LockedLines()
        let trainer = try Eagle3Trainer(draft: draft, dataset: dataset, options: options, pool: TrainerFixtures.pool) { lines.append($0) }
        let report = try trainer.train(output: output)
        #expect(report.epochs.count == 2)
        let first = try #require(report.epochs.first?.train), last = try #require(report.epochs.last?.train)
        #expect(last.loss < first.loss, "epoch losses \(first.loss) → \(last.loss)")
        #expect(lines.all.contains { $0.contains("validation") })

        // The written folder loads with our inference loader and gives the trained weights' logits.
        let speculatorConfig = try Eagle3DraftConfig(folder: output, verifierLayerCount: 4)
        var expectedConfig = draft.config
        expectedConfig.layer.bosTokenId = nil  // token ids are not part of a draft layer config
        expectedConfig.layer.eosTokenIds = []
        #expect(speculatorConfig == expectedConfig)
        let loaded = try Eagle3DraftModel.load(folder: output, config: speculatorConfig, verifier: verifier)
        let reference = draft.inferenceModel()
        let features = Array(samples[0].features.prefix(10 * 192))
        let tokens = Array(samples[0].tokens[1...10])
        func logits(_ model: Eagle3DraftModel) throws -> [Float] {
            let out = try features.withUnsafeBufferPointer { buffer in
                try model.forward([.init(cache: try model.makeCache(capacity: 32), tokens: tokens, logits: .all)],
                                  hidden: .verifierFeatures(try #require(buffer.baseAddress)), pool: TrainerFixtures.pool)
            }
            return Array(UnsafeBufferPointer(start: out.logits, count: 10 * mapping.count))
        }
        expectClose(try logits(loaded), try logits(reference), absolute: 1e-5, relative: 1e-5, "reloaded logits")
        #expect(loaded.draftToTarget == Array(mapping))

        // Resume: a third epoch starts from the epoch-1 checkpoint and continues the step count.
        var more = options
        more.epochs = 3
        let resumedDraft = try TrainableDraft.fresh(config: draftConfig, verifier: verifier, draftToTarget: Array(mapping), seed: 99)
        let resumedLines = LockedLines()
        let resumed = try Eagle3Trainer(draft: resumedDraft, dataset: dataset, options: more, pool: TrainerFixtures.pool) { resumedLines.append($0) }
        let resumedReport = try resumed.train(output: output)
        #expect(resumedReport.epochs.map(\.epoch) == [2])
        #expect(resumedLines.all.contains { $0.contains("resumed from checkpoints/1") })
        #expect(resumedReport.epochs[0].train.loss < first.loss)
    }

    @Test("Supervising all rows puts a loss on prompt rows in training while validation still scores assistant rows only")
    func supervisingAllRows() throws {
        let verifier = try TrainerFixtures.verifier()
        let samples = try TrainerFixtures.samples(verifier: verifier, lengths: Array(repeating: 16, count: 10), prompt: 6)
        let dataFolder = Self.temporaryFolder("supervise")
        defer { try? FileManager.default.removeItem(at: dataFolder) }
        try Self.writeDataset(to: dataFolder, samples: samples)
        let dataset = try TrainingDataset(folder: dataFolder)
        var config = TrainerFixtures.draftConfig(verifier: verifier, normBeforeFC: true, normOutput: true)
        config.draftVocabSize = 384
        func run(_ supervision: Supervision) throws -> TrainingReport {
            let output = Self.temporaryFolder("supervise-out")
            defer { try? FileManager.default.removeItem(at: output) }
            let draft = try TrainableDraft.fresh(config: config, verifier: verifier, draftToTarget: Array(0..<384), seed: 3)
            var options = TrainerOptions(checkpoint: DraftCheckpointOptions(dataType: .f32, includeEmbedding: false,
                                                                            verifierNameOrPath: "tiny-llama"))
            options.epochs = 1
            options.maxRowsPerBatch = 64
            options.validationFraction = 0.2
            options.supervision = supervision
            return try Eagle3Trainer(draft: draft, dataset: dataset, options: options, pool: TrainerFixtures.pool) { _ in }
                .train(output: output)
        }
        let assistant = try run(.assistant), all = try run(.all)
        let assistantTrain = try #require(assistant.epochs.first?.train), allTrain = try #require(all.epochs.first?.train)
        // Rows are shifted: 15 per conversation, of which the last 10 (tokens 6…15) are assistant rows.
        #expect(allTrain.tokens == 8 * 15 && assistantTrain.tokens == 8 * 15)
        #expect(allTrain.fullTotal[0] == Double(8 * 15))
        #expect(assistantTrain.fullTotal[0] == Double(8 * 10))
        let assistantValidation = try #require(assistant.epochs.first?.validation)
        let allValidation = try #require(all.epochs.first?.validation)
        #expect(allValidation.fullTotal == assistantValidation.fullTotal)
        #expect(allValidation.fullTotal[0] == Double(2 * 10))
        #expect(allValidation.lossSum != assistantValidation.lossSum, "different training must give a different model")
    }

    @Test("A draft moved to a wider vocabulary keeps its layers, takes the verifier's head rows, and scores shared ids as before")
    func remappedVocabulary() throws {
        let verifier = try TrainerFixtures.verifier()
        let narrow = Array(stride(from: 0, to: 384, by: 4))  // 96 ids
        let wide = Array(0..<384).filter { $0 % 4 != 1 }    // 288 ids, the 96 among them
        var config = TrainerFixtures.draftConfig(verifier: verifier, normBeforeFC: true, normOutput: true)
        config.draftVocabSize = narrow.count
        let draft = try TrainableDraft.fresh(config: config, verifier: verifier, draftToTarget: narrow, seed: 11)
        let moved = try draft.remapped(to: wide, verifier: verifier)
        #expect(moved.config.draftVocabSize == wide.count && moved.draftToTarget == wide)
        for (a, b) in zip(draft.weights.named, moved.weights.named) {
            #expect(Array(UnsafeBufferPointer(start: a.tensor.base, count: a.tensor.count))
                    == Array(UnsafeBufferPointer(start: b.tensor.base, count: b.tensor.count)), "\(a.name)")
        }
        let h = verifier.config.hiddenSize
        let verifierHead = try #require(verifier.head.weight)
        for (slot, id) in wide.enumerated() {
            #expect(Array(UnsafeBufferPointer(start: moved.frozen.lmHead.base + slot * h, count: h))
                    == Array(UnsafeBufferPointer(start: verifierHead.base + id * h, count: h)))
        }
        // Logits over the ids both vocabularies hold are the same numbers.
        let samples = try TrainerFixtures.samples(verifier: verifier, lengths: [12])
        let features = samples[0].features, tokens = Array(samples[0].tokens[1...])
        func logits(_ d: TrainableDraft) throws -> [Float] {
            let model = d.inferenceModel()
            let out = try features.withUnsafeBufferPointer { buffer in
                try model.forward([.init(cache: try model.makeCache(capacity: 32), tokens: tokens, logits: .all)],
                                  hidden: .verifierFeatures(try #require(buffer.baseAddress)), pool: TrainerFixtures.pool)
            }
            return Array(UnsafeBufferPointer(start: out.logits, count: tokens.count * d.config.draftVocabSize))
        }
        let before = try logits(draft), after = try logits(moved)
        for row in 0..<tokens.count {
            for (slot, id) in narrow.enumerated() {
                let wideSlot = try #require(wide.firstIndex(of: id))
                #expect(before[row * narrow.count + slot] == after[row * wide.count + wideSlot], "row \(row) id \(id)")
            }
        }
        #expect(throws: TrainingError.self) { _ = try draft.remapped(to: [0, 384], verifier: verifier) }
    }

    @Test("Several data folders are one dataset, in order; a folder made with other aux layers is refused by name")
    func severalFolders() throws {
        let verifier = try TrainerFixtures.verifier()
        let first = try TrainerFixtures.samples(verifier: verifier, lengths: [9, 7])
        let second = try TrainerFixtures.samples(verifier: verifier, lengths: [6, 8, 5], seed: 4)
        let a = Self.temporaryFolder("a"), b = Self.temporaryFolder("b"), other = Self.temporaryFolder("other")
        defer { for folder in [a, b, other] { try? FileManager.default.removeItem(at: folder) } }
        try Self.writeDataset(to: a, samples: first)
        try Self.writeDataset(to: b, samples: second)
        try Self.writeDataset(to: other, samples: second, auxLayerIds: [0, 1, 2])

        let joined = try TrainingDataset(folders: [a, b])
        #expect(joined.conversations.map(\.count) == [9, 7, 6, 8, 5])
        let separate = [try TrainingDataset(folder: a), try TrainingDataset(folder: b)]
        let whole = try joined.batch(Array(0..<5), maxRows: 1024)
        let parts = [try separate[0].batch([0, 1], maxRows: 1024), try separate[1].batch([0, 1, 2], maxRows: 1024)]
        #expect(whole.tokens == parts[0].tokens + parts[1].tokens)
        #expect(whole.lossMask == parts[0].lossMask + parts[1].lossMask)
        let features = Array(UnsafeBufferPointer(start: whole.features.base, count: whole.features.count))
        let expected = parts.flatMap { Array(UnsafeBufferPointer(start: $0.features.base, count: $0.features.count)) }
        #expect(features == expected)

        do {
            _ = try TrainingDataset(folders: [a, other])
            Issue.record("folders with different aux layers were accepted")
        } catch let error as TrainingError {
            #expect("\(error)".contains(other.path) && "\(error)".contains("[0, 1, 2]"), "\(error)")
        }
    }

    @Test("A data budget that admits no conversation is an error that says so, not a crash")
    func budgetAdmittingNothing() throws {
        let verifier = try TrainerFixtures.verifier()
        let samples = try TrainerFixtures.samples(verifier: verifier, lengths: [20, 16], prompt: 3)
        let data = Self.temporaryFolder("budget"), output = Self.temporaryFolder("budget-out")
        defer {
            try? FileManager.default.removeItem(at: data)
            try? FileManager.default.removeItem(at: output)
        }
        try Self.writeDataset(to: data, samples: samples)
        let draft = try TrainableDraft.fresh(config: TrainerFixtures.draftConfig(verifier: verifier), verifier: verifier,
                                             draftToTarget: TrainerFixtures.mapping(96), seed: 1)
        var options = TrainerOptions(checkpoint: DraftCheckpointOptions(verifierNameOrPath: "tiny-llama"))
        options.maxDataTokens = 10
        let trainer = try Eagle3Trainer(draft: draft, dataset: try TrainingDataset(folder: data), options: options,
                                        pool: TrainerFixtures.pool) { _ in }
        #expect(throws: TrainingError.invalidOption("--max-data-tokens 10 admits no conversation: the first has 20 tokens")) {
            _ = try trainer.train(output: output)
        }
    }

    @Test("Bad data folders and options give errors that name the problem")
    func errors() throws {
        let missing = Self.temporaryFolder("missing")
        #expect(throws: TrainingError.self) { try TrainingDataset(folder: missing) }
        #expect(throws: TrainingError.self) { try DraftLossSpec(parsing: "hinge") }
        #expect(throws: TrainingError.self) { try DraftLossSpec(parsing: #"{"kl_div": "x"}"#) }
        #expect(throws: TrainingError.self) { try DraftLossSpec(parsing: #"{"kl_div": -1}"#) }
        #expect(throws: TrainingError.self) { try DraftLossSpec(parsing: #"{"kl_div": 1, "ce": 0}"#) }
        let spec = try DraftLossSpec(parsing: #"{"ce": 0.25, "kl_div": 0.75}"#)
        #expect(spec.terms.map(\.kind) == [.crossEntropy, .klDivergence] && spec.terms.map(\.weight) == [0.25, 0.75])
        let schedule = LearningRateSchedule(kind: .linear, warmupSteps: 10, totalSteps: 110)
        #expect(schedule.multiplier(step: 0) == 0 && schedule.multiplier(step: 5) == 0.5 && schedule.multiplier(step: 10) == 1)
        #expect(abs(schedule.multiplier(step: 60) - 0.5) < 1e-12 && schedule.multiplier(step: 110) == 0)
        let cosine = LearningRateSchedule(kind: .cosine, warmupSteps: 0, totalSteps: 100)
        #expect(abs(cosine.multiplier(step: 50) - 0.5) < 1e-12 && cosine.multiplier(step: 100) < 1e-12)
    }
}

/// Collects log lines from the trainer's callback.
final class LockedLines: @unchecked Sendable {
    private var lines: [String] = []
    private let lock = NSLock()
    func append(_ line: String) { lock.lock(); lines.append(line); lock.unlock() }
    var all: [String] { lock.lock(); defer { lock.unlock() }; return lines }
}

/// Writes a trained tiny checkpoint plus inputs and our logits for scripts/interop/check_trained_checkpoint.py.
/// Runs only when TRAINER_INTEROP_OUTPUT names a folder.
@Suite("Trainer interop export")
struct TrainerInteropExport {
    @Test("Export a trained checkpoint and our logits for the Python library check",
          .enabled(if: ProcessInfo.processInfo.environment["TRAINER_INTEROP_OUTPUT"] != nil))
    func export() throws {
        let folder = URL(fileURLWithPath: ProcessInfo.processInfo.environment["TRAINER_INTEROP_OUTPUT"] ?? "/tmp/interop")
        let verifier = try TrainerFixtures.verifier()
        let samples = try TrainerFixtures.samples(verifier: verifier, lengths: [20, 16, 18, 12], prompt: 3)
        let data = folder.appendingPathComponent("data")
        try TrainerLoopTests.writeDataset(to: data, samples: samples)
        let config = TrainerFixtures.draftConfig(verifier: verifier, normBeforeFC: true, normOutput: true, window: 2048)
        let draft = try TrainableDraft.fresh(config: config, verifier: verifier, draftToTarget: TrainerFixtures.mapping(96), seed: 4)
        var options = TrainerOptions(checkpoint: DraftCheckpointOptions(dataType: .bf16, includeEmbedding: true,
                                                                        verifierNameOrPath: "tiny-llama"))
        options.epochs = 2
        options.learningRate = 1e-2
        options.validationFraction = 0
        options.resume = false
        let speculator = folder.appendingPathComponent("speculator")
        _ = try Eagle3Trainer(draft: draft, dataset: try TrainingDataset(folder: data), options: options,
                              pool: TrainerFixtures.pool) { print($0) }.train(output: speculator)
        // Our logits from the saved (bf16) checkpoint, on the first sample's shifted rows.
        let loaded = try Eagle3DraftModel.load(folder: speculator, config: try Eagle3DraftConfig(folder: speculator, verifierLayerCount: 4),
                                               verifier: verifier)
        let n = samples[0].tokens.count - 1
        let features = Array(samples[0].features.prefix(n * 192))
        let tokens = Array(samples[0].tokens[1...])
        let out = try features.withUnsafeBufferPointer { buffer in
            try loaded.forward([.init(cache: try loaded.makeCache(capacity: 64), tokens: tokens, logits: .all)],
                               hidden: .verifierFeatures(try #require(buffer.baseAddress)), pool: TrainerFixtures.pool)
        }
        let json: [String: Any] = ["input_ids": tokens, "hidden_states": features.map(Double.init),
                                   "logits": Array(UnsafeBufferPointer(start: out.logits, count: n * 96)).map(Double.init)]
        try JSONSerialization.data(withJSONObject: json).write(to: folder.appendingPathComponent("swift-logits.json"))
    }
}

@Suite("Trainer data shift and packing")
struct TrainerDataTests {
    @Test("The reader applies the EAGLE-3 shift: row t holds x[t+1], aux[t], last[t+1], mask[t+1], position t+1")
    func shift() throws {
        let verifier = try TrainerFixtures.verifier()
        let samples = try TrainerFixtures.samples(verifier: verifier, lengths: [6, 5, 7], prompt: 2)
        let folder = TrainerLoopTests.temporaryFolder("shift")
        defer { try? FileManager.default.removeItem(at: folder) }
        try TrainerLoopTests.writeDataset(to: folder, samples: samples)
        let dataset = try TrainingDataset(folder: folder)
        let batch = try dataset.batch([2, 0], maxRows: 100)
        #expect(batch.documents == [0..<6, 6..<11])
        #expect(batch.positions == [1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5])
        for (document, sample) in zip(batch.documents, [samples[2], samples[0]]) {
            for (t, row) in document.enumerated() {
                #expect(batch.tokens[row] == sample.tokens[t + 1])
                #expect(batch.lossMask[row] == sample.lossMask[t + 1])
                // Stored as BF16: compare with the bf16-rounded source (relative 2^-8).
                let feature = Array(UnsafeBufferPointer(start: batch.features.base + row * 192, count: 192))
                expectClose(feature, Array(sample.features[(t * 192)..<((t + 1) * 192)]), absolute: 1e-6, relative: 4e-3, "aux row \(row)")
                let last = Array(UnsafeBufferPointer(start: batch.lastHidden.base + row * 64, count: 64))
                expectClose(last, Array(sample.lastHidden[((t + 1) * 64)..<((t + 2) * 64)]), absolute: 1e-6, relative: 4e-3, "last row \(row)")
            }
        }
        // Clipping to maxRows keeps the first rows.
        let clipped = try dataset.batch([2], maxRows: 3)
        #expect(clipped.rows == 3 && clipped.tokens == Array(samples[2].tokens[1...3]))
    }

    @Test("Packing keeps every conversation once, respects the row budget and depends only on the seed")
    func packing() {
        let lengths = [30, 5, 12, 40, 7, 19, 3, 25]
        let batches = BatchPlan.batches(Array(lengths.indices), lengths: { lengths[$0] }, maxRows: 40, seed: 7)
        #expect(batches.flatMap { $0 }.sorted() == Array(lengths.indices))
        for batch in batches where batch.count > 1 {
            #expect(batch.map { lengths[$0] - 1 }.reduce(0, +) <= 40)
        }
        #expect(batches == BatchPlan.batches(Array(lengths.indices), lengths: { lengths[$0] }, maxRows: 40, seed: 7))
        #expect(batches != BatchPlan.batches(Array(lengths.indices), lengths: { lengths[$0] }, maxRows: 40, seed: 8))
        let split = BatchPlan.split(count: 20, validationFraction: 0.1)
        #expect(split.train == Array(0..<18) && split.validation == [18, 19])
    }
}
