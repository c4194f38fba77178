import Checkpoints
import Foundation
import Testing

@Suite("Sharded safetensors folders via model.safetensors.index.json")
struct ShardedSafetensorsTests {
    let source: SafetensorsFile
    let folder: URL

    /// Splits tiny-llama into three shards (layers 0-1, layers 2-3, the rest) with a Hugging Face style index.
    init() throws {
        source = try SafetensorsFile(url: Fixtures.url("tiny-llama/model.safetensors"))
        folder = try Fixtures.temporaryFolder()
        var shards = [SafetensorsWriter(), SafetensorsWriter(), SafetensorsWriter()]
        var weightMap: [String: String] = [:]
        for name in source.tensorNames {
            let shard = name.hasPrefix("model.layers.0.") || name.hasPrefix("model.layers.1.") ? 0
                : name.hasPrefix("model.layers.") ? 1 : 2
            try shards[shard].add(name, tensor: try source.loadFloat32(name))
            weightMap[name] = Self.shardName(shard)
        }
        for (index, shard) in shards.enumerated() {
            try shard.write(to: folder.appendingPathComponent(Self.shardName(index)))
        }
        try writeIndex(["metadata": ["total_size": 887040], "weight_map": weightMap])
    }

    static func shardName(_ index: Int) -> String { "model-0000\(index + 1)-of-00003.safetensors" }

    func writeIndex(_ object: [String: Any]) throws {
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
        try data.write(to: folder.appendingPathComponent("model.safetensors.index.json"))
    }

    func weightMap() throws -> [String: String] {
        let data = try Data(contentsOf: folder.appendingPathComponent("model.safetensors.index.json"))
        let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        return try #require(object?["weight_map"] as? [String: String])
    }

    @Test("A sharded folder presents every tensor of the original with identical values")
    func readsAllShards() throws {
        let sharded = try openCheckpoint(folder)
        #expect(sharded is ShardedSafetensors)
        #expect(sharded.tensorNames == source.tensorNames)
        #expect(sharded.metadata == ["format": "pt"])
        #expect((sharded as? ShardedSafetensors)?.indexMetadata == ["total_size": "887040"])
        for name in source.tensorNames {
            #expect(sharded.info(name) == source.info(name))
            #expect(try sharded.loadFloat32(name).array == source.loadFloat32(name).array, "\(name)")
        }
        let shardURL = (sharded as? ShardedSafetensors)?.shardURL(of: "model.layers.3.mlp.up_proj.weight")
        #expect(shardURL?.lastPathComponent == Self.shardName(1))
        #expect(throws: CheckpointError.missingTensor(file: sharded.description, tensor: "missing.weight")) {
            try sharded.loadFloat32("missing.weight")
        }
    }

    @Test("The index wins over a model.safetensors in the same folder, as in transformers")
    func indexPreferred() throws {
        try FileManager.default.copyItem(at: Fixtures.url("tiny-eagle3/model.safetensors"),
                                         to: folder.appendingPathComponent("model.safetensors"))
        #expect(try openCheckpoint(folder).tensorNames == source.tensorNames)
    }

    @Test("An index naming a shard that does not exist is an error naming the index, tensor and shard")
    func missingShard() throws {
        var map = try weightMap()
        map["lm_head.weight"] = "model-00009-of-00003.safetensors"
        try writeIndex(["weight_map": map])
        let error = #expect(throws: CheckpointError.self) { try openCheckpoint(folder) }
        guard case let .corrupt(file, tensor, problem) = error else {
            Issue.record("expected corrupt, got \(String(describing: error))")
            return
        }
        #expect(file.hasSuffix("model.safetensors.index.json"))
        #expect(tensor == "lm_head.weight")
        #expect(problem.contains("model-00009-of-00003.safetensors"))
    }

    @Test("An index putting a tensor in the wrong shard is refused")
    func tensorNotInShard() throws {
        var map = try weightMap()
        map["lm_head.weight"] = Self.shardName(0)
        try writeIndex(["weight_map": map])
        let error = #expect(throws: CheckpointError.self) { try openCheckpoint(folder) }
        guard case let .corrupt(_, tensor, problem) = error else {
            Issue.record("expected corrupt, got \(String(describing: error))")
            return
        }
        #expect(tensor == "lm_head.weight")
        #expect(problem.contains("does not contain it"))
    }

    @Test("An index without weight_map, or that is not JSON, is refused")
    func brokenIndex() throws {
        try writeIndex(["metadata": [:]])
        #expect(throws: CheckpointError.self) { try openCheckpoint(folder) }
        try Data("{\"weight_map\": {".utf8).write(to: folder.appendingPathComponent("model.safetensors.index.json"))
        let error = #expect(throws: CheckpointError.self) { try openCheckpoint(folder) }
        #expect(error?.description.contains("invalid JSON") == true)
        try writeIndex(["weight_map": ["lm_head.weight": "../elsewhere.safetensors"]])
        #expect(throws: CheckpointError.self) { try openCheckpoint(folder) }
    }
}
