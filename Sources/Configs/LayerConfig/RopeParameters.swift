/// Rotary position embedding settings of a layer config, read from either spelling:
/// transformers 5 `rope_parameters: {rope_theta, rope_type, ...}` or transformers 4
/// `rope_theta` + `rope_scaling: {rope_type | type, ...}`.
public struct RopeParameters: Sendable, Equatable {
    /// RoPE base.
    public var theta: Double
    /// `"default"`, `"llama3"`, `"linear"`, `"yarn"`, `"dynamic"`, ...
    public var type: String
    /// Scaling factor (`llama3`, `linear`, `yarn`, `dynamic`).
    public var factor: Double?
    /// `llama3` scaling.
    public var lowFreqFactor: Double?
    public var highFreqFactor: Double?
    public var originalMaxPositionEmbeddings: Int?
    /// Every key of the normalised `rope_parameters` object, for the less common scaling types.
    public var all: JSONObject

    public static let defaultTheta = 10000.0

    /// Reads a normalised `rope_parameters` object.
    public init(_ object: JSONObject) {
        all = object
        theta = object["rope_theta"]?.doubleValue ?? Self.defaultTheta
        type = object["rope_type"]?.stringValue ?? object["type"]?.stringValue ?? "default"
        factor = object["factor"]?.doubleValue
        lowFreqFactor = object["low_freq_factor"]?.doubleValue
        highFreqFactor = object["high_freq_factor"]?.doubleValue
        originalMaxPositionEmbeddings = object["original_max_position_embeddings"]?.intValue
    }

    /// transformers' `convert_rope_params_to_dict` + `standardize_rope_params`: moves the
    /// transformers-4 keys into `rope_parameters` (scaling keys, then `rope_theta`, then
    /// `rope_type`, defaulting to theta 10000 and type "default") and removes them.
    static func normalise(_ values: inout JSONObject) {
        let scaling = values.removeValue(forKey: "rope_scaling")
        let legacyTheta = values.removeValue(forKey: "rope_theta")
        var rope: JSONObject
        if case .object(let s)? = scaling, !s.isEmpty {
            rope = s
        } else if case .object(let p)? = values["rope_parameters"] {
            rope = p
        } else {
            rope = [:]
        }
        if rope["rope_theta"] == nil { rope["rope_theta"] = legacyTheta ?? .double(defaultTheta) }
        if rope["rope_type"] == nil { rope["rope_type"] = rope["type"] ?? "default" }
        values["rope_parameters"] = .object(rope)
    }
}
