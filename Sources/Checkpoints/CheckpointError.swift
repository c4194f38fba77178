/// Everything that can go wrong reading or writing a checkpoint.
///
/// Every case names the file (or folder) and, where one is involved, the tensor or metadata key, so a user
/// can tell from the message alone which file to look at and what is wrong with it.
public enum CheckpointError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The path cannot be opened, read or mapped (missing file, permissions, a directory where a file was wanted).
    case unreadable(file: String, problem: String)
    /// The path exists but is none of the formats we read, or a folder lacks the expected files.
    case unrecognised(path: String, problem: String)
    /// The file's structure is broken: header length, header JSON, GGUF records, offsets, sizes.
    /// `tensor` is set when the problem is in one tensor's entry.
    case corrupt(file: String, tensor: String?, problem: String)
    /// A tensor asked for by name is not in the checkpoint.
    case missingTensor(file: String, tensor: String)
    /// A tensor exists but has another shape than the caller needs.
    case shapeMismatch(file: String, tensor: String, expected: [Int], actual: [Int])
    /// A tensor exists but its dtype cannot be read the way the caller asked (e.g. a BOOL tensor as float).
    case wrongDataType(file: String, tensor: String, dataType: TensorDataType, wanted: String)
    /// A metadata key is missing or has the wrong type or value.
    case badMetadata(file: String, key: String, problem: String)
    /// The values handed to `SafetensorsWriter` are inconsistent.
    case invalidWriterInput(tensor: String, problem: String)
    /// Writing the output file failed.
    case writeFailed(file: String, problem: String)

    public var description: String {
        switch self {
        case let .unreadable(file, problem):
            return "\(file): cannot read: \(problem)"
        case let .unrecognised(path, problem):
            return "\(path): not a checkpoint we can read: \(problem)"
        case let .corrupt(file, tensor?, problem):
            return "\(file): tensor '\(tensor)': corrupt entry: \(problem)"
        case let .corrupt(file, nil, problem):
            return "\(file): corrupt file: \(problem)"
        case let .missingTensor(file, tensor):
            return "\(file): tensor '\(tensor)' not found"
        case let .shapeMismatch(file, tensor, expected, actual):
            return "\(file): tensor '\(tensor)' has shape \(actual) but \(expected) was expected"
        case let .wrongDataType(file, tensor, dataType, wanted):
            return "\(file): tensor '\(tensor)' has dtype \(dataType.rawValue), which cannot be read as \(wanted)"
        case let .badMetadata(file, key, problem):
            return "\(file): metadata '\(key)': \(problem)"
        case let .invalidWriterInput(tensor, problem):
            return "safetensors writer: tensor '\(tensor)': \(problem)"
        case let .writeFailed(file, problem):
            return "\(file): cannot write: \(problem)"
        }
    }
}
