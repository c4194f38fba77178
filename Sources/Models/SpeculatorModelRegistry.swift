import Configs
import Foundation
import Checkpoints

/// Loads a speculator folder as the model its `config.json` declares (Python
/// `SpeculatorModel.from_pretrained(path)` in spirit), keyed by `speculators_model_type`.
///
/// Only EAGLE-3 drafts can run here. Before any weight is read, every tensor of the checkpoint is
/// checked against the list the config implies (`Eagle3DraftConfig.tensorManifest`): a tensor the
/// model has no place for is an error naming it, where the Python library would only log
/// "unexpected keys" and drop it; a missing required tensor is an error, where the library would
/// keep a random initialisation.
public enum SpeculatorModelRegistry {
    /// The `speculators_model_type`s this build can load and run.
    public static let servableTypes = [Eagle3SpeculatorConfig.speculatorsModelType]

    /// A loaded speculator. One case per servable type.
    public enum Model: Sendable {
        case eagle3(Eagle3DraftModel)

        public var eagle3: Eagle3DraftModel? {
            switch self { case .eagle3(let draft): return draft }
        }
    }

    /// Reads `folder/config.json`, picks the model class from `speculators_model_type`, checks the
    /// checkpoint's tensor names and shapes against the config, and loads the weights for `verifier`
    /// (missing `embed_tokens` / `lm_head` come from the verifier, see `Eagle3DraftModel.load`).
    ///
    /// Errors: a config without `speculators_model_type` or with an unknown one is the Configs
    /// registry's `ConfigError`; a registered type that cannot run here is `SpeculatorModelError.notServable`.
    public static func load(folder: URL, verifier: TransformerModel) throws -> Model {
        let config: any SpeculatorTypeConfig
        do {
            config = try SpeculatorModelConfig.load(from: folder.path)
        } catch {
            if let algorithm = externalFormat(folder: folder) {
                throw SpeculatorModelError.needsConversion(source: folder.path, algorithm: algorithm)
            }
            throw error
        }
        guard let eagle3 = config as? Eagle3SpeculatorConfig else {
            throw SpeculatorModelError.notServable(source: folder.path, type: config.speculatorsModelType, servable: servableTypes)
        }
        let (draftConfig, weights) = try checkedCheckpoint(folder: folder, config: eagle3, verifierLayerCount: verifier.config.layerCount)
        return .eagle3(try Eagle3DraftModel.load(config: draftConfig, weights: weights, verifier: verifier))
    }

    /// The draft config `config` describes and the folder's checkpoint, its tensors checked
    /// against that config from the headers alone (`checkTensors`): what `load` and
    /// `checkpointProblem` both need before any weight is read.
    static func checkedCheckpoint(folder: URL, config: Eagle3SpeculatorConfig,
                                  verifierLayerCount: Int) throws -> (Eagle3DraftConfig, TensorSource) {
        let draftConfig = try Eagle3DraftConfig(config, source: SpeculatorConfigFile.configPath(for: folder.path),
                                                verifierLayerCount: verifierLayerCount)
        let weights = try openCheckpoint(folder)
        try checkTensors(weights.tensorNames.compactMap { weights.info($0) }, against: draftConfig, source: weights.description)
        return (draftConfig, weights)
    }

    /// What loading `folder` would refuse in its checkpoint, found from the tensor headers alone:
    /// the files' framing, and every tensor's name, shape and dtype against what the valid
    /// `config` implies (`checkTensors`). Nil when the folder holds no checkpoint (a config alone
    /// is fine to validate), when the type is not servable here, or when nothing is wrong. Without
    /// `verifierLayerCount`, default aux layer ids are taken as three, as for any verifier deep enough.
    public static func checkpointProblem(folder: URL, config: any SpeculatorTypeConfig, verifierLayerCount: Int?) -> String? {
        guard let eagle3 = config as? Eagle3SpeculatorConfig, hasCheckpoint(folder: folder) else { return nil }
        let layers = verifierLayerCount ?? max(32, (eagle3.eagleAuxHiddenStateLayerIds?.max() ?? 0) + 2)
        do {
            _ = try checkedCheckpoint(folder: folder, config: eagle3, verifierLayerCount: layers)
            return nil
        } catch {
            return "\(error)"
        }
    }

    /// Whether `folder` holds weights in the speculators layout (`model.safetensors`, or a sharded index).
    public static func hasCheckpoint(folder: URL) -> Bool {
        let files = FileManager.default
        return files.fileExists(atPath: folder.appendingPathComponent("model.safetensors").path)
            || files.fileExists(atPath: folder.appendingPathComponent(ShardedSafetensors.indexFileName).path)
    }

