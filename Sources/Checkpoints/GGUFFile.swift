import Dispatch
import Foundation
import Tensors

/// One tensor's record in a GGUF file, in GGUF's own terms.
public struct GGUFTensorInfo: Sendable, Equatable {
    public let name: String
    /// `ne`: innermost (contiguous) dimension first. ne = [in, out] is the PyTorch shape [out, in].
    public let dimensions: [Int]
    public let dataType: TensorDataType
    /// The ggml type id as stored.
    public let ggmlType: UInt32
    /// Offset from the start of the data area, as stored.
    public let offset: Int
    public let byteCount: Int

    /// The row-major (outermost first) shape: `dimensions` reversed.
    public var shape: [Int] { dimensions.reversed() }
    public var elementCount: Int { dimensions.reduce(1, *) }
}

/// A GGUF (v2 or v3) file, memory-mapped: its typed metadata, its tensor directory in GGUF naming, raw tensor
/// bytes and float32 dequantisation. As a `TensorSource` it presents GGUF names with row-major shapes
/// (`ne` reversed); `huggingFaceView()` presents Hugging Face names and layouts instead.
public final class GGUFFile: TensorSource {
    public let url: URL
    public let version: UInt32
    /// `general.alignment`, default 32.
    public let alignment: Int
    /// Every metadata key-value, typed as stored. (Named so because `TensorSource.metadata` is the
    /// string-only view that all formats share.)
    public let ggufMetadata: [String: GGUFValue]
    /// The tensor infos in file order.
    public let tensorInfos: [GGUFTensorInfo]
    /// Absolute file offset of the data area.
    public let dataStart: Int
    public let tensorNames: [String]
    /// Scalar metadata rendered as text (arrays are left out).
    public let metadata: [String: String]
    private let infoByName: [String: GGUFTensorInfo]
    private let file: MappedFile

