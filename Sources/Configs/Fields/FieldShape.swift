/// The shape of a field's value. It decides how a JSON value is checked and converted, and it is
/// what the JSON Schema generator describes, so validation and schema cannot disagree.
public indirect enum FieldShape: Sendable {
    /// An integer, optionally with a lower bound (pydantic `ge=`).
    case integer(minimum: Int?)
    /// A number (float), optionally with a lower bound.
    case number(minimum: Double?)
    case boolean
    case string
    /// One of a fixed set of strings (pydantic `Literal[...]`).
    case choice([String])
    /// Exactly this string: a discriminator such as `speculators_model_type: "eagle3"`.
    case constant(String)
    case list(FieldShape)
    /// The shape, or JSON `null`.
    case nullable(FieldShape)
    /// A nested config object, described under `$defs/<name>` in the schema.
    case model(String)
    /// A list of objects resolved through a registry by a discriminator key (proposal methods).
    case taggedList(discriminator: String, schemaName: String)
    /// A transformers model config (`transformer_layer_config`); `defaultModelType` is the class
    /// used when the object has no `model_type`.
    case layerConfig(defaultModelType: String)
}

/// A check that involves more than one field (pydantic `model_validator`), or a warning about a
/// combination of values. It runs after the fields are read, and only if none of the fields it
/// depends on failed, so it never judges a value that was not actually read.
public struct ModelRule<Root>: Sendable {
    /// Field names whose values the rule reads.
    public let dependsOn: [String]
    /// One sentence for documentation and the schema.
    public let summary: String
    let check: @Sendable (Root, JSONPath, inout IssueCollector) -> Void

    public init(dependsOn: [String], summary: String,
                check: @escaping @Sendable (Root, JSONPath, inout IssueCollector) -> Void) {
        self.dependsOn = dependsOn
        self.summary = summary
        self.check = check
    }

    /// The same rule for a type that stores `Root` at `keyPath` (used for shared field groups).
    func lifted<Outer>(_ keyPath: KeyPath<Outer, Root> & Sendable) -> ModelRule<Outer> {
        let check = self.check
        return ModelRule<Outer>(dependsOn: dependsOn, summary: summary) { outer, path, issues in
            check(outer[keyPath: keyPath], path, &issues)
        }
    }
}
