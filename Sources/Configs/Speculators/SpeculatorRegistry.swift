/// The speculator config types, keyed by `speculators_model_type` (Python: the registry on
/// `SpeculatorModelConfig`). To add a type: write a `SpeculatorTypeConfig` in its own file under
/// `SpeculatorTypes/` and add one line to `types`. Decoding, validation, the report and the JSON
/// Schema pick it up from here.
public enum SpeculatorRegistry {
    public static let discriminator = "speculators_model_type"

    /// Registration order is the order in messages: the Python library registers by module name.
    public static var types: [any SpeculatorTypeConfig.Type] {
        [
            DFlashSpeculatorConfig.self,
            DFlash2SpeculatorConfig.self,
            DSparkSpeculatorConfig.self,
            Eagle3SpeculatorConfig.self,
            MTPSpeculatorConfig.self,
            PEagleSpeculatorConfig.self,
            XPressSpeculatorConfig.self,
        ]
    }

    public static var names: [String] { types.map { $0.speculatorsModelType } }

    public static func type(named name: String) -> (any SpeculatorTypeConfig.Type)? {
        types.first { $0.speculatorsModelType == name }
    }
}
