import Foundation
import Tensors

/// Settings of a training run (`speculators train`).
public struct TrainerOptions: Sendable {
    public var epochs = 3
    public var learningRate = 3e-4
    /// nil: 1% of the total steps, as the library.
    public var warmupSteps: Int?
    public var schedule: LearningRateSchedule.Kind = .linear
    public var weightDecay = 0.01
    public var optimizer: OptimizerKind = .adamw
    /// Muon's learning rate (nil: 10 × `learningRate`, as the library's `--muon-lr`).
    public var muonLearningRate: Double?
    public var clipNorm = 1.0
    public var validationFraction = 0.05
    /// Use only the leading conversations that fit in this many tokens (a fixed data budget).
    public var maxDataTokens: Int?
    public var seed: UInt64 = 42
    /// Shifted rows per packed batch.
    public var maxRowsPerBatch = 1024
    public var ttt = TTTOptions()
    /// Which training rows carry a loss. Validation always scores the assistant rows only.
    public var supervision: Supervision = .assistant
    /// Print a progress line every this many optimizer steps.
    public var logEvery = 10
    /// Stop after this many optimizer steps in total (nil: run all epochs).
    public var maxSteps: Int?
    /// Continue from the latest epoch checkpoint under `<output>/checkpoints` if there is one.
    public var resume = true
    public var checkpoint: DraftCheckpointOptions

    public init(checkpoint: DraftCheckpointOptions) { self.checkpoint = checkpoint }
}

/// `--optimizer`: AdamW over everything, or the library's default, Muon for the weight matrices
/// and AdamW for the rest.
public enum OptimizerKind: String, Sendable, CaseIterable {
    case adamw, muon
}

/// The rows of a training batch whose step losses count.
public enum Supervision: String, Sendable, CaseIterable {
    /// The data's loss mask: the verifier's own answers (the library's behaviour).
    case assistant
    /// Every row: the target is the verifier's next-token distribution wherever it was recorded,
    /// so prompt and template rows add teacher signal at no extra datagen cost (but each step
    /// runs the draft head on every row; on SmolLM2 data it did worse, see the draft's README).
    case all
}

/// What a run did, epoch by epoch.
public struct TrainingReport: Sendable {
    public var epochs: [(epoch: Int, train: TrainingMetrics, validation: TrainingMetrics?)] = []
    public var steps = 0
    public var seconds = 0.0
    public var tokens = 0
    /// Token passes per second (packed rows, TTT steps counted once).
    public var tokensPerSecond: Double { seconds > 0 ? Double(tokens) / seconds : 0 }
}

/// The EAGLE-3 training loop (`training.md` §11): per epoch a seeded shuffle and packing of the
/// training conversations, forward/backward, global-norm clipping, AdamW with a warm-up and
/// linear/cosine schedule, progress lines with rate and ETA, then validation and a checkpoint
/// under `<output>/checkpoints/<epoch>/`; the final model is written to `<output>/`.
public final class Eagle3Trainer: @unchecked Sendable {
    public let draft: TrainableDraft
    public let dataset: TrainingDataset
    public let options: TrainerOptions
    let pool: ThreadPool
    let log: @Sendable (String) -> Void

    public init(draft: TrainableDraft, dataset: TrainingDataset, options: TrainerOptions, pool: ThreadPool,
                log: @escaping @Sendable (String) -> Void) throws {
        guard dataset.hiddenSize == draft.config.targetHiddenSize, dataset.auxiliaryLayerIds == draft.config.auxiliaryLayerIds else {
            throw TrainingError.invalidData(path: dataset.folders.map(\.path).joined(separator: ", "),
                                            problem: "holds aux layers \(dataset.auxiliaryLayerIds) of width \(dataset.hiddenSize); the draft expects \(draft.config.auxiliaryLayerIds) of width \(draft.config.targetHiddenSize)")
        }
        guard options.epochs >= 1 else { throw TrainingError.invalidOption("--epochs must be at least 1") }
        guard options.learningRate > 0, options.learningRate.isFinite else { throw TrainingError.invalidOption("--lr must be positive") }
        if let rate = options.muonLearningRate, !(rate > 0 && rate.isFinite) {
            throw TrainingError.invalidOption("--muon-lr must be positive")
        }
        guard options.clipNorm > 0 else { throw TrainingError.invalidOption("--clip must be positive") }
        guard (0..<1).contains(options.validationFraction) else {
            throw TrainingError.invalidOption("--validation-fraction must be in [0, 1)")
        }
        guard options.maxRowsPerBatch >= 2 else { throw TrainingError.invalidOption("--max-tokens-per-batch must be at least 2") }
        self.draft = draft
        self.dataset = dataset
        self.options = options
        self.pool = pool
        self.log = log
    }

