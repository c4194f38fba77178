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

extension RopeParameters {
    /// Keys a `rope_type` cannot do without, beyond `rope_type` and `rope_theta` (which
    /// `normalise` always supplies): transformers' `_validate_<type>_rope_parameters` raise a
    /// KeyError without them. Types it has no validator for are not checked.
    static let requiredKeys: [String: [String]] = [
        "linear": ["factor"], "dynamic": ["factor"], "yarn": ["factor"],
        "llama3": ["factor", "low_freq_factor", "high_freq_factor"], "longrope": ["short_factor", "long_factor"],
    ]

    /// After `normalise`, as transformers' `standardize_rope_params` then `validate_rope`: the
    /// scaled types that need the pre-training length get `original_max_position_embeddings`
    /// (a top-level one wins, else `max_position_embeddings`), then missing required keys are
    /// errors at `path` (the `rope_parameters` object).
    static func check(_ values: inout JSONObject, at path: JSONPath, issues: inout IssueCollector) {
        guard case .object(var rope)? = values["rope_parameters"], case .string(let type)? = rope["rope_type"] else { return }
        if ["llama3", "yarn", "longrope"].contains(type) {
            if let original = values["original_max_position_embeddings"] {
                rope["original_max_position_embeddings"] = original
            } else if rope["original_max_position_embeddings"] == nil, let length = values["max_position_embeddings"] {
                rope["original_max_position_embeddings"] = length
            }
            values["rope_parameters"] = .object(rope)
        }
        let missing = (requiredKeys[type] ?? []).filter { rope[$0] == nil }
        guard !missing.isEmpty else { return }
        issues.add(.error(.layerConfigValue, at: path, value: .object(rope),
            "rope_type '\(type)' needs \(missing.map { "'\($0)'" }.joined(separator: ", ")), which \(missing.count == 1 ? "is" : "are") missing (transformers raises KeyError: Missing required keys in `rope_parameters`)"))
    }
}
