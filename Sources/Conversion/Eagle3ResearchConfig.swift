import Configs
import Foundation

/// The `config.json` of an EAGLE-3 research checkpoint (SafeAILab layout): a Llama-style config
/// of the draft (convert.md §4.1). Missing keys take the defaults the Python converter uses; a key
/// present with the wrong JSON type is an error naming it.
public struct Eagle3ResearchConfig: Sendable, Equatable {
    public var hiddenSize = 4096
    public var intermediateSize = 11008
    public var numHiddenLayers = 1
    public var numAttentionHeads = 32
    public var numKeyValueHeads = 8
    public var hiddenAct = "silu"
    public var maxPositionEmbeddings = 4096
    /// Kept as the JSON number it was written as, so `rope_theta: 500000` stays an integer on output.
    public var initializerRange: JSONValue = .double(0.02)
    public var rmsNormEps: JSONValue = .double(1e-6)
    public var attentionBias = false
    public var mlpBias = false
    public var headDim: Int?
    public var ropeTheta: JSONValue = .double(10000.0)
    public var ropeScaling: JSONObject?
    /// `torch_dtype` (or transformers 5 `dtype`): the dtype the converted floats are stored in.
    public var torchDtype: String?
    /// nil when the config does not say (the converter then derives it from the tensors).
    public var draftVocabSize: Int?
    public var targetHiddenSize: Int?
    public var normBeforeFC = false
    public var fcNorm = false
    public var normOutput = false
    /// Read here although upstream ignores it in the source config.
    public var normBeforeResidual: Bool?
    /// `eagle_aux_hidden_state_layer_ids` at the top level or inside `eagle_config` (upstream ignores both).
    public var auxLayerIds: [Int]?

    public init() {}

    /// Reads `folder/config.json`.
    public init(folder: URL) throws(ConversionError) {
        let file = folder.appendingPathComponent("config.json")
        guard let data = FileManager.default.contents(atPath: file.path) else {
            throw ConversionError.missingFile(path: folder.path, problem: "no config.json found")
        }
        let value: JSONValue
        do { value = try JSONParser.parse(data) } catch {
            throw ConversionError.invalidKey(file: file.path, key: "(document)", problem: "is not valid JSON: \(error)")
        }
        guard case .object(let object) = value else {
            throw ConversionError.invalidKey(file: file.path, key: "(document)", problem: "must be a JSON object")
        }
        try self.init(object, source: file.path)
    }

    public init(_ object: JSONObject, source: String) throws(ConversionError) {
        self.init()
        func bad(_ key: String, _ expected: String) -> ConversionError {
            .invalidKey(file: source, key: key, problem: "must be \(expected), not \(object[key]?.compactDescription ?? "missing")")
        }
        func int(_ key: String, into target: inout Int) throws(ConversionError) {
            guard let item = object[key] else { return }
            guard let number = item.intValue else { throw bad(key, "an integer") }
            target = number
        }
        func optionalInt(_ key: String) throws(ConversionError) -> Int? {
            guard let item = object[key], !item.isNull else { return nil }
            guard let number = item.intValue else { throw bad(key, "an integer or null") }
            return number
        }
        func number(_ key: String, into target: inout JSONValue) throws(ConversionError) {
            guard let item = object[key] else { return }
            guard item.doubleValue != nil else { throw bad(key, "a number") }
            target = item
        }
        func flag(_ key: String, in source: JSONObject? = nil) throws(ConversionError) -> Bool? {
            guard let item = (source ?? object)[key], !item.isNull else { return nil }
            guard let value = item.boolValue else { throw bad(key, "true or false") }
            return value
        }
        func intList(_ item: JSONValue?, _ key: String) throws(ConversionError) -> [Int]? {
            guard let item, !item.isNull else { return nil }
            guard let list = item.arrayValue else { throw bad(key, "a list of integers") }
            let ids = list.compactMap(\.intValue)
            guard ids.count == list.count else { throw bad(key, "a list of integers") }
            return ids
        }
        try int("hidden_size", into: &hiddenSize)
        try int("intermediate_size", into: &intermediateSize)
        try int("num_hidden_layers", into: &numHiddenLayers)
        try int("num_attention_heads", into: &numAttentionHeads)
        try int("num_key_value_heads", into: &numKeyValueHeads)
        try int("max_position_embeddings", into: &maxPositionEmbeddings)
        if let item = object["hidden_act"] {
            guard let name = item.stringValue else { throw bad("hidden_act", "a string") }
            hiddenAct = name
        }
        try number("initializer_range", into: &initializerRange)
        try number("rms_norm_eps", into: &rmsNormEps)
        try number("rope_theta", into: &ropeTheta)
        attentionBias = try flag("attention_bias") ?? false
        mlpBias = try flag("mlp_bias") ?? false
        headDim = try optionalInt("head_dim")
        if let item = object["rope_scaling"], !item.isNull {
            guard let scaling = item.objectValue else { throw bad("rope_scaling", "an object or null") }
            ropeScaling = scaling
        }
        for key in ["torch_dtype", "dtype"] where torchDtype == nil {
            guard let item = object[key], !item.isNull else { continue }
            guard let name = item.stringValue else { throw bad(key, "a dtype name such as \"bfloat16\"") }
            torchDtype = name
        }
        draftVocabSize = try optionalInt("draft_vocab_size")
        targetHiddenSize = try optionalInt("target_hidden_size")
        normBeforeFC = try flag("norm_before_fc") ?? false
        fcNorm = try flag("fc_norm") ?? false
        normOutput = try flag("norm_output") ?? false
        normBeforeResidual = try flag("norm_before_residual")
        auxLayerIds = try intList(object["eagle_aux_hidden_state_layer_ids"], "eagle_aux_hidden_state_layer_ids")
        if let eagle = object["eagle_config"], !eagle.isNull {
            guard let block = eagle.objectValue else { throw bad("eagle_config", "an object") }
            let nested = try intList(block["eagle_aux_hidden_state_layer_ids"], "eagle_config.eagle_aux_hidden_state_layer_ids")
            if let nested, let auxLayerIds, nested != auxLayerIds {
                throw ConversionError.invalidKey(file: source, key: "eagle_config.eagle_aux_hidden_state_layer_ids",
                                                 problem: "is \(nested) but eagle_aux_hidden_state_layer_ids is \(auxLayerIds)")
            }
            auxLayerIds = auxLayerIds ?? nested
        }
        for (key, value) in [("hidden_size", hiddenSize), ("intermediate_size", intermediateSize),
                             ("num_hidden_layers", numHiddenLayers), ("num_attention_heads", numAttentionHeads),
                             ("num_key_value_heads", numKeyValueHeads)] where value < 1 {
            throw ConversionError.invalidKey(file: source, key: key, problem: "must be at least 1, not \(value)")
        }
    }
}
