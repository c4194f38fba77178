import Foundation
import Tensors

/// One `.safetensors` file, memory-mapped. Opening validates the whole header; tensor data is only touched
/// when a tensor is loaded.
public final class SafetensorsFile: TensorSource {
    public let url: URL
    public let metadata: [String: String]
    public let tensorNames: [String]
    private let entries: [String: SafetensorsHeader.Entry]
    private let file: MappedFile
    private let dataStart: Int

    public init(url: URL) throws {
        self.url = url
        file = try MappedFile(path: url.path)
        let header = try SafetensorsHeader(file: file)
        entries = header.entries
        metadata = header.metadata
        dataStart = header.dataStart
        tensorNames = header.entries.keys.sorted()
    }

    public var description: String { url.path }

    public func info(_ name: String) -> TensorInfo? { entries[name]?.info }

    /// Calls `body` with the tensor's stored bytes (valid only during the call).
    public func withRawBytes<R>(_ name: String, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        try body(bytes(of: try entry(name)))
    }

    public func loadFloat32(_ name: String) throws -> Tensor {
        let found = try entry(name)
        return try ElementReader.float32(found.info, bytes: bytes(of: found), file: description)
    }

    public func loadInt64(_ name: String) throws -> [Int64] {
        let found = try entry(name)
        return try ElementReader.int64(found.info, bytes: bytes(of: found), file: description)
    }

    public func loadBool(_ name: String) throws -> [Bool] {
        let found = try entry(name)
        return try ElementReader.bool(found.info, bytes: bytes(of: found), file: description)
    }

    private func entry(_ name: String) throws -> SafetensorsHeader.Entry {
        guard let found = entries[name] else { throw CheckpointError.missingTensor(file: description, tensor: name) }
        return found
    }

    private func bytes(of entry: SafetensorsHeader.Entry) -> UnsafeRawBufferPointer {
        file.slice(dataStart + entry.begin, entry.end - entry.begin)
    }
}
