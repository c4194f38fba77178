/// The fields every speculator config has, whatever its type (the Python base class
/// `SpeculatorModelConfig`), plus the top-level keys no field claims, which are kept and saved.
///
/// Concrete types (`Eagle3SpeculatorConfig`, ...) store one of these as `base`. Reading a
/// document of unknown type goes through `SpeculatorModelConfig.decode`/`fromDict`, which picks
/// the registered type by `speculators_model_type`.
public struct SpeculatorModelConfig: Sendable, Equatable {
    /// The discriminator; set by the concrete type.
    public var speculatorsModelType: String
    /// Informational; never validated. New configs get `libraryVersion`.
    public var speculatorsVersion = SpeculatorModelConfig.libraryVersion
    /// Algorithm, proposal methods and verifier. Optional in the file (the library parses a
    /// config without it) but required to build a model.
    public var speculatorsConfig: SpeculatorsConfig?
    /// Informational. Saved models say e.g. `["Eagle3DraftModel"]`.
    public var architectures: [String]
    /// Top-level keys that are not fields (`auto_map`, `dtype`, `transformers_version`, ...),
    /// kept in document order and written back on save.
    public var extraKeys: JSONObject = [:]

    public init(speculatorsModelType: String, architectures: [String]) {
        self.speculatorsModelType = speculatorsModelType
        self.architectures = architectures
    }

    /// The Python library version whose format this module reads and writes.
    public static let libraryVersion = "0.9.0"
    /// The transformers version written into new configs (`transformers_version`), matching the
    /// reference files.
    public static let transformersVersion = "5.19.0"

    /// The base fields as fields of a concrete type.
    static func fields<Root: SpeculatorTypeConfig>(of type: Root.Type) -> [ConfigField<Root>] {
        let base: [ConfigField<SpeculatorModelConfig>] = [
            .string("speculators_version", \.speculatorsVersion,
                doc: "Version of the speculators library that wrote the config. Informational; never compared."),
            .optionalModel("speculators_config", \.speculatorsConfig,
                doc: "Algorithm, token proposal methods and verifier. The library parses a config without it, but no model can be built from one."),
            .stringList("architectures", \.architectures,
                doc: "Model class names that can load the weights. Informational; the model type is identified by speculators_model_type."),
        ]
        return [.constant(SpeculatorRegistry.discriminator, Root.speculatorsModelType,
                          doc: "Discriminator: selects the config type.")]
            + base.map { $0.lifted(\Root.base) }
    }

    /// Warnings every speculator type shares.
    static func rules<Root: SpeculatorTypeConfig>(of type: Root.Type) -> [ModelRule<Root>] {
        [
            ModelRule(dependsOn: ["speculators_config"],
                      summary: "speculators_config should be present: no model can be built without it.") { config, path, issues in
                if config.base.speculatorsConfig == nil {
                    issues.add(.warning(.missingSpeculatorsConfig, at: path.appending("speculators_config"), value: nil,
                        "speculators_config is missing; the library parses this but fails when a model is built (no verifier, no proposal methods)"))
                }
            },
            ModelRule(dependsOn: ["speculators_config"],
                      summary: "speculators_config.algorithm is normally the speculators_model_type.") { config, path, issues in
                guard let algorithm = config.base.speculatorsConfig?.algorithm, algorithm != Root.speculatorsModelType else { return }
                let known = SpeculatorRegistry.names.contains(algorithm) ? "" : ", and is not a registered speculator type"
                issues.add(.warning(.algorithmMismatch, at: path.appending("speculators_config").appending("algorithm"), value: .string(algorithm),
                    "algorithm '\(algorithm)' differs from speculators_model_type '\(Root.speculatorsModelType)'\(known); the library does not check it"))
            },
            ModelRule(dependsOn: ["speculators_config"],
                      summary: "verifier.name_or_path null disables loading the verifier.") { config, path, issues in
                guard let verifier = config.base.speculatorsConfig?.verifier, verifier.nameOrPath == nil else { return }
                issues.add(.warning(.verifierPathNull, at: path.appending("speculators_config").appending("verifier").appending("name_or_path"), value: .null,
                    "verifier.name_or_path is null: the verifier's weights cannot be loaded and default aux layer ids cannot be resolved; serving needs a verifier given another way"))
            },
        ]
    }

    // MARK: - Top-level keys that are not fields

    /// Read-only properties every Python config class has (pydantic's and transformers').
    public static let readOnlyKeys = ["is_heterogeneous", "model_extra", "model_fields_set", "per_layer_attributes", "use_return_dict"]

    /// Generic transformers keys that legitimately appear at the top level.
    static let transformersKeys: Set<String> = [
        "auto_map", "dtype", "torch_dtype", "transformers_version", "tie_word_embeddings", "_name_or_path",
    ]

