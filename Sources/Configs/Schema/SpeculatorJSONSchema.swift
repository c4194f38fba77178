/// The JSON Schema (draft 2020-12) of every registered speculator config, generated from the
/// same field lists that drive decoding (the counterpart of the Python library's
/// `reload_schemas`). A type added to a registry appears here without further work.
///
/// The schema describes configs as the library writes them: `"3"` for an integer validates
/// against it only through the lax reading the validator applies (and warns about).
public enum SpeculatorJSONSchema {
    public static let dialect = "https://json-schema.org/draft/2020-12/schema"

    public static func generate() -> JSONValue {
        var defs = JSONObject()
        defs[SpeculatorsConfig.schemaTitle] = modelSchema(SpeculatorsConfig.self)
        defs[VerifierConfig.schemaTitle] = modelSchema(VerifierConfig.self)
        defs["TokenProposalConfig"] = unionSchema(
            title: "TokenProposalConfig", discriminator: ProposalRegistry.discriminator,
            description: "A token proposal method, chosen by proposal_type.",
            branches: ProposalRegistry.types.map { ($0.proposalType, $0.schemaTitle) })
        for type in ProposalRegistry.types { defs[type.schemaTitle] = modelSchema(type) }
        defs["TransformerLayerConfig"] = layerConfigSchema()
        for type in SpeculatorRegistry.types { defs[type.schemaTitle] = modelSchema(type) }

        guard case .object(var root) = unionSchema(
            title: "SpeculatorModelConfig", discriminator: SpeculatorRegistry.discriminator,
            description: "A speculator's config.json. The speculators_model_type key selects the config type; unknown top-level keys are allowed and kept.",
            branches: SpeculatorRegistry.types.map { ($0.speculatorsModelType, $0.schemaTitle) }) else { return .null }
        root["$schema"] = .string(dialect)
        root["$defs"] = .object(defs)
        return .object(root)
    }

    /// The schema as text: sorted keys, two-space indent, trailing newline.
    public static var text: String { PythonJSONWriter.configFile(generate()) }

    /// An object whose `discriminator` key picks one of `branches` (tag, `$defs` name).
    static func unionSchema(title: String, discriminator: String, description: String, branches: [(String, String)]) -> JSONValue {
        [
            "title": .string(title),
            "description": .string(description),
            "type": "object",
            "required": [.string(discriminator)],
            "properties": [discriminator: ["type": "string", "enum": .array(branches.map { .string($0.0) })]],
            "oneOf": .array(branches.map { ["$ref": .string("#/$defs/\($0.1)")] }),
            // OpenAPI-style annotation (as pydantic emits); JSON Schema validators ignore it.
            "discriminator": [
                "propertyName": .string(discriminator),
                "mapping": .object(JSONObject(branches.map { ($0.0, .string("#/$defs/\($0.1)")) })),
            ],
        ]
    }

    static func modelSchema<M: ConfigModel>(_ type: M.Type) -> JSONValue {
        var properties = JSONObject()
        var required: [JSONValue] = []
        let defaults = M()
        for field in M.fields {
            guard case .object(var property) = shapeSchema(field.shape) else { continue }
            property["title"] = .string(field.name)
            property["description"] = .string(field.doc)
            if case .constant = field.shape {
                required.append(.string(field.name))
            } else if field.isRequired {
                required.append(.string(field.name))
            } else {
                property["default"] = field.encodeValue(defaults)
            }
            properties[field.name] = .object(property)
        }
        var schema: JSONObject = [
            "title": .string(M.schemaTitle),
            "description": .string(M.schemaDescription),
            "type": "object",
            "properties": .object(properties),
            "required": .array(required),
            // Unknown keys are accepted: kept at the top level, ignored (with a warning) inside.
            "additionalProperties": true,
        ]
        let rules = M.rules.map(\.summary)
        if !rules.isEmpty { schema["x-rules"] = .array(rules.map { .string($0) }) }
        return .object(schema)
    }

    static func shapeSchema(_ shape: FieldShape) -> JSONValue {
        switch shape {
        case .integer(let minimum):
            var s: JSONObject = ["type": "integer"]
            if let minimum { s["minimum"] = .int(minimum) }
            return .object(s)
        case .number(let minimum):
            var s: JSONObject = ["type": "number"]
            if let minimum { s["minimum"] = .double(minimum) }
            return .object(s)
        case .boolean: return ["type": "boolean"]
        case .string: return ["type": "string"]
        case .choice(let values): return ["type": "string", "enum": .array(values.map { .string($0) })]
        case .constant(let value): return ["type": "string", "const": .string(value)]
        case .list(let element): return ["type": "array", "items": shapeSchema(element)]
        case .nullable(let inner): return ["anyOf": [shapeSchema(inner), ["type": "null"]]]
        case .model(let name): return ["$ref": .string("#/$defs/\(name)")]
        case .taggedList(_, let name): return ["$ref": .string("#/$defs/\(name)")]
        case .layerConfig(let defaultModelType):
            return ["allOf": [["$ref": "#/$defs/TransformerLayerConfig"]],
                    "x-default-model-type": .string(defaultModelType)]
        }
    }

    static func layerConfigSchema() -> JSONValue {
        var properties = JSONObject()
        for key in LayerConfigClass.keys {
            guard case .object(var property) = key.kind.schema else { continue }
            property["description"] = .string(key.doc)
            properties[key.name] = .object(property)
        }
        let classes = LayerConfigClass.known.map { "\($0.modelType) (\($0.className))" }.joined(separator: ", ")
        return [
            "title": "TransformerLayerConfig",
            "description": .string("A transformers model config for the draft's decoder layers. model_type selects the class; missing keys take the class defaults (known here: \(classes)); any model type transformers registers parses, but an EAGLE-3 draft builds only with llama or qwen3. Unknown keys are kept."),
            "type": "object",
            "properties": .object(properties),
            "additionalProperties": true,
        ]
    }
}
