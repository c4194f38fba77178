import Configs

/// The converter options the Python CLI takes as `--algorithm-kwargs` for `eagle3`.
///
/// The three norm flags are OR-ed with the research config's own values (as upstream).
/// `normBeforeResidual` and the aux ids, which upstream takes from the options only, fall back to
/// the research config here when not given: a flag the source declares is never ignored.
public struct Eagle3ConversionOptions: Sendable, Equatable {
    /// nil: the source config's `norm_before_residual`, else false.
    public var normBeforeResidual: Bool?
    public var normBeforeFC = false
    public var fcNorm = false
    public var normOutput = false
    /// nil: the source config's ids (top level or `eagle_config`), else null (resolved at load time).
    public var auxLayerIds: [Int]?

    public init(normBeforeResidual: Bool? = nil, normBeforeFC: Bool = false, fcNorm: Bool = false,
                normOutput: Bool = false, auxLayerIds: [Int]? = nil) {
        self.normBeforeResidual = normBeforeResidual
        self.normBeforeFC = normBeforeFC
        self.fcNorm = fcNorm
        self.normOutput = normOutput
        self.auxLayerIds = auxLayerIds
    }

    /// Keys `--algorithm-kwargs` accepts for eagle3. `cache_dir` is accepted for compatibility and
    /// has no effect (sources are local).
    public static let acceptedKeys = ["norm_before_residual", "norm_before_fc", "fc_norm", "norm_output",
                                      "eagle_aux_hidden_state_layer_ids", "cache_dir"]

    /// Parses the `--algorithm-kwargs` JSON text. It must be an object; unknown keys and values of
    /// the wrong type are errors naming the key.
    public init(algorithmKwargs text: String) throws(ConversionError) {
        let key = "--algorithm-kwargs"
        let value: JSONValue
        do { value = try JSONParser.parse(text) } catch {
            throw ConversionError.invalidOption(key: key, problem: "is not valid JSON: \(error)")
        }
        guard case .object(let object) = value else {
            throw ConversionError.invalidOption(key: key, problem: "must be a JSON object, not \(value.typeName)")
        }
        self.init()
        for (name, item) in object.entries {
            // The library's options are pydantic booleans: "yes", "off", 1 and the like count.
            func flag() throws(ConversionError) -> Bool {
                guard let flag = item.laxBoolValue else {
                    throw ConversionError.invalidOption(key: name, problem: "must be true or false, not \(item.compactDescription)")
                }
                return flag
            }
            switch name {
            case "norm_before_residual": normBeforeResidual = try flag()
            case "norm_before_fc": normBeforeFC = try flag()
            case "fc_norm": fcNorm = try flag()
            case "norm_output": normOutput = try flag()
            case "eagle_aux_hidden_state_layer_ids":
                if item.isNull { auxLayerIds = nil; continue }
                guard let list = item.arrayValue, let ids = Optional(list.compactMap(\.intValue)), ids.count == list.count else {
                    throw ConversionError.invalidOption(key: name, problem: "must be a list of integers or null, not \(item.compactDescription)")
                }
                auxLayerIds = ids
            case "cache_dir":
                guard item.stringValue != nil || item.isNull else {
                    throw ConversionError.invalidOption(key: name, problem: "must be a string or null")
                }
            default:
                throw ConversionError.invalidOption(key: name, problem: "is not an eagle3 converter option; accepted: "
                                                    + Self.acceptedKeys.joined(separator: ", "))
            }
        }
    }
}
