/// The draft's decoder-layer hyper-parameters (`transformer_layer_config`): a transformers model
/// config such as `LlamaConfig` or `Qwen3Config`, kept as the JSON object it is saved as, with
/// the values a model loader needs as plain typed properties.
///
/// Reading follows the library: the class comes from `model_type` (a Qwen3 config when it is
/// missing, for EAGLE-3), missing keys take the class defaults, unknown keys are kept, and the
/// transformers-4 RoPE spelling is normalised into `rope_parameters`.
public struct TransformerLayerConfig: Sendable, Equatable {
    /// The object as it is saved: the document's keys plus the class defaults for missing ones.
    public private(set) var values: JSONObject

    /// `"llama"`, `"qwen3"`, ... (the class actually used, also when the key was missing).
    public let modelType: String
    /// `"LlamaConfig"`, `"Qwen3Config"`, `"Qwen2Config"`, or nil for other transformers types,
    /// whose defaults this module does not know.
    public let configClassName: String?
    /// The verifier's (target) vocabulary size.
    public let vocabSize: Int
    public let hiddenSize: Int
    public let intermediateSize: Int
    /// Number of draft decoder layers.
    public let numHiddenLayers: Int
    public let numAttentionHeads: Int
    public let numKeyValueHeads: Int
    public let headDim: Int
    public let hiddenAct: String
    public let rmsNormEps: Double
    public let maxPositionEmbeddings: Int
    public let rope: RopeParameters
    public let attentionBias: Bool
    public let mlpBias: Bool
    /// One entry per layer (`"full_attention"` / `"sliding_attention"`), when present.
    public let layerTypes: [String]?
    /// The sliding window, or nil when there is none (Qwen: `use_sliding_window` false).
    public let slidingWindow: Int?
    public let useSlidingWindow: Bool
    public let tieWordEmbeddings: Bool

    /// A configuration from already-normalised values (what `decode` produces).
    init(normalised values: JSONObject, modelType: String) {
        self.values = values
        self.modelType = modelType
        let configClass = LayerConfigClass.named(modelType)
        configClassName = configClass?.className
        // For classes without a defaults table, missing keys read as LlamaConfig's defaults.
        let fallback = JSONObject(LayerConfigClass.llama.defaults)
        func int(_ key: String) -> Int? { values[key]?.intValue ?? fallback[key]?.intValue }
        vocabSize = int("vocab_size") ?? 0
        hiddenSize = int("hidden_size") ?? 0
        intermediateSize = int("intermediate_size") ?? 0
        numHiddenLayers = int("num_hidden_layers") ?? 0
        numAttentionHeads = int("num_attention_heads") ?? 0
        numKeyValueHeads = values["num_key_value_heads"]?.intValue ?? numAttentionHeads
        headDim = values["head_dim"]?.intValue
            ?? (numAttentionHeads > 0 ? LayerConfigClass.floorDivide(hiddenSize, numAttentionHeads) : 0)
        hiddenAct = values["hidden_act"]?.stringValue ?? "silu"
        rmsNormEps = values["rms_norm_eps"]?.doubleValue ?? fallback["rms_norm_eps"]?.doubleValue ?? 1e-6
        maxPositionEmbeddings = int("max_position_embeddings") ?? 0
        if case .object(let p)? = values["rope_parameters"] {
            rope = RopeParameters(p)
        } else {
            var legacy = values
            RopeParameters.normalise(&legacy)
            rope = RopeParameters(legacy["rope_parameters"]?.objectValue ?? [:])
        }
        attentionBias = values["attention_bias"]?.boolValue ?? false
        mlpBias = values["mlp_bias"]?.boolValue ?? false
        layerTypes = values["layer_types"]?.arrayValue?.compactMap(\.stringValue)
        slidingWindow = values["sliding_window"]?.intValue
        useSlidingWindow = values["use_sliding_window"]?.boolValue ?? (slidingWindow != nil)
        tieWordEmbeddings = values["tie_word_embeddings"]?.boolValue ?? false
    }

