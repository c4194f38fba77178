import Checkpoints
import Foundation

/// `speculators convert`: dispatch on `--algorithm` (Python `convert_model`).
public enum SpeculatorConverter {
    /// Algorithms this port converts.
    public static let supportedAlgorithms = ["eagle3"]
    /// Algorithms upstream's CLI offers that this port does not implement yet.
    public static let upstreamOnlyAlgorithms = ["mtp", "dflash"]

    /// Converts `model` (a local checkpoint folder) for `verifier` into `outputPath`.
    /// `algorithmKwargs` is the `--algorithm-kwargs` JSON object text; `dtype` overrides the source dtype.
    @discardableResult
    public static func convert(model: String, verifier: VerifierSummary, algorithm: String, outputPath: String,
                               algorithmKwargs: String? = nil, dtype: String? = nil,
                               progress: Eagle3Converter.Progress? = nil) throws(ConversionError) -> Eagle3ConversionPlan {
        switch algorithm {
        case "eagle3":
            var options = Eagle3ConversionOptions()
            if let algorithmKwargs { options = try Eagle3ConversionOptions(algorithmKwargs: algorithmKwargs) }
            var floatType: TensorDataType?
            if let dtype { floatType = try FloatDType.parse(dtype, key: "--dtype", file: nil) }
            return try Eagle3Converter.convert(source: URL(fileURLWithPath: model), output: URL(fileURLWithPath: outputPath),
                                               verifier: verifier, options: options, dtype: floatType, progress: progress)
        default:
            throw ConversionError.unsupportedAlgorithm(name: algorithm, supported: supportedAlgorithms)
        }
    }
}
