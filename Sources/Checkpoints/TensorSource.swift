import Tensors

/// The element type of a stored tensor.
///
/// Raw values are the spellings the file formats use: safetensors dtype strings (`"F32"`, `"BOOL"`, …)
/// and ggml type names (`"Q4_K"`, …), so an error message can quote the file's own word.
public enum TensorDataType: String, Sendable, CaseIterable {
    // Plain element types (safetensors and GGUF).
    case f32 = "F32", f16 = "F16", bf16 = "BF16", f64 = "F64"
    case i64 = "I64", i32 = "I32", i16 = "I16", i8 = "I8", u8 = "U8", bool = "BOOL"
    // ggml block-quantised types (GGUF only). Only some of them can be dequantised; see `isDequantisable`.
    case q4_0 = "Q4_0", q4_1 = "Q4_1", q5_0 = "Q5_0", q5_1 = "Q5_1", q8_0 = "Q8_0", q8_1 = "Q8_1"
    case q2_K = "Q2_K", q3_K = "Q3_K", q4_K = "Q4_K", q5_K = "Q5_K", q6_K = "Q6_K", q8_K = "Q8_K"
    case iq2_XXS = "IQ2_XXS", iq2_XS = "IQ2_XS", iq3_XXS = "IQ3_XXS", iq1_S = "IQ1_S", iq4_NL = "IQ4_NL"
    case iq3_S = "IQ3_S", iq2_S = "IQ2_S", iq4_XS = "IQ4_XS", iq1_M = "IQ1_M"
    case tq1_0 = "TQ1_0", tq2_0 = "TQ2_0", mxfp4 = "MXFP4"

    /// True for the types `loadFloat32` converts: the float types and the quantised types with a dequantiser.
    public var isFloatConvertible: Bool {
        switch self {
        case .f32, .f16, .bf16, .f64: return true
        default: return Dequantizer.isSupported(self)
        }
    }

    /// True for the integer types `loadInt64` widens.
    public var isInteger: Bool {
        switch self {
        case .i64, .i32, .i16, .i8, .u8: return true
        default: return false
        }
    }
}

/// What a checkpoint says about one tensor, without reading its data.
public struct TensorInfo: Sendable, Equatable {
    public let name: String
    public let dataType: TensorDataType
    /// Row-major, outermost dimension first (PyTorch order), whatever the file's own convention.
    public let shape: [Int]

    public init(name: String, dataType: TensorDataType, shape: [Int]) {
        self.name = name
        self.dataType = dataType
        self.shape = shape
    }

    /// The number of elements (1 for a scalar of shape `[]`).
    public var elementCount: Int { shape.reduce(1, *) }
}

/// Anything that holds named tensors: one safetensors file, a sharded folder, a GGUF file or a renaming view
/// of one. Model loaders are written against this protocol so they never care which format is underneath.
public protocol TensorSource: Sendable {
    /// The file or folder, for error messages.
    var description: String { get }
    /// Every tensor name, sorted.
    var tensorNames: [String] { get }
    /// The dtype and shape of a tensor, or nil when there is no such tensor.
    func info(_ name: String) -> TensorInfo?
    /// The tensor as float32: float types are upcast, quantised types dequantised. Integer and bool tensors are
    /// an error.
    func loadFloat32(_ name: String) throws -> Tensor
    /// Like `loadFloat32(_:)`, but a tensor whose shape is not `expectedShape` is an error naming both shapes.
    func loadFloat32(_ name: String, expectedShape: [Int]) throws -> Tensor
    /// An integer tensor (I64, I32, I16, I8 or U8), widened to Int64.
    func loadInt64(_ name: String) throws -> [Int64]
    /// A BOOL tensor.
    func loadBool(_ name: String) throws -> [Bool]
    /// A matrix stored in blocks with an exact on-the-fly form (`QuantizedWeights.Format`), kept in them (`QuantizedWeights`) with the rows in
    /// the order `loadFloat32` gives; nil for any other tensor or source.
    func loadQuantized(_ name: String) throws -> QuantizedWeights?
    /// Free-form string metadata (safetensors `__metadata__`; GGUF scalar key-values rendered as text).
    var metadata: [String: String] { get }
}

extension TensorSource {
    public func loadFloat32(_ name: String, expectedShape: [Int]) throws -> Tensor {
        guard let found = info(name) else { throw CheckpointError.missingTensor(file: description, tensor: name) }
        guard found.shape == expectedShape else {
            throw CheckpointError.shapeMismatch(file: description, tensor: name, expected: expectedShape,
                                                actual: found.shape)
        }
        return try loadFloat32(name)
    }

    public func loadQuantized(_ name: String) throws -> QuantizedWeights? { nil }

    /// True when the source holds a tensor of this name.
    public func contains(_ name: String) -> Bool { info(name) != nil }

    /// The info of a tensor that must exist.
    public func requireInfo(_ name: String) throws -> TensorInfo {
        guard let found = info(name) else { throw CheckpointError.missingTensor(file: description, tensor: name) }
        return found
    }
}
