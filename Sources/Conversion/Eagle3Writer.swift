import Checkpoints
import Configs
import Foundation
import Models
import Tensors

extension Eagle3Converter {
    /// Progress of `write`: tensors done, tensors in all, the tensor just written.
    public typealias Progress = @Sendable (_ done: Int, _ total: Int, _ name: String) -> Void

    /// Writes `config.json` and `model.safetensors` of `plan` into `output` (created if needed).
    /// Floats are cast to `plan.floatType` (round to nearest even); a NaN or infinite value is an
    /// error naming the tensor. The safetensors file is assembled in memory and renamed into place.
    public static func write(_ plan: Eagle3ConversionPlan, to output: URL, progress: Progress? = nil) throws(ConversionError) {
        let manager = FileManager.default
        var isDirectory: ObjCBool = false
        if manager.fileExists(atPath: output.path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else {
                throw ConversionError.writeFailed(path: output.path, problem: "it is a file, not a folder")
            }
            guard !manager.fileExists(atPath: output.appendingPathComponent(ShardedSafetensors.indexFileName).path) else {
                throw ConversionError.writeFailed(path: output.path,
                    problem: "it holds a sharded checkpoint (\(ShardedSafetensors.indexFileName)) that loaders would read instead")
            }
        }
        do {
            try manager.createDirectory(at: output, withIntermediateDirectories: true)
        } catch {
            throw ConversionError.writeFailed(path: output.path, problem: error.localizedDescription)
        }
        let weights = plan.weights
        var writer = SafetensorsWriter()
        do {
            for (index, entry) in plan.entries.enumerated() {
                switch entry.origin {
                case .floats(let name):
                    let tensor = try weights.loadFloat32(name)
                    if let bad = UnsafeBufferPointer(start: tensor.base, count: tensor.count).firstIndex(where: { !$0.isFinite }) {
                        throw ConversionError.invalidTensor(file: weights.description, tensor: name,
                                                            problem: "holds a non-finite value (\(tensor.base[bad])) at flat index \(bad)")
                    }
                    try writer.add(entry.name, dataType: plan.floatType, shape: entry.shape,
                                   floats: UnsafeBufferPointer(start: tensor.base, count: tensor.count))
                case .int64(let name):
                    try writer.add(entry.name, shape: entry.shape, int64: try weights.loadInt64(name))
                case .bool(let name):
                    try writer.add(entry.name, shape: entry.shape, bool: try weights.loadBool(name))
                case .derivedOffsets(let values):
                    try writer.add(entry.name, shape: entry.shape, int64: values)
                case .derivedMask(let values):
                    try writer.add(entry.name, shape: entry.shape, bool: values)
                }
                progress?(index + 1, plan.entries.count, entry.name)
            }
        } catch let error as ConversionError {
            throw error
        } catch {
            throw ConversionError.invalidTensor(file: weights.description, tensor: "(reading)", problem: "\(error)")
        }
        do {
            try plan.config.save(toFolder: output.path)
            try writer.write(to: output.appendingPathComponent("model.safetensors"))
        } catch {
            throw ConversionError.writeFailed(path: output.path, problem: "\(error)")
        }
    }

    /// Plans and writes in one call.
    @discardableResult
    public static func convert(source: URL, output: URL, verifier: VerifierSummary, options: Eagle3ConversionOptions = .init(),
                               dtype: TensorDataType? = nil, progress: Progress? = nil) throws(ConversionError) -> Eagle3ConversionPlan {
        if source.standardizedFileURL.path == output.standardizedFileURL.path {
            throw ConversionError.writeFailed(path: output.path, problem: "the output folder is the source folder")
        }
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