    /// Builds a layer config the way `LlamaConfig(**settings)` would (for writers such as the
    /// trainer): `settings` override the class defaults of `modelType`.
    public init(modelType: String, settings: JSONObject = [:]) throws(ConfigError) {
        var object = settings
        object["model_type"] = .string(modelType)
        var issues = IssueCollector()
        guard let config = Self.decode(.object(object), at: "transformer_layer_config", defaultModelType: modelType, issues: &issues) else {
            throw ConfigError(issues: issues.issues.filter { $0.severity == .error }, source: nil)
        }
        self = config
    }

    /// Longest layer stack accepted: bounds the work of deriving `layer_types` from a hostile file.
    public static let maximumLayerCount = 65_536

    /// Reads a `transformer_layer_config` value. `defaultModelType` is the class used when the
    /// object has no `model_type` (qwen3 for EAGLE-3 and DFlash, qwen2 for MTP).
    public static func decode(_ value: JSONValue, at path: JSONPath, defaultModelType: String,
                              issues: inout IssueCollector) -> TransformerLayerConfig? {
        guard case .object(var object) = value else {
            issues.add(.error(.expectedObject, at: path, value: value,
                "must be an object (a transformers model config such as LlamaConfig); got \(LaxCoercion.describe(value))"))
            return nil
        }
        let errorsBefore = issues.errorCount
        let modelType: String
        switch object["model_type"] {
        case nil:
            modelType = defaultModelType
            let className = LayerConfigClass.named(defaultModelType)?.className ?? defaultModelType
            issues.add(.warning(.layerConfigDefaultClass, at: path.appending("model_type"), value: nil,
                "model_type is missing, so the layer config is read as a \(className) (the library's default class) with \(className) defaults for missing keys; write the model_type you mean"))
            object["model_type"] = .string(modelType)
        case .string(let name) where TransformersModelTypes.all.contains(name) || LayerConfigClass.named(name) != nil:
            modelType = name
        case let other?:
            issues.add(.error(.unknownLayerModelType, at: path.appending("model_type"), value: other,
                "Unrecognized model identifier \(other.compactDescription): not one of the \(TransformersModelTypes.all.count) model types transformers registers (llama and qwen3 are the ones an EAGLE-3 draft can use)"))
            return nil
        }

        // transformers 5 folds the old `torch_dtype` into `dtype`.
        if let torchDtype = object.removeValue(forKey: "torch_dtype"), object["dtype"] == nil || object["dtype"] == .null {
            object["dtype"] = torchDtype
        }

        let configClass = LayerConfigClass.named(modelType)
        for key in LayerConfigClass.keys {
            // A class without the field keeps the value unchecked; an unknown class is checked
            // against every key's usual type.
            guard let v = object[key.name], let kind = configClass.map({ $0.kind(of: key) }) ?? key.kind,
                  !kind.accepts(v) else { continue }
            issues.add(.error(.layerConfigValue, at: path.appending(key.name), value: v,
                "must be \(kind.expected) (transformers checks this strictly); got \(LaxCoercion.describe(v))"))
        }
        if modelType == "llama", let range = object["initializer_range"]?.doubleValue, !(0...1).contains(range) {
            issues.add(.error(.layerConfigValue, at: path.appending("initializer_range"), value: object["initializer_range"],
                "must be between 0.0 and 1.0 (LlamaConfig checks this); got \(range)"))
        }
        // Keys every transformers config inherits: a dtype transformers cannot resolve, labels
        // that are not a mapping.
        if let dtype = object["dtype"] { PretrainedConfigFields.checkDtype(dtype, at: path.appending("dtype"), issues: &issues) }
        for key in ["id2label", "label2id"] {
            guard let map = object[key], map != .null, map.objectValue == nil else { continue }
            issues.add(.error(.layerConfigValue, at: path.appending(key), value: map,
                "must be an object (a dictionary of labels) or null; got \(LaxCoercion.describe(map))"))
        }
        if let layers = object["num_hidden_layers"]?.intValue, layers < 0 || layers > maximumLayerCount {
            issues.add(.error(.layerConfigValue, at: path.appending("num_hidden_layers"), value: .int(layers),
                "must be between 0 and \(maximumLayerCount); got \(layers)"))
        }
        if let heads = object["num_attention_heads"]?.intValue, heads <= 0 {
            issues.add(.error(.layerConfigValue, at: path.appending("num_attention_heads"), value: .int(heads),
                "must be at least 1; got \(heads)"))
        }
        guard issues.errorCount == errorsBefore else { return nil }

        if let configClass {
            for shapeKey in LayerConfigClass.shapeKeys where object[shapeKey] == nil {
                let fallback = configClass.defaults.first { $0.0 == shapeKey }?.1 ?? .null
                issues.add(.warning(.layerConfigDefaultedKey, at: path.appending(shapeKey), value: nil,
                    "\(shapeKey) is missing and silently becomes the \(configClass.className) default \(fallback.compactDescription), as in the library; write it explicitly"))
            }
            for (key, defaultValue) in configClass.defaults where object[key] == nil { object[key] = defaultValue }
            configClass.derive(&object)
            RopeParameters.normalise(&object)
            RopeParameters.check(&object, at: path.appending("rope_parameters"), issues: &issues)
        }
        let config = TransformerLayerConfig(normalised: object, modelType: modelType)
        config.checkGeometry(at: path, issues: &issues)
        return issues.errorCount == errorsBefore ? config : nil
    }