    /// The `speculators convert --algorithm` for a folder whose `config.json` is not a speculators
    /// config but looks like a draft another project wrote (upstream auto-converts DFlash ones on
    /// load; here the user is told which conversion to run).
    static func externalFormat(folder: URL) -> String? {
        guard let data = FileManager.default.contents(atPath: folder.appendingPathComponent("config.json").path),
              case .object(let object)? = try? JSONParser.parse(data),
              object[SpeculatorRegistry.discriminator] == nil else { return nil }
        let architectures = object["architectures"]?.arrayValue?.compactMap(\.stringValue) ?? []
        if object["dflash_config"] != nil || architectures.contains(where: { $0.contains("DFlash") }) { return "dflash" }
        // A research config is a flat Llama-style config; a speculators one nests transformer_layer_config.
        let flat = object["transformer_layer_config"] == nil && object["hidden_size"] != nil
        if flat, object["draft_vocab_size"] != nil || architectures.contains(where: { $0.contains("Eagle3") }) { return "eagle3" }
        return nil
    }

    /// Checks a checkpoint's tensor list against what an EAGLE-3 draft with `config` holds: every
    /// tensor must be in the manifest with the manifest's shape and element kind, and every
    /// required one must be present. `source` names the checkpoint in errors.
    public static func checkTensors(_ tensors: [TensorInfo], against config: Eagle3DraftConfig, source: String) throws {
        let manifest = config.tensorManifest
        let byName = Dictionary(manifest.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let unknown = tensors.map(\.name).filter { byName[$0] == nil }.sorted()
        if !unknown.isEmpty {
            throw SpeculatorModelError.unplacedTensors(source: source, names: unknown,
                                                       hint: config.unplacedTensorHint(unknown))
        }
        for tensor in tensors {
            guard let spec = byName[tensor.name] else { continue }
            guard tensor.shape == spec.shape else {
                throw CheckpointError.shapeMismatch(file: source, tensor: tensor.name, expected: spec.shape, actual: tensor.shape)
            }
            guard spec.element.accepts(tensor.dataType) else {
                throw CheckpointError.wrongDataType(file: source, tensor: tensor.name, dataType: tensor.dataType,
                                                    wanted: spec.element.description)
            }
        }
        let present = Set(tensors.map(\.name))
        for spec in manifest {
            if case .required(let why) = spec.presence, !present.contains(spec.name) {
                throw SpeculatorModelError.missingTensor(source: source, name: spec.name, why: why)
            }
        }
    }
}

/// One tensor an EAGLE-3 draft checkpoint may hold (eagle3-model.md §2).
public struct SpeculatorTensorSpec: Sendable, Equatable {
    public enum Element: Sendable, Equatable, CustomStringConvertible {
        /// Any float or dequantisable type.
        case float
        /// An integer type (`d2t`: I64 offsets).
        case integer
        /// BOOL (`t2d`).
        case bool

        public func accepts(_ dataType: TensorDataType) -> Bool {
            switch self {
            case .float: return dataType.isFloatConvertible
            case .integer: return dataType.isInteger
            case .bool: return dataType == .bool
            }
        }

        public var description: String {
            switch self {
            case .float: return "a float type"
            case .integer: return "an integer type"
            case .bool: return "BOOL"
            }
        }
    }

    public enum Presence: Sendable, Equatable {
        /// Must be in the checkpoint; the reason is quoted when it is missing.
        case required(String)
        /// May be absent; the reason says what is used instead.
        case optional(String)
    }

    public let name: String
    public let shape: [Int]
    public let element: Element
    public let presence: Presence