    public init(url: URL) throws {
        self.url = url
        file = try MappedFile(path: url.path)
        var parser = GGUFParser(file: file)
        let magic = try parser.read(UInt32.self, "magic")
        guard magic == 0x4655_4747 else {  // "GGUF" read little-endian
            throw parser.corrupt("not a GGUF file: the first four bytes are not \"GGUF\"")
        }
        let version = try parser.read(UInt32.self, "version")
        if version == 1 { throw parser.corrupt("GGUF version 1 is not supported (only 2 and 3)") }
        if version.byteSwapped == 2 || version.byteSwapped == 3 {
            throw parser.corrupt("big-endian GGUF files are not supported")
        }
        guard version == 2 || version == 3 else { throw parser.corrupt("unknown GGUF version \(version)") }
        self.version = version
        let tensorCount = try parser.readCount("tensor count", minimumBytesEach: 8 + 4 + 4 + 8)
        let keyValueCount = try parser.readCount("metadata count", minimumBytesEach: 8 + 4 + 1)

        var values: [String: GGUFValue] = [:]
        for index in 0..<keyValueCount {
            let key = try parser.readString("metadata key #\(index)", strict: true)
            let type = try parser.read(UInt32.self, "value type of '\(key)'")
            let value = try parser.readValue(type: type, key: key, depth: 0)
            guard values.updateValue(value, forKey: key) == nil else { throw parser.corrupt("metadata key '\(key)' appears twice") }
        }
        ggufMetadata = values
        var alignment = 32
        if let stored = values["general.alignment"] {
            guard case let .uint32(value) = stored, value > 0, value & (value - 1) == 0 else {
                throw CheckpointError.badMetadata(file: url.path, key: "general.alignment",
                                                  problem: "must be a uint32 power of two, found \(stored.typeName) \(stored.scalarText ?? "")")
            }
            alignment = Int(value)
        }
        self.alignment = alignment

        var raw: [(name: String, dims: [Int], type: GGMLType, typeID: UInt32, offset: Int)] = []
        raw.reserveCapacity(tensorCount)
        for index in 0..<tensorCount {
            let name = try parser.readString("name of tensor #\(index)", strict: true)
            let dimensionCount = try parser.read(UInt32.self, "dimension count of '\(name)'")
            guard (1...4).contains(dimensionCount) else {
                throw parser.corrupt("has \(dimensionCount) dimensions; GGUF allows 1 to 4", tensor: name)
            }
            var dims: [Int] = []
            for _ in 0..<dimensionCount {
                let dimension = try parser.read(UInt64.self, "dimensions of '\(name)'")
                guard dimension <= UInt64(Int32.max) else { throw parser.corrupt("dimension \(dimension) is absurd", tensor: name) }
                dims.append(Int(dimension))
            }
            let typeID = try parser.read(UInt32.self, "type of '\(name)'")
            guard let type = GGMLType.from(id: typeID) else {
                throw parser.corrupt("unknown ggml type id \(typeID)", tensor: name)
            }
            let offset = try parser.read(UInt64.self, "offset of '\(name)'")
            guard offset <= UInt64(Int.max / 2) else { throw parser.corrupt("data offset \(offset) is absurd", tensor: name) }
            raw.append((name, dims, type, typeID, Int(offset)))
        }
        let afterInfos = parser.offset
        dataStart = (afterInfos + alignment - 1) / alignment * alignment
        guard dataStart <= file.size else {
            throw parser.corrupt("truncated: the data area should start at byte \(dataStart) but the file has \(file.size) bytes")
        }
        let dataSize = file.size - dataStart

        var infos: [GGUFTensorInfo] = []
        var byName: [String: GGUFTensorInfo] = [:]
        for item in raw {
            func bad(_ problem: String) -> CheckpointError { .corrupt(file: url.path, tensor: item.name, problem: problem) }
            guard item.dims[0] % item.type.blockSize == 0 else {
                throw bad("row length \(item.dims[0]) is not a multiple of the \(item.type.dataType.rawValue) block size \(item.type.blockSize)")
            }
            var byteCount = item.dims[0] / item.type.blockSize * item.type.blockBytes
            for dimension in item.dims.dropFirst() {
                let (product, overflow) = byteCount.multipliedReportingOverflow(by: dimension)
                guard !overflow else { throw bad("shape \(item.dims) is too large") }
                byteCount = product
            }
            guard item.offset % alignment == 0 else { throw bad("data offset \(item.offset) is not a multiple of the alignment \(alignment)") }
            guard byteCount <= dataSize, item.offset <= dataSize - byteCount else {
                throw bad("data [\(item.offset), \(item.offset + byteCount)) runs past the end of the data area (\(dataSize) bytes): the file is truncated")
            }
            let info = GGUFTensorInfo(name: item.name, dimensions: item.dims, dataType: item.type.dataType,
                                      ggmlType: item.typeID, offset: item.offset, byteCount: byteCount)
            guard byName.updateValue(info, forKey: item.name) == nil else { throw bad("the name appears twice") }
            infos.append(info)
        }
        let ordered = infos.sorted { ($0.offset, $0.byteCount) < ($1.offset, $1.byteCount) }
        for (previous, next) in zip(ordered, ordered.dropFirst()) where next.offset < previous.offset + previous.byteCount {
            throw CheckpointError.corrupt(file: url.path, tensor: next.name,
                                          problem: "data at \(next.offset) overlaps tensor '\(previous.name)' at [\(previous.offset), \(previous.offset + previous.byteCount))")
        }
        tensorInfos = infos
        infoByName = byName
        tensorNames = byName.keys.sorted()
        metadata = values.compactMapValues(\.scalarText)
    }

    public var description: String { url.path }

    /// The GGUF record of a tensor.
    public func tensorInfo(_ name: String) -> GGUFTensorInfo? { infoByName[name] }

    public func info(_ name: String) -> TensorInfo? {
        infoByName[name].map { TensorInfo(name: $0.name, dataType: $0.dataType, shape: $0.shape) }
    }

    /// The architecture (`general.architecture`), e.g. "llama", "qwen3".
    public var architecture: String? { ggufMetadata["general.architecture"]?.stringValue }

    /// Calls `body` with the tensor's stored bytes (valid only during the call).
    public func withRawBytes<R>(_ name: String, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        let found = try record(name)
        return try body(file.slice(dataStart + found.offset, found.byteCount))
    }

