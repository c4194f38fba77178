import Checkpoints
import Configs
import Foundation
import Tensors

/// Progress of a conversion's write: tensors done, tensors in all, the tensor just written.
public typealias ConversionProgress = @Sendable (_ done: Int, _ total: Int, _ name: String) -> Void

/// Writes a converted checkpoint: `config.json` and `model.safetensors` into a folder.
enum CheckpointWriting {
    /// Floats are cast to `floatType` (round to nearest even); a NaN or infinite value is an error
    /// naming the tensor. The safetensors file is assembled in memory and renamed into place.
    static func write(_ entries: [ConvertedTensor], from weights: TensorSource, floatType: TensorDataType,
                      config: some SpeculatorTypeConfig, to output: URL,
                      progress: ConversionProgress?) throws(ConversionError) {
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
        var writer = SafetensorsWriter()
        do {
            for (index, entry) in entries.enumerated() {
                switch entry.origin {
                case .floats(let name):
                    let tensor = try weights.loadFloat32(name)
                    try add(entry, values: UnsafeBufferPointer(start: tensor.base, count: tensor.count), source: name,
                            file: weights.description, floatType: floatType, to: &writer)
                case let .floatRows(name, rows):
                    let tensor = try weights.loadFloat32(name)
                    let width = tensor.columns
                    try add(entry, values: UnsafeBufferPointer(start: tensor.base + rows.lowerBound * width, count: rows.count * width),
                            source: name, file: weights.description, floatType: floatType, to: &writer)
                case .concatenation(let names):
                    var values: [Float] = []
                    values.reserveCapacity(entry.shape.reduce(1, *))
                    for name in names {
                        let tensor = try weights.loadFloat32(name)
                        values.append(contentsOf: UnsafeBufferPointer(start: tensor.base, count: tensor.count))
                    }
                    try values.withUnsafeBufferPointer { buffer in
                        try add(entry, values: buffer, source: names.first ?? entry.name, file: weights.description,
                                floatType: floatType, to: &writer)
                    }
                case .int64(let name):
                    try writer.add(entry.name, shape: entry.shape, int64: try weights.loadInt64(name))
                case .bool(let name):
                    try writer.add(entry.name, shape: entry.shape, bool: try weights.loadBool(name))
                case .derivedOffsets(let values):
                    try writer.add(entry.name, shape: entry.shape, int64: values)
                case .derivedMask(let values):
                    try writer.add(entry.name, shape: entry.shape, bool: values)
                }
                progress?(index + 1, entries.count, entry.name)
            }
        } catch let error as ConversionError {
            throw error
        } catch {
            throw ConversionError.invalidTensor(file: weights.description, tensor: "(reading)", problem: "\(error)")
        }
        do {
            try config.save(toFolder: output.path)
            try writer.write(to: output.appendingPathComponent("model.safetensors"))
        } catch {
            throw ConversionError.writeFailed(path: output.path, problem: "\(error)")
        }
    }

    private static func add(_ entry: ConvertedTensor, values: UnsafeBufferPointer<Float>, source: String, file: String,
                            floatType: TensorDataType, to writer: inout SafetensorsWriter) throws {
        if let bad = values.firstIndex(where: { !$0.isFinite }) {
            throw ConversionError.invalidTensor(file: file, tensor: source,
                                                problem: "holds a non-finite value (\(values[bad])) at flat index \(bad)")
        }
        try writer.add(entry.name, dataType: floatType, shape: entry.shape, floats: values)
    }
}
