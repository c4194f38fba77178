import Checkpoints
import Configs
import Foundation
import Models
import Tensors

extension Eagle3Converter {
    /// Writes `config.json` and `model.safetensors` of `plan` into `output` (created if needed).
    /// Floats are cast to `plan.floatType` (round to nearest even); a NaN or infinite value is an
    /// error naming the tensor. The safetensors file is assembled in memory and renamed into place.
    public static func write(_ plan: Eagle3ConversionPlan, to output: URL, progress: ConversionProgress? = nil) throws(ConversionError) {
        try CheckpointWriting.write(plan.entries, from: plan.weights, floatType: plan.floatType, config: plan.config,
                                    to: output, progress: progress)
    }

    /// Plans and writes in one call.
    @discardableResult
    public static func convert(source: URL, output: URL, verifier: VerifierSummary, options: Eagle3ConversionOptions = .init(),
                               dtype: TensorDataType? = nil, progress: ConversionProgress? = nil) throws(ConversionError) -> Eagle3ConversionPlan {
        try ConvertedConfig.requireDistinct(source: source, output: output)
        let plan = try plan(source: source, verifier: verifier, options: options, dtype: dtype)
        try write(plan, to: output, progress: progress)
        return plan
    }

    /// Loads the converted folder with the speculator registry for `verifier`, as `--validate` does
    /// (upstream's validation: load, no forward pass).
    public static func validate(output: URL, verifier: TransformerModel) throws(ConversionError) -> Eagle3DraftModel {
        do {
            guard let draft = try SpeculatorModelRegistry.load(folder: output, verifier: verifier).eagle3 else {
                throw ConversionError.validationFailed(path: output.path, problem: "not an eagle3 speculator")
            }
            return draft
        } catch let error as ConversionError {
            throw error
        } catch {
            throw ConversionError.validationFailed(path: output.path, problem: "\(error)")
        }
    }
}
