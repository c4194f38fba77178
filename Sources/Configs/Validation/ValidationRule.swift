/// Every rule a config is checked against. The raw value is the stable identifier that appears in
/// reports (`"rule": "minimum"`); `libraryErrorType` names the pydantic error type the Python
/// library raises for the same problem, when it raises one.
public enum ValidationRule: String, Sendable, Hashable, CaseIterable, Codable {
    // Errors the Python library also raises while parsing (config-format.md §7.1).
    case invalidJSON = "invalid_json"
    case fileAccess = "file_access"
    case notAnObject = "not_an_object"
    case missingSpeculatorsModelType = "missing_speculators_model_type"
    case unknownSpeculatorsModelType = "unknown_speculators_model_type"
    case missingProposalType = "missing_proposal_type"
    case unknownProposalType = "unknown_proposal_type"
    case required = "required"
    case expectedObject = "expected_object"
    case expectedList = "expected_list"
    case expectedInteger = "expected_integer"
    case fractionalInteger = "fractional_integer"
    case expectedNumber = "expected_number"
    case expectedBoolean = "expected_boolean"
    case expectedString = "expected_string"
    case literal = "literal"
    case minimum = "minimum"
    case defaultProposalMethod = "default_proposal_method"
    case normFlagsExclusive = "norm_flags_exclusive"
    case unknownLayerModelType = "unknown_layer_model_type"
    case mtpLayerCount = "mtp_layer_count"
    case layerConfigValue = "layer_config_value"
    case readOnlyKey = "read_only_key"

    // Errors the Python library raises only when a model is built or loaded (§7.2).
    case missingSpeculatorsConfig = "missing_speculators_config"
    case auxLayerIds = "aux_layer_ids"
    case verifierMismatch = "verifier_mismatch"
    case checkpoint = "checkpoint"

    // Warnings: accepted by the library, but suspicious.
    case coercedValue = "coerced_value"
    case unknownKeyDropped = "unknown_key_dropped"
    case unknownKeyKept = "unknown_key_kept"
    case droppedOnSave = "dropped_on_save"
    case algorithmMismatch = "algorithm_mismatch"
    case draftVocabSize = "draft_vocab_size"
    case acceptTolerance = "accept_tolerance"
    case layerConfigDefaultClass = "layer_config_default_class"
    case layerConfigDefaultedKey = "layer_config_defaulted_key"
    case layerModelTypeUnsupported = "layer_model_type_unsupported"
    case layerGeometry = "layer_geometry"
    case verifierPathNull = "verifier_path_null"
    case auxLayerIdsUnset = "aux_layer_ids_unset"

    /// The pydantic error type of the Python library for the same problem (`[type=...]` in its
    /// messages), or the Python exception class for checks outside pydantic.
    public var libraryErrorType: String? {
        switch self {
        case .missingSpeculatorsModelType: return "ValueError"
        case .unknownSpeculatorsModelType, .unknownProposalType: return "union_tag_invalid"
        case .missingProposalType: return "union_tag_not_found"
        case .required: return "missing"
        case .expectedObject: return "model_type"
        case .expectedList: return "list_type"
        case .expectedInteger: return "int_parsing"
        case .fractionalInteger: return "int_from_float"
        case .expectedNumber: return "float_parsing"
        case .expectedBoolean: return "bool_parsing"
        case .expectedString: return "string_type"
        case .literal: return "literal_error"
        case .minimum: return "greater_than_equal"
        case .defaultProposalMethod, .normFlagsExclusive, .unknownLayerModelType, .mtpLayerCount,
             .layerConfigValue:
            return "value_error"
        case .missingSpeculatorsConfig, .readOnlyKey: return "AttributeError"
        case .auxLayerIds: return "ValueError"
        case .verifierMismatch: return nil
        default: return nil
        }
    }
}
