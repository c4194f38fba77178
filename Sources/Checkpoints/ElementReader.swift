import Tensors

/// Turns the raw bytes of one stored tensor into Swift values. Shared by every format so the dtype rules
/// (what may be read as float, as integer, as bool) are the same everywhere.
enum ElementReader {
    /// Bytes per element of the plain (non-block) types; nil for block-quantised types.
    static func elementSize(_ dataType: TensorDataType) -> Int? {
        switch dataType {
        case .f64, .i64: return 8
        case .f32, .i32: return 4
        case .f16, .bf16, .i16: return 2
        case .i8, .u8, .bool: return 1
        default: return nil
        }
    }

    /// Float32 copy of a float or quantised tensor. `bytes` holds exactly the tensor's data.
    static func float32(_ info: TensorInfo, bytes: UnsafeRawBufferPointer, file: String) throws -> Tensor {
        guard info.dataType.isFloatConvertible else {
            throw CheckpointError.wrongDataType(file: file, tensor: info.name, dataType: info.dataType,
                                                wanted: "float32")
        }
        let tensor = Tensor(zeros: info.shape)
        guard info.elementCount > 0, let source = bytes.baseAddress else { return tensor }
        Dequantizer.dequantize(info.dataType, from: source, count: info.elementCount, to: tensor.base)
        return tensor
    }

    /// An integer tensor widened to Int64.
    static func int64(_ info: TensorInfo, bytes: UnsafeRawBufferPointer, file: String) throws -> [Int64] {
        let count = info.elementCount
        guard count > 0, let source = bytes.baseAddress else {
            guard info.dataType.isInteger else {
                throw CheckpointError.wrongDataType(file: file, tensor: info.name, dataType: info.dataType,
                                                    wanted: "integers")
            }
            return []
        }
        switch info.dataType {
        case .i64: return (0..<count).map { source.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self) }
        case .i32: return (0..<count).map { Int64(source.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self)) }
        case .i16: return (0..<count).map { Int64(source.loadUnaligned(fromByteOffset: 2 * $0, as: Int16.self)) }
        case .i8: return (0..<count).map { Int64(source.load(fromByteOffset: $0, as: Int8.self)) }
        case .u8: return (0..<count).map { Int64(source.load(fromByteOffset: $0, as: UInt8.self)) }
        default:
            throw CheckpointError.wrongDataType(file: file, tensor: info.name, dataType: info.dataType,
                                                wanted: "integers")
        }
    }

    /// A BOOL tensor, or a U8 one holding 0 and 1 (`t2d` saved as `torch.uint8`, which the
    /// Python library loads). A byte other than 0 or 1 is corruption (PyTorch never writes one).
    static func bool(_ info: TensorInfo, bytes: UnsafeRawBufferPointer, file: String) throws -> [Bool] {
        guard info.dataType == .bool || info.dataType == .u8 else {
            throw CheckpointError.wrongDataType(file: file, tensor: info.name, dataType: info.dataType,
                                                wanted: "booleans")
        }
        var values = [Bool](repeating: false, count: info.elementCount)
        for index in 0..<info.elementCount {
            switch bytes[index] {
            case 0: break
            case 1: values[index] = true
            case let other:
                throw CheckpointError.corrupt(file: file, tensor: info.name,
                                              problem: "\(info.dataType.rawValue) element \(index) is byte \(other), not 0 or 1")
            }
        }
        return values
    }
}
