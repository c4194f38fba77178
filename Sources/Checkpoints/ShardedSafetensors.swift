import Foundation
import Tensors

/// A folder of safetensors shards described by `model.safetensors.index.json`
/// (`{"metadata": {...}, "weight_map": {"tensor name": "shard file name", ...}}`), as `save_pretrained` writes
/// for large models. Every shard is opened (mapped) up front and every weight_map entry is checked against its
/// shard, so a broken index fails at open time rather than halfway through loading a model.
public final class ShardedSafetensors: TensorSource {
    public static let indexFileName = "model.safetensors.index.json"

    public let indexURL: URL
    /// The `__metadata__` of all shards merged (a shard later in name order wins on a conflicting key).
    public let metadata: [String: String]
    public let tensorNames: [String]
    /// The index's own `metadata` object (e.g. `total_size`), values rendered as JSON text.
    public let indexMetadata: [String: String]
    private let shardOf: [String: SafetensorsFile]

    /// Opens the index file; its shards are resolved relative to the index's folder.
    public init(indexURL: URL) throws {
        self.indexURL = indexURL
        let path = indexURL.path
        let index = try MappedFile(path: path)
        let json: JSONValue
        do {
            json = try JSONValue.parse(index.slice(0, index.size))
        } catch {
            throw CheckpointError.corrupt(file: path, tensor: nil, problem: error.message)
        }
        guard case let .object(members) = json else {
            throw CheckpointError.corrupt(file: path, tensor: nil, problem: "index is \(json.typeName), not an object")
        }
        var indexMetadata: [String: String] = [:]
        if let value = members.first(where: { $0.key == "metadata" })?.value {
            guard case let .object(items) = value else {
                throw CheckpointError.corrupt(file: path, tensor: nil, problem: "\"metadata\" is \(value.typeName), not an object")
            }
            for (key, item) in items {
                if case let .string(text) = item { indexMetadata[key] = text } else { indexMetadata[key] = item.serialized() }
            }
        }
        guard let mapValue = members.first(where: { $0.key == "weight_map" })?.value else {
            throw CheckpointError.corrupt(file: path, tensor: nil, problem: "missing \"weight_map\"")
        }
        guard case let .object(map) = mapValue else {
            throw CheckpointError.corrupt(file: path, tensor: nil, problem: "\"weight_map\" is \(mapValue.typeName), not an object")
        }
        let folder = indexURL.deletingLastPathComponent()
        var shards: [String: SafetensorsFile] = [:]
        var shardOf: [String: SafetensorsFile] = [:]
        for (tensor, value) in map {
            guard case let .string(shardName) = value else {
                throw CheckpointError.corrupt(file: path, tensor: tensor, problem: "weight_map value is \(value.typeName), not a file name")
            }
            guard !shardName.isEmpty, !shardName.split(separator: "/").contains("..") else {
                throw CheckpointError.corrupt(file: path, tensor: tensor, problem: "shard name \"\(shardName)\" is not a file in the index's folder")
            }
            let shard: SafetensorsFile
            if let open = shards[shardName] {
                shard = open
            } else {
                let shardURL = folder.appendingPathComponent(shardName)
                guard FileManager.default.fileExists(atPath: shardURL.path) else {
                    throw CheckpointError.corrupt(file: path, tensor: tensor, problem: "shard \"\(shardName)\" does not exist")
                }
                shard = try SafetensorsFile(url: shardURL)
                shards[shardName] = shard
            }
            guard shard.info(tensor) != nil else {
                throw CheckpointError.corrupt(file: path, tensor: tensor, problem: "the index puts it in shard \"\(shardName)\", which does not contain it")
            }
            shardOf[tensor] = shard
        }
        var merged: [String: String] = [:]
        for name in shards.keys.sorted() { merged.merge(shards[name]?.metadata ?? [:]) { _, later in later } }
        self.metadata = merged
        self.indexMetadata = indexMetadata
        self.shardOf = shardOf
        self.tensorNames = shardOf.keys.sorted()
    }

    public var description: String { indexURL.path }

    /// The shard file that holds a tensor.
    public func shardURL(of name: String) -> URL? { shardOf[name]?.url }

    public func info(_ name: String) -> TensorInfo? { shardOf[name]?.info(name) }

    public func loadFloat32(_ name: String) throws -> Tensor { try shard(name).loadFloat32(name) }

    public func loadInt64(_ name: String) throws -> [Int64] { try shard(name).loadInt64(name) }

    public func loadBool(_ name: String) throws -> [Bool] { try shard(name).loadBool(name) }

    private func shard(_ name: String) throws -> SafetensorsFile {
        guard let found = shardOf[name] else { throw CheckpointError.missingTensor(file: description, tensor: name) }
        return found
    }
}
