import Foundation
import Tensors

/// Builds a `.safetensors` file byte-for-byte as the Python safetensors library (0.8) writes it, so files made
/// here and there interchange and compare equal:
///
/// * tensors are laid out by descending dtype (the library's dtype enum order: I64, F64, F32, I32, BF16, F16,
///   I16, I8, U8, BOOL), then by name (bytewise), with no padding between them;
/// * the header JSON is compact, lists `__metadata__` first and then the tensors in that same layout order;
/// * the header is padded with spaces to a multiple of 8 bytes.
///
/// The library keeps `__metadata__` in a hash map, so with more than one key its order is arbitrary; we sort
/// the keys. (`save_file(..., metadata={"format": "pt"})`, what transformers writes, has a single key.)
public struct SafetensorsWriter: Sendable {
    private struct Entry: Sendable {
        let dataType: TensorDataType
        let shape: [Int]
        let bytes: [UInt8]
    }

    /// The `__metadata__` object; nil writes no `__metadata__` key at all. Defaults to `{"format": "pt"}`,
    /// which transformers expects in a model file.
    public var metadata: [String: String]?
    private var entries: [String: Entry] = [:]

    public init(metadata: [String: String]? = ["format": "pt"]) {
        self.metadata = metadata
    }

    /// The names added so far, sorted.
    public var tensorNames: [String] { entries.keys.sorted() }

    /// Adds float values stored as F32, BF16 or F16 (rounded to nearest even).
    public mutating func add(_ name: String, dataType: TensorDataType = .f32, shape: [Int], values: [Float]) throws {
        try values.withUnsafeBufferPointer { buffer in try add(name, dataType: dataType, shape: shape, floats: buffer) }
    }

    /// Adds a tensor stored as F32, BF16 or F16.
    public mutating func add(_ name: String, dataType: TensorDataType = .f32, tensor: Tensor) throws {
        try add(name, dataType: dataType, shape: tensor.shape,
                floats: UnsafeBufferPointer(start: tensor.base, count: tensor.count))
    }

    /// Adds float values from memory, stored as F32, BF16 or F16.
    public mutating func add(_ name: String, dataType: TensorDataType = .f32, shape: [Int],
                             floats: UnsafeBufferPointer<Float>) throws {
        let elementSize: Int
        switch dataType {
        case .f32: elementSize = 4
        case .bf16, .f16: elementSize = 2
        default:
            throw CheckpointError.invalidWriterInput(tensor: name, problem: "cannot store floats as \(dataType.rawValue); use F32, BF16 or F16")
        }
        try check(name, shape: shape, count: floats.count)
        var bytes = [UInt8](repeating: 0, count: floats.count * elementSize)
        bytes.withUnsafeMutableBytes { out in
            for (index, value) in floats.enumerated() {
                switch dataType {
                case .f32: out.storeBytes(of: value.bitPattern.littleEndian, toByteOffset: 4 * index, as: UInt32.self)
                case .bf16: out.storeBytes(of: BFloat16.rounded(value).littleEndian, toByteOffset: 2 * index, as: UInt16.self)
                default: out.storeBytes(of: HalfPrecision.f32ToF16(value).littleEndian, toByteOffset: 2 * index, as: UInt16.self)
                }
            }
        }
        entries[name] = Entry(dataType: dataType, shape: shape, bytes: bytes)
    }

    /// Adds an I64 tensor.
    public mutating func add(_ name: String, shape: [Int], int64 values: [Int64]) throws {
        try check(name, shape: shape, count: values.count)
        var bytes = [UInt8](repeating: 0, count: values.count * 8)
        bytes.withUnsafeMutableBytes { out in
            for (index, value) in values.enumerated() { out.storeBytes(of: value.littleEndian, toByteOffset: 8 * index, as: Int64.self) }
        }
        entries[name] = Entry(dataType: .i64, shape: shape, bytes: bytes)
    }

    /// Adds an I32 tensor.
    public mutating func add(_ name: String, shape: [Int], int32 values: [Int32]) throws {
        try check(name, shape: shape, count: values.count)
        var bytes = [UInt8](repeating: 0, count: values.count * 4)
        bytes.withUnsafeMutableBytes { out in
            for (index, value) in values.enumerated() { out.storeBytes(of: value.littleEndian, toByteOffset: 4 * index, as: Int32.self) }
        }
        entries[name] = Entry(dataType: .i32, shape: shape, bytes: bytes)
    }

    /// Adds a BOOL tensor (one byte per element, 0 or 1).
    public mutating func add(_ name: String, shape: [Int], bool values: [Bool]) throws {
        try check(name, shape: shape, count: values.count)
        entries[name] = Entry(dataType: .bool, shape: shape, bytes: values.map { $0 ? 1 : 0 })
    }