    public func train(output: URL) throws -> TrainingReport {
        let pass = try DraftTrainingPass(draft: draft, options: options.ttt, pool: pool)
        let gradients = draft.weights.zeros()
        let optimizer: any DraftOptimizer
        switch options.optimizer {
        case .adamw:
            optimizer = AdamWOptimizer(parameters: draft.weights, weightDecay: options.weightDecay)
        case .muon:
            let muon = try MuonOptimizer(parameters: draft.weights, rowSplits: MuonOptimizer.rowSplits(for: draft),
                                         adamWeightDecay: options.weightDecay)
            if let rate = options.muonLearningRate { muon.learningRateScale = rate / options.learningRate }
            optimizer = muon
        }
        var used = dataset.conversations.count
        var usedTokens = dataset.totalTokens
        if let budget = options.maxDataTokens {
            used = 0
            usedTokens = 0
            for conversation in dataset.conversations {
                guard usedTokens + conversation.count <= budget else { break }
                usedTokens += conversation.count
                used += 1
            }
            log("data budget: the first \(used) of \(dataset.conversations.count) conversations, \(usedTokens) tokens (at most \(budget))")
            guard used > 0 else {
                throw TrainingError.invalidOption("--max-data-tokens \(budget) admits no conversation: the first has \(dataset.conversations.first?.count ?? 0) tokens")
            }
        }
        let (trainSet, validationSet) = BatchPlan.split(count: used, validationFraction: options.validationFraction)
        guard !trainSet.isEmpty else {
            throw TrainingError.invalidOption("\(used) conversation\(used == 1 ? "" : "s") leave none to train on after the validation share \(options.validationFraction)")
        }
        let length: (Int) -> Int = { self.dataset.conversations[$0].count }
        let plans = (0..<options.epochs).map { epoch in
            BatchPlan.batches(trainSet, lengths: length, maxRows: options.maxRowsPerBatch, seed: options.seed &+ UInt64(epoch))
        }
        let validationBatches = BatchPlan.batches(validationSet, lengths: length, maxRows: options.maxRowsPerBatch, seed: nil)
        let totalSteps = min(plans.reduce(0) { $0 + $1.count }, options.maxSteps ?? Int.max)
        let schedule = LearningRateSchedule(kind: options.schedule, warmupSteps: options.warmupSteps ?? totalSteps / 100,
                                            totalSteps: totalSteps)
        log("training \(draft.weights.parameterCount) parameters on \(trainSet.count) conversations (\(validationSet.count) for validation), \(totalSteps) steps over \(options.epochs) epochs, \(pool.threadCount) threads")

        let checkpoints = output.appendingPathComponent("checkpoints")
        var startEpoch = 0, globalStep = 0
        var best: Double?
        if options.resume, let latest = Self.latestEpoch(in: checkpoints) {
            let state = try TrainerState.load(from: checkpoints.appendingPathComponent(String(latest)), weights: draft.weights,
                                              optimizer: optimizer)
            startEpoch = state.epoch + 1
            globalStep = state.globalStep
            best = state.bestValidationLoss
            log("resumed from checkpoints/\(latest): epoch \(state.epoch) done, step \(globalStep)")
        }

        var report = TrainingReport()
        let started = Date()
        var stepsThisRun = 0
        var window = TrainingMetrics(steps: options.ttt.steps, terms: options.ttt.loss.terms.count)
        for epoch in startEpoch..<options.epochs where globalStep < totalSteps {
            var epochMetrics = TrainingMetrics(steps: options.ttt.steps, terms: options.ttt.loss.terms.count)
            for indices in plans[epoch] {
                if globalStep >= totalSteps { break }  // --max-steps: finish this epoch's validation and checkpoint
                var batch = try dataset.batch(indices, maxRows: options.maxRowsPerBatch)
                if options.supervision == .all { batch.lossMask = [Bool](repeating: true, count: batch.rows) }
                gradients.zeroAll()
                let metrics = try pass.run(batch, gradients: gradients)
                let norm = gradients.clipGlobalNorm(options.clipNorm)
                let lr = options.learningRate * schedule.multiplier(step: globalStep)
                optimizer.step(parameters: draft.weights, gradients: gradients, learningRate: lr, pool: pool)
                globalStep += 1
                stepsThisRun += 1
                epochMetrics.add(metrics)
                window.add(metrics)
                report.tokens += metrics.tokens
                if globalStep % max(1, options.logEvery) == 0 || globalStep == totalSteps {
                    let elapsed = Date().timeIntervalSince(started)
                    let rate = Double(report.tokens) / max(elapsed, 1e-9)
                    let eta = elapsed / Double(stepsThisRun) * Double(totalSteps - globalStep)
                    let accuracies = (0..<options.ttt.steps).map { String(format: "%.3f", window.fullAccuracy($0)) }.joined(separator: "/")
                    log(String(format: "epoch %d step %d/%d  loss %.4f  full_acc %@  grad %.3f  lr %.2e  %.0f tok/s  ETA %@",
                               epoch, globalStep, totalSteps, window.loss,
                               accuracies, norm, lr, rate, Self.duration(eta)))
                    window = TrainingMetrics(steps: options.ttt.steps, terms: options.ttt.loss.terms.count)
                }
            }
            var validation: TrainingMetrics?
            if !validationBatches.isEmpty {
                var sum = TrainingMetrics(steps: options.ttt.steps, terms: options.ttt.loss.terms.count)
                for indices in validationBatches { sum.add(try pass.run(try dataset.batch(indices, maxRows: options.maxRowsPerBatch))) }
                validation = sum
                let accuracies = (0..<options.ttt.steps).map { String(format: "%.3f", sum.fullAccuracy($0)) }.joined(separator: "/")
                log(String(format: "epoch %d validation: loss_epoch %.4f  full_acc_epoch %@", epoch,
                           sum.lossSum / Double(validationBatches.count), accuracies))
                // The acceptance curve: serving's walk through the held-out responses (what `bench spec`
                // measures on such prompts), and the per-position bound 1 + Σ P(first i+1 right).
                let perPosition = 1 + (0..<options.ttt.steps).reduce(0.0) { $0 + sum.fullAccuracy($1) }
                log(String(format: "epoch %d curve: acceptance length (k = %d, held-out conversations) %.3f walked as served, %.3f per position, after %d token passes (%d conversation tokens x %d epochs) in %@",
                           epoch, options.ttt.steps, sum.simulatedAcceptanceLength, perPosition, report.tokens,
                           usedTokens, epoch + 1, Self.duration(Date().timeIntervalSince(started))))
                let loss = sum.lossSum / Double(validationBatches.count)
                if best.map({ loss < $0 }) ?? true { best = loss }
            }
            report.epochs.append((epoch, epochMetrics, validation))
            let folder = checkpoints.appendingPathComponent(String(epoch))
            try draft.save(to: folder, options: options.checkpoint)
            try TrainerState(epoch: epoch, globalStep: globalStep, bestValidationLoss: best)
                .save(to: folder, weights: draft.weights, optimizer: optimizer)
            log("saved \(folder.path)")
        }
        try draft.save(to: output, options: options.checkpoint)
        report.steps = stepsThisRun
        report.seconds = Date().timeIntervalSince(started)
        log(String(format: "done: %d steps in %@, %.0f token passes/s; model in %@", stepsThisRun, Self.duration(report.seconds),
                   report.tokensPerSecond, output.path))
        return report
    }

    /// The highest numeric epoch folder holding a trainer state.
    static func latestEpoch(in folder: URL) -> Int? {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.compactMap(Int.init).filter {
            FileManager.default.fileExists(atPath: folder.appendingPathComponent(String($0)).appendingPathComponent(TrainerState.jsonFile).path)
        }.max()
    }

    static func duration(_ seconds: Double) -> String {
        let s = Int(max(0, seconds.rounded()))
        return String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
    }
}
