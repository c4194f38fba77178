/// The JSON type a transformers config key must have. transformers 5 checks these strictly
/// (`@strict` dataclasses), so no lax conversion happens here.
enum LayerValueKind: Sendable {
    case integer
    case nullableInteger
    /// A Python `float` field: transformers' strict check refuses a JSON integer (`1e-05`, not `0`).
    case float
    /// `int | float | None` (llama's `attention_dropout`).
    case nullableNumber
    /// `eos_token_id`: an integer, a list of integers, or null.
    case tokenIds
    case number
    case boolean
    case string
    case nullableStringList
    /// `rope_parameters`: an object or null.
    case nullableObject

    func accepts(_ value: JSONValue) -> Bool {
        switch (self, value) {
        case (.integer, .int), (.nullableInteger, .int), (.nullableInteger, .null): return true
        case (.tokenIds, .int), (.tokenIds, .null): return true
        case (.tokenIds, .array(let a)): return a.allSatisfy { $0.intValue != nil }
        case (.number, .int), (.number, .double): return true
        case (.float, .double): return true
        case (.nullableNumber, .int), (.nullableNumber, .double), (.nullableNumber, .null): return true
        case (.boolean, .bool), (.string, .string): return true
        case (.nullableStringList, .null): return true
        case (.nullableStringList, .array(let a)): return a.allSatisfy { $0.stringValue != nil }
        case (.nullableObject, .object), (.nullableObject, .null): return true
        default: return false
        }
    }

    var expected: String {
        switch self {
        case .integer: return "an integer"
        case .nullableInteger: return "an integer or null"
        case .tokenIds: return "a token id, a list of token ids, or null"
        case .number: return "a number"
        case .float: return "a number written as a float (such as 1e-05 or 0.0, not 0)"
        case .nullableNumber: return "a number or null"
        case .boolean: return "a boolean"
        case .string: return "a string"
        case .nullableStringList: return "a list of strings or null"
        case .nullableObject: return "an object or null"
        }
    }

    /// JSON Schema of the kind.
    var schema: JSONValue {
        switch self {
        case .integer: return ["type": "integer"]
        case .nullableInteger: return ["type": ["integer", "null"]]
        case .tokenIds: return ["anyOf": [["type": "integer"], ["type": "array", "items": ["type": "integer"]], ["type": "null"]]]
        case .number: return ["type": "number"]
        case .float: return ["type": "number"]
        case .nullableNumber: return ["type": ["number", "null"]]
        case .boolean: return ["type": "boolean"]
        case .string: return ["type": "string"]
        case .nullableStringList: return ["anyOf": [["type": "array", "items": ["type": "string"]], ["type": "null"]]]
        case .nullableObject: return ["type": ["object", "null"]]
        }
    }
}

/// One key a transformers decoder-layer config can carry, described once for checking and schema.
struct LayerConfigKey: Sendable {
    let name: String
    let kind: LayerValueKind
    let doc: String
}

/// A transformers config class this module knows the defaults of (`LlamaConfig`, `Qwen3Config`,
/// `Qwen2Config`, as of transformers 5.19). Missing keys are filled from `defaults` exactly as
/// the class constructor would, so a saved config carries the same keys the library writes.
struct LayerConfigClass: Sendable {
    let modelType: String
    let className: String
    /// Keys transformers writes for this class and their defaults. `null` defaults of
    /// `head_dim`/`num_key_value_heads`/`layer_types` are then derived by `derive`.
    let defaults: [(String, JSONValue)]
    /// Missing-key defaults that are computed from other keys (post-init of the class).
    let derive: @Sendable (inout JSONObject) -> Void
    /// Keys whose type in this class differs from `keys` (Qwen3's `head_dim` may not be null).
    var kindOverrides: [String: LayerValueKind] = [:]

    /// The type transformers checks `key` against in this class, or nil when the class has no
    /// such field (transformers then keeps the value unchecked, as an extra attribute). The
    /// transformers-4 RoPE keys are checked before they are moved into `rope_parameters`, and
    /// `layer_types` always.
    func kind(of key: LayerConfigKey) -> LayerValueKind? {
        // `layer_types` is checked by the base class's validator whatever the class declares.
        if ["model_type", "rope_theta", "rope_scaling", "layer_types"].contains(key.name) { return key.kind }
        guard defaults.contains(where: { $0.0 == key.name }) else { return nil }
        return kindOverrides[key.name] ?? key.kind
    }