    public init(name: String, shape: [Int], element: Element = .float, presence: Presence) {
        self.name = name
        self.shape = shape
        self.element = element
        self.presence = presence
    }
}

extension Eagle3DraftConfig {
    /// Every tensor a speculators-format checkpoint of this draft may hold, with its shape
    /// (eagle3-model.md §2). Nothing outside this list can be placed in the model.
    public var tensorManifest: [SpeculatorTensorSpec] {
        let h = layer.hiddenSize, v = layer.vocabSize, vd = draftVocabSize
        let names = Eagle3Names.self
        var specs: [SpeculatorTensorSpec] = [
            .init(name: names.embedding, shape: [v, h], presence: .optional("the verifier's input embedding is used")),
            .init(name: names.fc, shape: [h, featureWidth], presence: .required("fc projects the verifier's hidden states")),
        ]
        if normBeforeFC {
            specs.append(.init(name: names.inputNorm, shape: [featureWidth], presence: .required("norm_before_fc is true")))
        }
        if fcNorm {
            for index in auxiliaryLayerIds.indices {
                specs.append(.init(name: names.fcNorm(index), shape: [targetHiddenSize], presence: .required("fc_norm is true")))
            }
        }
        for index in 0..<layer.layerCount {
            let prefix = names.layer(index)
            let inWidth = index == 0 ? 2 * h : h
            let why = "num_hidden_layers is \(layer.layerCount)"
            func add(_ name: String, _ shape: [Int]) {
                specs.append(.init(name: prefix + name, shape: shape, presence: .required(why)))
            }
            if index == 0 { add(names.hiddenNorm, [h]) }
            add(HuggingFaceNames.inputNorm, [h])
            add(HuggingFaceNames.qProj, [layer.qWidth, inWidth])
            add(HuggingFaceNames.kProj, [layer.kvWidth, inWidth])
            add(HuggingFaceNames.vProj, [layer.kvWidth, inWidth])
            add(HuggingFaceNames.oProj, [h, layer.qWidth])
            if layer.qkvBias {
                add(HuggingFaceNames.qBias, [layer.qWidth])
                add(HuggingFaceNames.kBias, [layer.kvWidth])
                add(HuggingFaceNames.vBias, [layer.kvWidth])
            }
            if layer.outputBias { add(HuggingFaceNames.oBias, [h]) }
            if layer.qkNorm {
                add(HuggingFaceNames.qNorm, [layer.headDim])
                add(HuggingFaceNames.kNorm, [layer.headDim])
            }
            add(HuggingFaceNames.postAttentionNorm, [h])
            add(HuggingFaceNames.gateProj, [layer.intermediateSize, h])
            add(HuggingFaceNames.upProj, [layer.intermediateSize, h])
            add(HuggingFaceNames.downProj, [h, layer.intermediateSize])
        }
        specs.append(.init(name: names.norm, shape: [h], presence: .required("the final norm precedes lm_head")))
        specs.append(.init(name: names.lmHead, shape: [vd, h],
                           presence: .optional("the verifier's LM head rows of the draft vocabulary are used")))
        let reduced = vd != v
        specs.append(.init(name: names.d2t, shape: [vd], element: .integer,
                           presence: reduced ? .required("draft_vocab_size \(vd) differs from vocab_size \(v)")
                                             : .optional("identity mapping")))
        specs.append(.init(name: names.t2d, shape: [v], element: .bool, presence: .optional("d2t alone defines the mapping")))
        // Training-only buffers the trainer never saves but older files may hold; unused at inference.
        specs.append(.init(name: "verifier_lm_head.weight", shape: [vd, h], presence: .optional("training only")))
        specs.append(.init(name: "verifier_norm.weight", shape: [h], presence: .optional("training only")))
        return specs
    }

    /// Why tensors may have no place: the config flag or layer count that would give them one.
    public func unplacedTensorHint(_ names: [String]) -> String {
        var hints: [String] = []
        if names.contains(Eagle3Names.inputNorm) { hints.append("input_norm.weight needs norm_before_fc: true") }
        if names.contains(where: { $0.hasPrefix("fc_norm.") }) {
            hints.append("fc_norm.N.weight needs fc_norm: true and one aux layer per norm")
        }
        if names.contains(where: { $0.contains("q_norm") || $0.contains("k_norm") }) {
            hints.append("q_norm/k_norm need qwen3 layers (transformer_layer_config.model_type)")
        }
        if names.contains(where: { $0.hasPrefix("layers.") }) {
            hints.append("layers.N.* needs num_hidden_layers > N (the config has \(layer.layerCount))")
        }
        return hints.joined(separator: "; ")
    }
}

/// Why a speculator folder cannot be loaded as a model.
public enum SpeculatorModelError: Error, CustomStringConvertible, Sendable, Equatable {
    /// A registered speculator type this build cannot run.
    case notServable(source: String, type: String, servable: [String])
    /// Tensors the declared model has no place for.
    case unplacedTensors(source: String, names: [String], hint: String)
    /// An external checkpoint (no `speculators_model_type`) that `speculators convert` can convert.
    case needsConversion(source: String, algorithm: String)
    /// A tensor the declared model cannot do without.
    case missingTensor(source: String, name: String, why: String)

    public var description: String {
        switch self {
        case let .notServable(source, type, servable):
            return "\(source): '\(type)' is a known speculators_model_type, but this server can only run "
                + servable.map { "'\($0)'" }.joined(separator: ", ") + " speculators"
        case let .unplacedTensors(source, names, hint):
            let list = names.count > 12 ? names.prefix(12).joined(separator: ", ") + ", … (\(names.count) in all)"
                                        : names.joined(separator: ", ")
            return "\(source): tensors with no place in the model the config declares: \(list)"
                + (hint.isEmpty ? "" : " (\(hint))")
        case let .needsConversion(source, algorithm):
            return "\(source) is not in the speculators format (its config.json has no speculators_model_type) but looks like "
                + "an external \(algorithm) draft; convert it first: speculators convert \(source) <output> --algorithm \(algorithm) --verifier <verifier>"
        case let .missingTensor(source, name, why):
            return "\(source): tensor '\(name)' is missing (required because \(why))"
        }
    }
}