    /// Keys the library never writes (class constants) or drops on re-save (leaked generic keys).
    static let keysDroppedOnSave: Set<String> = [
        "base_model_ep_plan", "has_no_defaults_at_init", "model_config", "auto_package", "registry_auto_discovery",
        "schema_discriminator", "model_type", "base_config_key", "sub_configs", "is_composition", "attribute_map",
        "base_model_tp_plan", "base_model_pp_plan", "keys_to_ignore_at_inference", "_auto_class",
    ]

    /// Warnings about top-level keys no field of `type` claims.
    static func reviewExtraKeys(of object: JSONObject, for type: any SpeculatorTypeConfig.Type, issues: inout IssueCollector) {
        let own = Set(type.fieldNames)
        for (key, value) in object.entries where !own.contains(key) {
            let path = JSONPath.root.appending(key)
            if keysDroppedOnSave.contains(key) {
                issues.add(.warning(.droppedOnSave, at: path, value: value,
                    "'\(key)' is a transformers/pydantic internal that the library does not write; it is dropped on save"))
            } else if transformersKeys.contains(key) {
                continue
            } else if let owner = SpeculatorRegistry.types.first(where: { $0.fieldNames.contains(key) }) {
                issues.add(.warning(.unknownKeyKept, at: path, value: value,
                    "'\(key)' is a field of '\(owner.speculatorsModelType)' configs, not of '\(type.speculatorsModelType)'; it is kept as an extra key and has no effect"))
            } else {
                issues.add(.warning(.unknownKeyKept, at: path, value: value,
                    "'\(key)' is not a field of \(type.schemaTitle); it is kept and saved but nothing reads it"))
            }
        }
    }
}

/// A registered speculator config type (`eagle3`, `peagle`, `dflash`, ...). Conforming types
/// list their own fields in `typeFields`; the base fields, the unknown-key handling and the
/// dictionary/file round trip come from the extension below.
public protocol SpeculatorTypeConfig: ConfigModel {
    /// The `speculators_model_type` value, which is also the registry key.
    static var speculatorsModelType: String { get }
    var base: SpeculatorModelConfig { get set }
    /// Fields beyond the base ones, in the Python class's order.
    static var typeFields: [ConfigField<Self>] { get }
    /// Cross-field rules beyond the shared ones.
    static var typeRules: [ModelRule<Self>] { get }
    /// The JSON key and value of the verifier layer ids this type reads hidden states from, when
    /// it has them (`eagle_aux_hidden_state_layer_ids`, `aux_hidden_state_layer_ids`).
    var auxLayerIdsField: (key: String, ids: [Int]?)? { get }
    /// Names the Python class defines as read-only properties (derived values such as
    /// `target_vocab_size`): a config that sets one fails there with "property ... has no setter".
    static var readOnlyKeys: [String] { get }
}

extension SpeculatorTypeConfig {
    public static var typeRules: [ModelRule<Self>] { [] }
    public var auxLayerIdsField: (key: String, ids: [Int]?)? { nil }
    public static var readOnlyKeys: [String] { SpeculatorModelConfig.readOnlyKeys + ["target_vocab_size"] }

    public static var fields: [ConfigField<Self>] { SpeculatorModelConfig.fields(of: Self.self) + typeFields }
    public static var rules: [ModelRule<Self>] { SpeculatorModelConfig.rules(of: Self.self) + typeRules }
    public static var unknownKeyPolicy: UnknownKeyPolicy { .keep }
    public mutating func keepUnknownKey(_ key: String, value: JSONValue) { base.extraKeys[key] = value }
    public var keptUnknownKeys: JSONObject { base.extraKeys }

    // Convenience accessors for the base fields.
    public var speculatorsModelType: String { Self.speculatorsModelType }
    public var speculatorsVersion: String {
        get { base.speculatorsVersion }
        set { base.speculatorsVersion = newValue }
    }
    public var speculatorsConfig: SpeculatorsConfig? {
        get { base.speculatorsConfig }
        set { base.speculatorsConfig = newValue }
    }
    public var architectures: [String] {
        get { base.architectures }
        set { base.architectures = newValue }
    }
    public var extraKeys: JSONObject {
        get { base.extraKeys }
        set { base.extraKeys = newValue }
    }
    /// The verifier block, when `speculators_config` is present.
    public var verifier: VerifierConfig? { base.speculatorsConfig?.verifier }
    public var proposalMethods: [any TokenProposalConfig] { base.speculatorsConfig?.proposalMethods ?? [] }

    /// Every field (defaults included) and every kept key, plus `transformers_version` when the
    /// config has none (transformers always writes it).
    public func toDict() -> JSONObject {
        var object = encodeFields()
        if object["transformers_version"] == nil {
            object["transformers_version"] = .string(SpeculatorModelConfig.transformersVersion)
        }
        return object
    }