    static let known: [LayerConfigClass] = [llama, qwen3, qwen2]

    static func named(_ modelType: String) -> LayerConfigClass? { known.first { $0.modelType == modelType } }

    /// Every key described by any known class, for type checking and the schema.
    static let keys: [LayerConfigKey] = [
        LayerConfigKey(name: "model_type", kind: .string, doc: "The transformers model type; selects the config class (llama or qwen3 for an EAGLE-3 draft)."),
        LayerConfigKey(name: "vocab_size", kind: .integer, doc: "The verifier's (target) vocabulary size: rows of embed_tokens, length of t2d."),
        LayerConfigKey(name: "hidden_size", kind: .integer, doc: "Draft hidden size; must equal the verifier's hidden size."),
        LayerConfigKey(name: "intermediate_size", kind: .integer, doc: "MLP width."),
        LayerConfigKey(name: "num_hidden_layers", kind: .integer, doc: "Number of draft decoder layers."),
        LayerConfigKey(name: "num_attention_heads", kind: .integer, doc: "Query heads."),
        LayerConfigKey(name: "num_key_value_heads", kind: .nullableInteger, doc: "Key/value heads (GQA); null means num_attention_heads."),
        LayerConfigKey(name: "head_dim", kind: .nullableInteger, doc: "Width of one attention head; defaults to hidden_size / num_attention_heads for llama."),
        LayerConfigKey(name: "hidden_act", kind: .string, doc: "MLP activation, normally \"silu\"."),
        LayerConfigKey(name: "max_position_embeddings", kind: .integer, doc: "Context length used by some RoPE scaling types."),
        LayerConfigKey(name: "initializer_range", kind: .float, doc: "Training-time initialisation scale; unused at inference."),
        LayerConfigKey(name: "rms_norm_eps", kind: .float, doc: "Epsilon of every RMSNorm in the draft."),
        LayerConfigKey(name: "use_cache", kind: .boolean, doc: "Carried; unused by the draft."),
        LayerConfigKey(name: "tie_word_embeddings", kind: .boolean, doc: "Carried; the draft has its own lm_head."),
        LayerConfigKey(name: "rope_parameters", kind: .nullableObject, doc: "RoPE base (rope_theta), type (rope_type) and scaling keys (transformers 5 spelling)."),
        LayerConfigKey(name: "rope_theta", kind: .number, doc: "RoPE base (transformers 4 spelling; normalised into rope_parameters)."),
        LayerConfigKey(name: "rope_scaling", kind: .nullableObject, doc: "RoPE scaling (transformers 4 spelling; normalised into rope_parameters)."),
        LayerConfigKey(name: "attention_bias", kind: .boolean, doc: "Bias on the q/k/v/o projections."),
        LayerConfigKey(name: "attention_dropout", kind: .number, doc: "Carried; unused at inference."),
        LayerConfigKey(name: "mlp_bias", kind: .boolean, doc: "Bias on the MLP projections (llama)."),
        LayerConfigKey(name: "pretraining_tp", kind: .nullableInteger, doc: "Carried (llama); unused."),
        LayerConfigKey(name: "use_sliding_window", kind: .boolean, doc: "Qwen: whether sliding_window applies; when false the window is saved as null."),
        LayerConfigKey(name: "sliding_window", kind: .nullableInteger, doc: "Window size of sliding_attention layers."),
        LayerConfigKey(name: "max_window_layers", kind: .integer, doc: "Qwen: layers from this index on use the sliding window when layer_types is derived."),
        LayerConfigKey(name: "layer_types", kind: .nullableStringList, doc: "One entry per draft layer: \"full_attention\" or \"sliding_attention\"."),
        LayerConfigKey(name: "pad_token_id", kind: .nullableInteger, doc: "Carried; unused."),
        LayerConfigKey(name: "bos_token_id", kind: .nullableInteger, doc: "Carried; unused."),
        LayerConfigKey(name: "eos_token_id", kind: .tokenIds, doc: "Carried; unused."),
    ]