    /// Adds a tensor from its stored little-endian bytes, for callers that already hold data in the file's
    /// dtype (e.g. activations converted to BF16 as they were produced, so no float copy is kept).
    public mutating func add(_ name: String, dataType: TensorDataType, shape: [Int], rawBytes: [UInt8]) throws {
        let elementSize: Int
        switch dataType {
        case .f64, .i64: elementSize = 8
        case .f32, .i32: elementSize = 4
        case .bf16, .f16, .i16: elementSize = 2
        case .i8, .u8, .bool: elementSize = 1
        default:
            throw CheckpointError.invalidWriterInput(tensor: name, problem: "\(dataType.rawValue) is not a safetensors dtype")
        }
        guard rawBytes.count % elementSize == 0 else {
            throw CheckpointError.invalidWriterInput(tensor: name, problem: "\(rawBytes.count) bytes is not a whole number of \(dataType.rawValue) elements")
        }
        try check(name, shape: shape, count: rawBytes.count / elementSize)
        entries[name] = Entry(dataType: dataType, shape: shape, bytes: rawBytes)
    }

    private func check(_ name: String, shape: [Int], count: Int) throws {
        guard name != "__metadata__" else {
            throw CheckpointError.invalidWriterInput(tensor: name, problem: "the name is reserved for the metadata object")
        }
        guard entries[name] == nil else {
            throw CheckpointError.invalidWriterInput(tensor: name, problem: "a tensor of this name was already added")
        }
        guard shape.allSatisfy({ $0 >= 0 }) else {
            throw CheckpointError.invalidWriterInput(tensor: name, problem: "shape \(shape) has a negative dimension")
        }
        guard shape.reduce(1, *) == count else {
            throw CheckpointError.invalidWriterInput(tensor: name, problem: "shape \(shape) needs \(shape.reduce(1, *)) values but \(count) were given")
        }
    }

    /// The reference library's dtype enum position; larger is laid out first.
    private static func layoutRank(_ dataType: TensorDataType) -> Int {
        switch dataType {
        case .bool: return 0
        case .u8: return 4
        case .i8: return 5
        case .i16: return 11
        case .f16: return 13
        case .bf16: return 14
        case .i32: return 15
        case .f32: return 17
        case .f64: return 19
        case .i64: return 20
        default: return -1  // never stored: `add` only accepts safetensors dtypes
        }
    }

    /// Tensor names in file order.
    private var layoutOrder: [String] {
        entries.keys.sorted { left, right in
            let leftRank = SafetensorsWriter.layoutRank(entries[left]?.dataType ?? .bool)
            let rightRank = SafetensorsWriter.layoutRank(entries[right]?.dataType ?? .bool)
            if leftRank != rightRank { return leftRank > rightRank }
            return left.utf8.lexicographicallyPrecedes(right.utf8)
        }
    }

    /// The header: 8-byte length followed by the space-padded JSON.
    private func headerBytes(order: [String]) -> [UInt8] {
        var members: [(key: String, value: JSONValue)] = []
        if let metadata {
            let items = metadata.keys.sorted().map { (key: $0, value: JSONValue.string(metadata[$0] ?? "")) }
            members.append((key: "__metadata__", value: .object(items)))
        }
        var offset = 0
        for name in order {
            guard let entry = entries[name] else { continue }
            let end = offset + entry.bytes.count
            members.append((key: name, value: .object([
                (key: "dtype", value: .string(entry.dataType.rawValue)),
                (key: "shape", value: .array(entry.shape.map { .integer($0) })),
                (key: "data_offsets", value: .array([.integer(offset), .integer(end)])),
            ])))
            offset = end
        }
        var json = Array(JSONValue.object(members).serialized().utf8)
        while json.count % 8 != 0 { json.append(0x20) }
        var header = [UInt8](repeating: 0, count: 8)
        header.withUnsafeMutableBytes { $0.storeBytes(of: UInt64(json.count).littleEndian, as: UInt64.self) }
        return header + json
    }

    /// The whole file in memory.
    public func serialized() -> [UInt8] {
        let order = layoutOrder
        var out = headerBytes(order: order)
        for name in order { out += entries[name]?.bytes ?? [] }
        return out
    }

    /// Writes the file atomically: to a temporary file beside `url`, then renamed over it.
    public func write(to url: URL) throws {
        let order = layoutOrder
        let temporary = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).\(ProcessInfo.processInfo.processIdentifier).partial")
        guard FileManager.default.createFile(atPath: temporary.path, contents: nil) else {
            throw CheckpointError.writeFailed(file: url.path, problem: "cannot create \(temporary.path)")
        }
        do {
            let handle = try FileHandle(forWritingTo: temporary)
            defer { try? handle.close() }
            try handle.write(contentsOf: headerBytes(order: order))
            for name in order { try handle.write(contentsOf: entries[name]?.bytes ?? []) }
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw CheckpointError.writeFailed(file: url.path, problem: "\(error)")
        }
        if rename(temporary.path, url.path) != 0 {
            let problem = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: temporary)
            throw CheckpointError.writeFailed(file: url.path, problem: problem)
        }
    }
}