    /// The attention types transformers accepts in `layer_types` (`ALLOWED_ATTN_LAYER_TYPES`).
    static let allowedLayerTypes: Set<String> = [
        "full_attention", "sliding_attention", "chunked_attention", "window_attention", "indexed_attention",
        "compressed_sparse_attention", "heavily_compressed_attention", "minimax_m3_sparse", "conv", "moe", "hybrid",
        "hybrid_sliding", "linear_attention",
    ]

    /// Shapes transformers refuses (errors, as its class validators raise them) or the draft
    /// model could not build (warnings).
    func checkGeometry(at path: JSONPath, issues: inout IssueCollector) {
        if modelType == "llama", numAttentionHeads > 0, hiddenSize % numAttentionHeads != 0 {
            issues.add(.error(.layerConfigValue, at: path.appending("hidden_size"), value: .int(hiddenSize),
                "hidden_size \(hiddenSize) is not a multiple of num_attention_heads \(numAttentionHeads), which LlamaConfig refuses"))
        }
        if numKeyValueHeads <= 0 || numAttentionHeads % max(numKeyValueHeads, 1) != 0 {
            issues.add(.warning(.layerGeometry, at: path.appending("num_key_value_heads"), value: .int(numKeyValueHeads),
                "num_attention_heads \(numAttentionHeads) is not a multiple of num_key_value_heads \(numKeyValueHeads); grouped-query attention cannot be built"))
        }
        if let layerTypes {
            if let unknown = layerTypes.first(where: { !Self.allowedLayerTypes.contains($0) }) {
                issues.add(.error(.layerConfigValue, at: path.appending("layer_types"), value: values["layer_types"],
                    "'\(unknown)' is not a layer type transformers knows (such as full_attention or sliding_attention)"))
            } else if layerTypes.count != numHiddenLayers {
                issues.add(.error(.layerConfigValue, at: path.appending("layer_types"), value: values["layer_types"],
                    "has \(layerTypes.count) entries but num_hidden_layers is \(numHiddenLayers); transformers requires one per layer"))
            }
        }
    }

    /// The object as saved (`to_diff_dict` of the nested config).
    public var jsonValue: JSONValue { .object(values) }
}

extension ConfigField {
    /// A `transformer_layer_config` field.
    static func layerConfig(_ name: String, _ keyPath: Path<TransformerLayerConfig>, defaultModelType: String, doc: String) -> Self {
        Self(name: name, shape: .layerConfig(defaultModelType: defaultModelType), isRequired: false, doc: doc,
            decode: { root, value, path, issues in
                if let config = TransformerLayerConfig.decode(value, at: path, defaultModelType: defaultModelType, issues: &issues) {
                    root[keyPath: keyPath] = config
                }
            },
            encode: { $0[keyPath: keyPath].jsonValue })
    }
}

extension TransformerLayerConfig {
    /// The class defaults of `modelType` with nothing overridden (the library's
    /// `default_factory=Qwen3Config`). Falls back to an empty object for unknown classes.
    static func classDefault(_ modelType: String) -> TransformerLayerConfig {
        var issues = IssueCollector()
        return decode(.object(["model_type": .string(modelType)]), at: .root, defaultModelType: modelType, issues: &issues)
            ?? TransformerLayerConfig(normalised: ["model_type": .string(modelType)], modelType: modelType)
    }
}