    /// Keys whose silent defaulting changes the model's size; a missing one gets a warning.
    static let shapeKeys = ["vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads"]

    static let llama = LayerConfigClass(
        modelType: "llama", className: "LlamaConfig",
        defaults: [
            ("vocab_size", 32000), ("hidden_size", 4096), ("intermediate_size", 11008), ("num_hidden_layers", 32),
            ("num_attention_heads", 32), ("num_key_value_heads", nil), ("hidden_act", "silu"),
            ("max_position_embeddings", 2048), ("initializer_range", 0.02), ("rms_norm_eps", 1e-6), ("use_cache", true),
            ("pad_token_id", nil), ("bos_token_id", 1), ("eos_token_id", 2), ("pretraining_tp", 1),
            ("tie_word_embeddings", false), ("rope_parameters", nil), ("attention_bias", false),
            ("attention_dropout", 0.0), ("mlp_bias", false), ("head_dim", nil),
        ],
        derive: { values in
            let heads = values["num_attention_heads"]?.intValue ?? 0
            if values["head_dim"] == .null, let hidden = values["hidden_size"]?.intValue, heads > 0 {
                values["head_dim"] = .int(floorDivide(hidden, heads))
            }
            if values["num_key_value_heads"] == .null { values["num_key_value_heads"] = .int(heads) }
        },
        kindOverrides: ["attention_dropout": .nullableNumber])

    static let qwen3 = LayerConfigClass(
        modelType: "qwen3", className: "Qwen3Config",
        defaults: [
            ("vocab_size", 151936), ("hidden_size", 4096), ("intermediate_size", 22016), ("num_hidden_layers", 32),
            ("num_attention_heads", 32), ("num_key_value_heads", 32), ("head_dim", 128), ("hidden_act", "silu"),
            ("max_position_embeddings", 32768), ("initializer_range", 0.02), ("rms_norm_eps", 1e-6), ("use_cache", true),
            ("tie_word_embeddings", false), ("rope_parameters", nil), ("attention_bias", false),
            ("use_sliding_window", false), ("sliding_window", 4096), ("max_window_layers", 28), ("layer_types", nil),
            ("attention_dropout", 0.0), ("pad_token_id", nil), ("bos_token_id", nil), ("eos_token_id", nil),
        ],
        derive: deriveQwenWindows,
        kindOverrides: ["head_dim": .integer])

    static let qwen2 = LayerConfigClass(
        modelType: "qwen2", className: "Qwen2Config",
        defaults: [
            ("vocab_size", 151936), ("hidden_size", 4096), ("intermediate_size", 22016), ("num_hidden_layers", 32),
            ("num_attention_heads", 32), ("num_key_value_heads", 32), ("hidden_act", "silu"),
            ("max_position_embeddings", 32768), ("initializer_range", 0.02), ("rms_norm_eps", 1e-6), ("use_cache", true),
            ("tie_word_embeddings", false), ("rope_parameters", nil), ("use_sliding_window", false),
            ("sliding_window", 4096), ("max_window_layers", 28), ("layer_types", nil), ("attention_dropout", 0.0),
            ("pad_token_id", nil), ("bos_token_id", nil), ("eos_token_id", nil),
        ],
        derive: deriveQwenWindows)

    /// Qwen2/Qwen3 post-init: the window is dropped unless `use_sliding_window`, kv heads default
    /// to the head count, and `layer_types` is derived from `max_window_layers`.
    @Sendable static func deriveQwenWindows(_ values: inout JSONObject) {
        if values["use_sliding_window"] != .bool(true) { values["sliding_window"] = .null }
        let heads = values["num_attention_heads"]?.intValue ?? 0
        if values["num_key_value_heads"] == .null { values["num_key_value_heads"] = .int(heads) }
        if values["layer_types"] == .null {
            let layers = max(0, values["num_hidden_layers"]?.intValue ?? 0)
            let windowFrom = values["max_window_layers"]?.intValue ?? 0
            let windowed = values["sliding_window"] != .null
            values["layer_types"] = .array((0..<layers).map { i in
                windowed && i >= windowFrom ? "sliding_attention" : "full_attention"
            })
        }
    }

    /// Python's `//` (rounds toward negative infinity).
    static func floorDivide(_ a: Int, _ b: Int) -> Int {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }
}