    public func loadFloat32(_ name: String) throws -> Tensor {
        try loadFloat32(name, rowOrder: nil)
    }

    /// Dequantises a tensor; `rowOrder`, when given, maps each stored row (outermost index of the row-major
    /// shape) to its destination row, so a permutation costs no extra copy.
    func loadFloat32(_ name: String, rowOrder: (@Sendable (Int) -> Int)?) throws -> Tensor {
        let found = try record(name)
        guard found.dataType.isFloatConvertible else {
            throw CheckpointError.wrongDataType(file: description, tensor: name, dataType: found.dataType, wanted: "float32")
        }
        let tensor = Tensor(zeros: found.shape)
        let rowLength = found.dimensions[0]
        let rows = rowLength == 0 ? 0 : found.elementCount / rowLength
        Dequantizer.dequantizeRows(found.dataType, from: file.bytes + dataStart + found.offset,
                                   rows: rows, rowLength: rowLength, to: tensor.base, rowOrder: rowOrder)
        return tensor
    }

    public func loadQuantized(_ name: String) throws -> QuantizedWeights? {
        try loadQuantized(name, rowOrder: nil)
    }

    /// Keeps a matrix stored in one of `QuantizedWeights.Format`'s formats in its blocks; `rowOrder` as for
    /// `loadFloat32(_:rowOrder:)`.
    func loadQuantized(_ name: String, rowOrder: (@Sendable (Int) -> Int)?) throws -> QuantizedWeights? {
        let found = try record(name)
        let format: QuantizedWeights.Format
        switch found.dataType {
        case .q4_1: format = .q4_1
        case .q8_0: format = .q8_0
        case .q4_0: format = .q4_0
        case .q4_K: format = .q4_K
        case .q6_K: format = .q6_K
        case .q5_0: format = .q5_0
        case .q5_1: format = .q5_1
        case .q5_K: format = .q5_K
        default: return nil
        }
        guard found.dimensions.count == 2 else { return nil }
        let columns = found.dimensions[0], rows = found.dimensions[1]
        guard columns % format.blockWeights == 0,
              rows * (columns / format.blockWeights) * format.storedBlockBytes == found.byteCount else {
            throw CheckpointError.corrupt(file: description, tensor: name,
                                          problem: "\(found.byteCount) bytes do not hold \(rows) rows of \(columns) \(format.name) weights")
        }
        return QuantizedWeights(format: format, rows: rows, columns: columns, stored: file.bytes + dataStart + found.offset,
                                rowOrder: rowOrder)
    }

    public func loadInt64(_ name: String) throws -> [Int64] {
        let found = try record(name)
        let info = TensorInfo(name: name, dataType: found.dataType, shape: found.shape)
        return try ElementReader.int64(info, bytes: file.slice(dataStart + found.offset, found.byteCount), file: description)
    }

    /// GGUF has no bool type; this is always a dtype error for an existing tensor.
    public func loadBool(_ name: String) throws -> [Bool] {
        let found = try record(name)
        let info = TensorInfo(name: name, dataType: found.dataType, shape: found.shape)
        return try ElementReader.bool(info, bytes: file.slice(dataStart + found.offset, found.byteCount), file: description)
    }

    private func record(_ name: String) throws -> GGUFTensorInfo {
        guard let found = infoByName[name] else { throw CheckpointError.missingTensor(file: description, tensor: name) }
        return found
    }

    // MARK: typed metadata access

    /// A metadata value that must exist.
    public func value(_ key: String) throws -> GGUFValue {
        guard let found = ggufMetadata[key] else { throw CheckpointError.badMetadata(file: description, key: key, problem: "missing") }
        return found
    }

    /// An integer metadata value that must exist.
    public func int(_ key: String) throws -> Int {
        let found = try value(key)
        guard let number = found.intValue else {
            throw CheckpointError.badMetadata(file: description, key: key, problem: "expected an integer, found \(found.typeName)")
        }
        return number
    }

    /// A string metadata value that must exist.
    public func string(_ key: String) throws -> String {
        let found = try value(key)
        guard let text = found.stringValue else {
            throw CheckpointError.badMetadata(file: description, key: key, problem: "expected a string, found \(found.typeName)")
        }
        return text
    }
}
