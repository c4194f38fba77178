import Checkpoints
import Foundation
import Models

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

extension SpeculatorConverter {
    /// Loads the verifier model a converted draft is validated against: a GGUF file or a Hugging
    /// Face folder (config.json + safetensors).
    public static func loadVerifierModel(path: String) throws(ConversionError) -> TransformerModel {
        let url = URL(fileURLWithPath: path)
        do {
            let source = try openCheckpoint(url)
            if let gguf = (source as? GGUFHuggingFaceView)?.gguf { return try TransformerModel.load(gguf: gguf) }
            return try TransformerModel.load(config: ModelConfig(huggingFaceFolder: url), weights: source)
        } catch {
            throw ConversionError.validationFailed(path: path, problem: "cannot load the verifier: \(error)")
        }
    }

    /// A progress printer for long conversions: one line per tenth of the tensors (once a second has
    /// passed), with rate and ETA, and a final line.
    public static func progressPrinter(_ write: @escaping @Sendable (String) -> Void) -> Eagle3Converter.Progress {
        let start = Date()
        return { done, total, name in
            let step = max(1, total / 10)
            let elapsed = Date().timeIntervalSince(start)
            // Quick conversions print only the last line; long ones a line per tenth.
            guard done == total || (done % step == 0 && elapsed >= 1) else { return }
            let rate = elapsed > 0 ? Double(done) / elapsed : 0
            let eta = rate > 0 ? Double(total - done) / rate : 0
            write(String(format: "converted %d/%d tensors (%@), %.1f tensors/s, ETA %.1fs", done, total, name, rate, eta))
        }
    }
}
