import Checkpoints
import Configs
import Foundation
import Models

/// What a conversion wrote, whatever the algorithm.
public struct ConversionResult: Sendable, Equatable {
    public let algorithm: String
    public let tensorCount: Int
    public let floatType: TensorDataType
    /// Decisions a user should know about (derived values, overridden source flags).
    public let notes: [String]
}

/// `speculators convert`: dispatch on `--algorithm` (Python `convert_model`).
public enum SpeculatorConverter {
    /// Algorithms this port converts.
    public static let supportedAlgorithms = ["eagle3", "mtp", "dflash"]

    /// Converts `model` (a local checkpoint folder) for `verifier` into `outputPath`.
    /// `algorithmKwargs` is the `--algorithm-kwargs` JSON object text; `dtype` overrides the source dtype.
    @discardableResult
    public static func convert(model: String, verifier: VerifierSummary, algorithm: String, outputPath: String,
                               algorithmKwargs: String? = nil, dtype: String? = nil,
                               progress: ConversionProgress? = nil) throws(ConversionError) -> ConversionResult {
        var floatType: TensorDataType?
        if let dtype { floatType = try FloatDType.parse(dtype, key: "--dtype", file: nil) }
        let source = URL(fileURLWithPath: model), output = URL(fileURLWithPath: outputPath)
        switch algorithm {
        case "eagle3":
            var options = Eagle3ConversionOptions()
            if let algorithmKwargs { options = try Eagle3ConversionOptions(algorithmKwargs: algorithmKwargs) }
            let plan = try Eagle3Converter.convert(source: source, output: output, verifier: verifier, options: options,
                                                   dtype: floatType, progress: progress)
            return ConversionResult(algorithm: algorithm, tensorCount: plan.entries.count, floatType: plan.floatType, notes: plan.notes)
        case "dflash":
            let kwargs = try algorithmKwargs.map { text throws(ConversionError) in try parseKwargs(text, accepted: ["aux_hidden_state_layer_ids", "cache_dir"], algorithm: algorithm) } ?? [:]
            var ids: [Int]?
            if let value = kwargs["aux_hidden_state_layer_ids"], !value.isNull {
                guard let list = value.arrayValue, case let values = list.compactMap(\.intValue), values.count == list.count else {
                    throw ConversionError.invalidOption(key: "aux_hidden_state_layer_ids", problem: "must be a list of integers or null")
                }
                ids = values
            }
            let plan = try DFlashConverter.convert(source: source, output: output, verifier: verifier, auxLayerIds: ids,
                                                   dtype: floatType, progress: progress)
            return ConversionResult(algorithm: algorithm, tensorCount: plan.entries.count, floatType: plan.floatType, notes: plan.notes)
        case "mtp":
            let kwargs = try algorithmKwargs.map { text throws(ConversionError) in try parseKwargs(text, accepted: ["num_speculative_steps", "cache_dir"], algorithm: algorithm) } ?? [:]
            var steps = 3
            if let value = kwargs["num_speculative_steps"] {
                guard let number = value.intValue else {
                    throw ConversionError.invalidOption(key: "num_speculative_steps", problem: "must be an integer, not \(value.compactDescription)")
                }
                steps = number
            }
            let plan = try MTPConverter.convert(source: source, output: output, verifier: verifier, speculativeSteps: steps,
                                                dtype: floatType, progress: progress)
            return ConversionResult(algorithm: algorithm, tensorCount: plan.entries.count, floatType: plan.floatType, notes: plan.notes)
        default:
            throw ConversionError.unsupportedAlgorithm(name: algorithm, supported: supportedAlgorithms)
        }
    }

    /// `--algorithm-kwargs` as an object whose keys are all in `accepted`.
    static func parseKwargs(_ text: String, accepted: [String], algorithm: String) throws(ConversionError) -> JSONObject {
        let value: JSONValue
        do { value = try JSONParser.parse(text) } catch {
            throw ConversionError.invalidOption(key: "--algorithm-kwargs", problem: "is not valid JSON: \(error)")
        }
        guard case .object(let object) = value else {
            throw ConversionError.invalidOption(key: "--algorithm-kwargs", problem: "must be a JSON object, not \(value.typeName)")
        }
        if let unknown = object.keys.first(where: { !accepted.contains($0) }) {
            throw ConversionError.invalidOption(key: unknown, problem: "is not a \(algorithm) converter option; accepted: " + accepted.joined(separator: ", "))
        }
        return object
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
    public static func progressPrinter(_ write: @escaping @Sendable (String) -> Void) -> ConversionProgress {
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