    /// What `save` writes: `toDict()` without the keys the library drops on re-save.
    public func toDiffDict() -> JSONObject {
        var object = toDict()
        for key in SpeculatorModelConfig.keysDroppedOnSave where key != SpeculatorRegistry.discriminator {
            object.removeValue(forKey: key)
        }
        return object
    }

    /// The `auto_map` transformers writes for a speculator config class.
    public static var autoMap: JSONValue { ["": .string("config.\(schemaTitle)")] }

    /// The exact bytes of the `config.json` the library would write: `toDiffDict()` plus
    /// `auto_map` (added by `save_pretrained`), keys sorted, two-space indent, trailing newline.
    public func configFileText() -> String {
        var object = toDiffDict()
        if object["auto_map"] == nil { object["auto_map"] = Self.autoMap }
        return PythonJSONWriter.configFile(.object(object))
    }
}

// MARK: - Reading a config of any registered type

extension SpeculatorModelConfig {
    /// Reads a config of any registered type (Python `SpeculatorModelConfig.model_validate` after
    /// the `from_dict` check): every problem goes to `issues`; nil when there is an error.
    public static func decode(_ value: JSONValue, issues: inout IssueCollector) -> (any SpeculatorTypeConfig)? {
        // transformers reads a `{"__float__": "Infinity"}` it saved as the float it stands for.
        let value = value.decodingTaggedFloats
        guard case .object(let object) = value else {
            issues.add(.error(.notAnObject, at: .root, value: nil,
                "a speculator config must be a JSON object; got \(LaxCoercion.describe(value))"))
            return nil
        }
        let known = SpeculatorRegistry.names.map { "'\($0)'" }.joined(separator: ", ")
        guard let tag = object[SpeculatorRegistry.discriminator] else {
            issues.add(.error(.missingSpeculatorsModelType, at: JSONPath.root.appending(SpeculatorRegistry.discriminator), value: nil,
                "the config must contain the 'speculators_model_type' field (one of \(known)); this does not look like a speculators config"))
            return nil
        }
        guard case .string(let name) = tag, let type = SpeculatorRegistry.type(named: name) else {
            issues.add(.error(.unknownSpeculatorsModelType, at: JSONPath.root.appending(SpeculatorRegistry.discriminator), value: tag,
                "\(tag.compactDescription) is not a registered speculators_model_type; known types: \(known)"))
            return nil
        }
        reviewExtraKeys(of: object, for: type, issues: &issues)
        let errorsBefore = issues.errorCount
        PretrainedConfigFields.check(object, issues: &issues)
        if object["speculators_config"] == .null {
            issues.add(.error(.expectedObject, at: JSONPath.root.appending("speculators_config"), value: .null,
                "must be an object (SpeculatorsConfig); the library refuses null here (a config without the key is read, but no model can be built from it)"))
        }
        for key in type.readOnlyKeys where object[key] != nil {
            issues.add(.error(.readOnlyKey, at: JSONPath.root.appending(key), value: object[key],
                "'\(key)' is derived by \(type.schemaTitle) and cannot be set: the library fails with \"property '\(key)' of '\(type.schemaTitle)' object has no setter\"; remove it"))
        }
        let topLevelFailed = issues.errorCount > errorsBefore
        guard var config = type.decode(value, at: .root, issues: &issues), !topLevelFailed else { return nil }
        // transformers accepts the old `torch_dtype` spelling as `dtype`; the top level keeps both.
        if let torchDtype = config.base.extraKeys["torch_dtype"], config.base.extraKeys["dtype"] ?? .null == .null {
            config.base.extraKeys["dtype"] = torchDtype
        }
        return config
    }

    /// Python `SpeculatorModelConfig.from_dict(config_dict, **overrides)`: `overrides` replace
    /// top-level keys, then the registered type is chosen and validated.
    public static func fromDict(_ object: JSONObject, overrides: JSONObject = [:], source: String? = nil) throws(ConfigError) -> any SpeculatorTypeConfig {
        var issues = IssueCollector()
        guard let config = decode(.object(object.merging(overrides)), issues: &issues) else {
            throw ConfigError(issues: issues.issues.filter { $0.severity == .error }, source: source)
        }
        return config
    }

    /// Reads JSON text or bytes as a config of any registered type.
    public static func fromJSON(_ text: String, source: String? = nil) throws(ConfigError) -> any SpeculatorTypeConfig {
        let value: JSONValue
        do {
            value = try JSONParser.parse(text)
        } catch {
            throw ConfigError(.invalidJSON, "not valid JSON: \(error)", source: source)
        }
        guard case .object(let object) = value else {
            throw ConfigError(.notAnObject, "a speculator config must be a JSON object; got \(LaxCoercion.describe(value))", source: source)
        }
        return try fromDict(object, source: source)
    }
}
