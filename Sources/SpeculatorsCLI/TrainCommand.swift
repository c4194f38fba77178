import ArgumentParser
import Configs
import Foundation
import Models
import Tensors
import Training

/// `speculators train`: EAGLE-3 training with training-time test on data from `speculators datagen`.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train an EAGLE-3 draft (TTT, KL loss, AdamW or Muon) on hidden states from `speculators datagen`.")

    @Option(help: "Data folder written by `speculators datagen` (index.json + shards); repeat it to train on several (made with the same verifier), the last holding the validation conversations.")
    var data: [String] = []
    @Option(help: "Verifier: a .gguf file or a Hugging Face model folder.") var verifier: String
    @Option(help: "Vocabulary mapping from `speculators vocab` (safetensors with d2t/t2d). Omit for the full vocabulary.")
    var vocab: String?
    @Option(help: "Output folder: the trained speculator, plus checkpoints/<epoch>/ for resume.") var output: String
    @Option(help: "Continue from this speculator folder instead of fresh weights (with --vocab: moved to that vocabulary).")
    var fromPretrained: String?
    @Option(help: "For --data folders in the Python library's layout, which record no aux layers: the verifier layers their hidden states come from, comma-separated (default: the library's [2, N/2, N-3]).")
    var libraryAuxLayerIds: String?
    @Option(help: "speculators_config.verifier.name_or_path to record, e.g. a Hugging Face id (default: the --from-pretrained checkpoint's own, else the --verifier path).")
    var verifierName: String?
    @Option(help: "Epochs.") var epochs = 3
    @Option(help: "Peak learning rate.") var lr = 3e-4
    @Option(help: "TTT steps (also the config's speculative_tokens).") var tttSteps = 3
    @Option(help: "Loss multiplier per TTT step (gamma^k).") var tttStepLossDecay = 1.0
    @Option(help: "Loss: kl_div, ce, or a JSON object of weights such as {\"kl_div\": 0.5, \"ce\": 0.5}.") var lossFn = "kl_div"
    @Option(help: "Training rows with a loss: assistant (the data's loss mask, as the library) or all (prompt and template rows too, against the verifier's recorded distribution). Validation always scores assistant rows.")
    var supervise = "assistant"
    @Option(help: "Packed rows per optimizer step.") var maxTokensPerBatch = 1024
    @Option(help: "Warm-up steps (default 1% of all steps).") var warmupSteps: Int?
    @Option(help: "Learning-rate schedule after warm-up: linear, cosine or none.") var scheduler = "linear"
    @Option(help: "AdamW weight decay (with --optimizer muon, of the norms; the matrices decay by 0.1 as the library).") var weightDecay = 0.01
    @Option(help: "Optimizer: adamw (everything), or muon (the Python library's default: Muon for weight matrices, AdamW for norms).")
    var optimizer = "adamw"
    @Option(help: "Muon learning rate (default 10 x --lr, as the library).") var muonLr: Double?
    @Option(help: "Global gradient-norm clip.") var clip = 1.0
    @Option(help: "Fraction of conversations (the last ones) kept for validation.") var validationFraction = 0.05
    @Option(help: "Train on the leading conversations that fit in this many tokens (a fixed data budget).") var maxDataTokens: Int?
    @Option(help: "Seed of the initial weights and of the per-epoch shuffles.") var seed: UInt64 = 42
    @Option(help: "Worker threads: one per core unless given, at most 1024.") var threads = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: "Draft decoder layers.") var draftLayers = 1
    @Option(help: "Sliding window of the draft layers (0: full attention).") var slidingWindow = 2048
    @Option(help: "Print a progress line every N steps.") var logEvery = 10
    @Option(help: "Stop after N optimizer steps.") var maxSteps: Int?
    @Option(help: "Weights dtype of model.safetensors: bf16 or f32.") var dtype = "bf16"
    @Option(help: "Precision of the draft's matrix products: bf16 (operands rounded to bfloat16, float32 sums, as the Python library's bf16 autocast; about 1.5x faster on CPUs with AVX-512 BF16, float32 elsewhere) or f32.")
    var matmulPrecision = "bf16"
    @Flag(inversion: .prefixedNo, help: "Resume from the latest checkpoint under <output>/checkpoints.") var resume = true
    @Flag(inversion: .prefixedNo, help: "RMSNorm over the concatenated aux states before fc.") var normBeforeFc = true
    @Flag(help: "One RMSNorm per aux state before fc, instead of the one over their concatenation (turns --norm-before-fc off).") var fcNorm = false
    @Flag(inversion: .prefixedNo, help: "Residual of draft layer 0 from the normalised hidden input.") var normBeforeResidual = true
    @Flag(inversion: .prefixedNo, help: "Feed the post-norm hidden state to the next step.") var normOutput = true
    @Flag(help: "Store embed_tokens.weight in the checkpoint (the Python library needs it; our loader and vLLM do not).")
    var includeEmbedding = false

    func validate() throws {
        try requireOption(!data.isEmpty, "--data is required: a folder written by `speculators datagen`")
        try requireOption(epochs >= 1, "--epochs must be at least 1, got \(epochs)")
        try requireOption(lr > 0 && lr.isFinite, "--lr must be a positive number, got \(lr)")
        try requireOption(muonLr.map { $0 > 0 && $0.isFinite } ?? true, "--muon-lr must be a positive number")
        try requireOption(tttSteps >= 1, "--ttt-steps must be at least 1, got \(tttSteps)")
        try requireOption(tttStepLossDecay >= 0 && tttStepLossDecay.isFinite, "--ttt-step-loss-decay must be a non-negative number")
        try requireOption(maxTokensPerBatch >= 2, "--max-tokens-per-batch must be at least 2, got \(maxTokensPerBatch)")
        try requireOption((warmupSteps ?? 0) >= 0, "--warmup-steps must not be negative")
        try requireOption(weightDecay >= 0 && weightDecay.isFinite, "--weight-decay must be a non-negative number")
        try requireOption(clip > 0 && clip.isFinite, "--clip must be a positive number, got \(clip)")
        try requireOption((0..<1).contains(validationFraction), "--validation-fraction must be in [0, 1), got \(validationFraction)")
        try requireOption((maxDataTokens ?? 1) >= 1, "--max-data-tokens must be at least 1")
        try requireFolderPath(output, option: "--output")
        try requireOption((1...1024).contains(threads), "--threads must be between 1 and 1024, got \(threads)")
        try requireOption(draftLayers >= 1, "--draft-layers must be at least 1, got \(draftLayers)")
        try requireOption(slidingWindow >= 0, "--sliding-window must not be negative (0: full attention)")
        try requireOption(logEvery >= 1, "--log-every must be at least 1, got \(logEvery)")
        try requireOption((maxSteps ?? 0) >= 0, "--max-steps must not be negative")
        _ = try choices()
    }

    /// The options that name one of a few values, parsed (usage errors name the option).
    func choices() throws -> (schedule: LearningRateSchedule.Kind, optimizer: OptimizerKind, supervision: Supervision,
                              precision: MatmulPrecision) {
        guard let schedule = LearningRateSchedule.Kind(rawValue: scheduler) else {
            throw ValidationError("--scheduler must be linear, cosine or none, not '\(scheduler)'")
        }
        guard let optimizerKind = OptimizerKind(rawValue: optimizer) else {
            throw ValidationError("--optimizer must be adamw or muon, not '\(optimizer)'")
        }
        guard let supervision = Supervision(rawValue: supervise) else {
            throw ValidationError("--supervise must be assistant or all, not '\(supervise)'")
        }
        try requireOption(dtype == "bf16" || dtype == "f32", "--dtype must be bf16 or f32, not '\(dtype)'")
        guard let precision = MatmulPrecision(rawValue: matmulPrecision) else {
            throw ValidationError("--matmul-precision must be bf16 or f32, not '\(matmulPrecision)'")
        }
        return (schedule, optimizerKind, supervision, precision)
    }

    func run() throws {
        announceInterruption("train", resume: "the checkpoints of finished epochs are kept in \(output)/checkpoints; run the same command again to resume after the last one")
        BLAS.configure()
        let pool = ThreadPool(threadCount: threads)
        let verifierURL = URL(fileURLWithPath: verifier)
        let model = try TransformerModel.load(from: verifierURL)
        let libraryIds = try libraryAuxLayerIds.map { try integerList($0, option: "--library-aux-layer-ids", minimum: 0) }
            ?? AuxLayerIds.defaults(verifierLayerCount: model.config.layerCount)
        let dataset = try TrainingDataset(folders: data.map { URL(fileURLWithPath: $0) }, libraryAuxLayerIds: libraryIds,
                                          libraryVerifierLayers: model.config.layerCount)
        guard dataset.hiddenSize == model.config.hiddenSize else {
            throw CommandFailure("\(data.joined(separator: ", ")): hidden size \(dataset.hiddenSize) differs from the verifier's \(model.config.hiddenSize)")
        }
        let mapping = try vocab.map {
            try TrainingSetup.loadVocabularyMapping(URL(fileURLWithPath: $0), verifierVocabulary: model.config.vocabSize)
        } ?? Array(0..<model.config.vocabSize)
        let (kind, optimizerKind, supervision, precision) = try choices()
        let draft: TrainableDraft
        if let fromPretrained {
            let folder = URL(fileURLWithPath: fromPretrained)
            let config = try Eagle3DraftConfig(folder: folder, verifierLayerCount: model.config.layerCount)
            let loaded = try TrainableDraft.from(try Eagle3DraftModel.load(folder: folder, config: config, verifier: model),
                                                 verifier: model)
            // --vocab with --from-pretrained: the draft moves to that vocabulary (its head becomes
            // the verifier's rows for it); `--max-steps 0` just writes the re-mapped draft.
            draft = vocab != nil && mapping != loaded.draftToTarget ? try loaded.remapped(to: mapping, verifier: model) : loaded
        } else {
            let config = try TrainingSetup.draftConfig(
                verifier: model.config, auxiliaryLayerIds: dataset.auxiliaryLayerIds, draftVocabularySize: mapping.count,
                draftLayers: draftLayers, window: slidingWindow > 0 ? slidingWindow : nil, normBeforeResidual: normBeforeResidual,
                normBeforeFC: normBeforeFc && !fcNorm, fcNorm: fcNorm, normOutput: normOutput, speculativeTokens: tttSteps)
            draft = try TrainableDraft.fresh(config: config, verifier: model, draftToTarget: mapping, seed: seed)
        }
        var options = TrainerOptions(checkpoint: DraftCheckpointOptions(
            dataType: dtype == "f32" ? .f32 : .bf16, includeEmbedding: includeEmbedding,
            verifierNameOrPath: DraftCheckpointOptions.recordedVerifier(explicit: verifierName, pretrainedFolder: fromPretrained,
                                                                        verifierPath: verifierURL.path),
            verifierArchitectures: [Self.architectureName(model.config.architecture)]))
        options.epochs = epochs
        options.learningRate = lr
        options.warmupSteps = warmupSteps
        options.schedule = kind
        options.weightDecay = weightDecay
        options.clipNorm = clip
        options.validationFraction = validationFraction
        options.maxDataTokens = maxDataTokens
        options.seed = seed
        options.maxRowsPerBatch = maxTokensPerBatch
        options.ttt = TTTOptions(steps: tttSteps, stepLossDecay: tttStepLossDecay, loss: try DraftLossSpec(parsing: lossFn),
                                 precision: precision)
        if precision != precision.effective {
            FileHandle.standardError.write(Data("train: this CPU has no AVX-512 BF16; matrix products run in float32\n".utf8))
        }
        options.supervision = supervision
        options.optimizer = optimizerKind
        options.muonLearningRate = muonLr
        options.logEvery = logEvery
        options.maxSteps = maxSteps
        options.resume = resume
        let trainer = try Eagle3Trainer(draft: draft, dataset: dataset, options: options, pool: pool) { line in
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
        _ = try trainer.train(output: URL(fileURLWithPath: output))
    }

    /// The transformers class name of a verifier architecture (for `speculators_config.verifier`).
    static func architectureName(_ architecture: ModelConfig.Architecture) -> String {
        switch architecture {
        case .llama: return "LlamaForCausalLM"
        case .mistral: return "MistralForCausalLM"
        case .qwen2: return "Qwen2ForCausalLM"
        case .qwen3: return "Qwen3ForCausalLM"
        }
    }
}
