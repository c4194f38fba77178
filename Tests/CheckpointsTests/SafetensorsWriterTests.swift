import Checkpoints
import Foundation
import Testing

@Suite("Safetensors writer produces the Python library's exact bytes")
struct SafetensorsWriterTests {
    /// `writer-golden.json`: the inputs Python was given.
    struct Golden: Decodable {
        struct Item: Decodable {
            let name: String
            let dtype: String
            let shape: [Int]
            let floats: [Double]?
            let ints: [Int64]?
            let bools: [Bool]?
        }
        let metadata: [String: String]
        let tensors: [Item]
    }

    /// Re-writes every tensor of a source with its own dtype.
    static func rewrite(_ source: TensorSource, metadata: [String: String]?) throws -> SafetensorsWriter {
        var writer = SafetensorsWriter(metadata: metadata)
        for name in source.tensorNames {
            let info = try #require(source.info(name))
            switch info.dataType {
            case .i64: try writer.add(name, shape: info.shape, int64: try source.loadInt64(name))
            case .i32: try writer.add(name, shape: info.shape, int32: try source.loadInt64(name).map { Int32($0) })
            case .bool: try writer.add(name, shape: info.shape, bool: try source.loadBool(name))
            default: try writer.add(name, dataType: info.dataType, tensor: try source.loadFloat32(name))
            }
        }
        return writer
    }

    @Test("Mixed dtypes, escaped and non-ASCII names, a scalar and an empty tensor match Python's file byte for byte")
    func matchesPythonGolden() throws {
        let golden = try Fixtures.decode(Golden.self, "writer-golden.json")
        var writer = SafetensorsWriter(metadata: golden.metadata)
        for item in golden.tensors {
            switch item.dtype {
            case "I64": try writer.add(item.name, shape: item.shape, int64: item.ints ?? [])
            case "I32": try writer.add(item.name, shape: item.shape, int32: (item.ints ?? []).map { Int32($0) })
            case "BOOL": try writer.add(item.name, shape: item.shape, bool: item.bools ?? [])
            default:
                let dataType = try #require(TensorDataType(rawValue: item.dtype))
                try writer.add(item.name, dataType: dataType, shape: item.shape, values: (item.floats ?? []).map { Float($0) })
            }
        }
        let expected = Array(try Fixtures.data("writer-golden.safetensors"))
        let bytes = writer.serialized()
        #expect(bytes.count == expected.count)
        #expect(bytes == expected)
        if bytes != expected, let first = zip(bytes, expected).enumerated().first(where: { $0.element.0 != $0.element.1 }) {
            Issue.record("first differing byte at \(first.offset)")
        }
    }

    @Test("Re-writing the reference fixture files reproduces them byte for byte",
          arguments: ["tiny-llama", "tiny-llama-bf16", "tiny-eagle3"])
    func rewritesReferenceFiles(folder: String) throws {
        let source = try SafetensorsFile(url: Fixtures.url("\(folder)/model.safetensors"))
        let writer = try Self.rewrite(source, metadata: source.metadata)
        #expect(writer.serialized() == Array(try Fixtures.data("\(folder)/model.safetensors")))
    }

    @Test("write(to:) writes the serialized bytes and the file reads back the same tensors")
    func writeAndReadBack() throws {
        let source = try SafetensorsFile(url: Fixtures.url("tiny-eagle3/model.safetensors"))
        let writer = try Self.rewrite(source, metadata: ["format": "pt", "note": "round trip"])
        let folder = try Fixtures.temporaryFolder()
        let url = folder.appendingPathComponent("model.safetensors")
        try writer.write(to: url)
        #expect(Array(try Data(contentsOf: url)) == writer.serialized())
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["model.safetensors"])
        let back = try SafetensorsFile(url: url)
        #expect(back.metadata == ["format": "pt", "note": "round trip"])
        #expect(back.tensorNames == source.tensorNames)
        #expect(try back.loadInt64("d2t") == source.loadInt64("d2t"))
        #expect(try back.loadBool("t2d") == source.loadBool("t2d"))
        #expect(try back.loadFloat32("fc.weight").array == source.loadFloat32("fc.weight").array)
        // Overwriting an existing file replaces it.
        var small = SafetensorsWriter()
        try small.add("x", shape: [2], values: [1, 2])
        try small.write(to: url)
        #expect(try SafetensorsFile(url: url).tensorNames == ["x"])
    }

    @Test("Without metadata no __metadata__ key is written; empty metadata writes an empty object")
    func metadataPresence() throws {
        var none = SafetensorsWriter(metadata: nil)
        try none.add("a", shape: [1], values: [1])
        let noneText = String(decoding: none.serialized()[8...], as: UTF8.self)
        #expect(noneText.hasPrefix("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}"))
        var empty = SafetensorsWriter(metadata: [:])
        try empty.add("a", shape: [1], values: [1])
        #expect(String(decoding: empty.serialized()[8...], as: UTF8.self).hasPrefix("{\"__metadata__\":{},\"a\""))
        let sorted = SafetensorsWriter(metadata: ["b": "2", "a": "1"]).serialized()
        #expect(String(decoding: sorted[8...], as: UTF8.self).hasPrefix("{\"__metadata__\":{\"a\":\"1\",\"b\":\"2\"}}"))
        #expect(sorted.count % 8 == 0)
    }

    @Test("BF16 and F16 storage round to nearest even and keep NaN and infinities")
    func halfRounding() throws {
        // 1 + 2^-8 is halfway between two bf16 values (ties to even: down); 1 + 3·2^-8 ties up.
        let values: [Float] = [1 + 1.0 / 256, 1 + 3.0 / 256, .infinity, -.infinity, .nan, 65520, -0.0]
        var writer = SafetensorsWriter(metadata: nil)
        try writer.add("b", dataType: .bf16, shape: [values.count], values: values)
        try writer.add("h", dataType: .f16, shape: [values.count], values: values)
        let folder = try Fixtures.temporaryFolder()
        let url = folder.appendingPathComponent("half.safetensors")
        try writer.write(to: url)
        let source = try SafetensorsFile(url: url)
        let bf16 = try source.loadFloat32("b").array
        let bf16Expected: [Float] = [1, 1 + 4.0 / 256, .infinity, -.infinity]
        #expect(Array(bf16[0..<4]) == bf16Expected)
        #expect(bf16[4].isNaN)
        #expect(bf16[6].bitPattern == (-0.0 as Float).bitPattern)
        let f16 = try source.loadFloat32("h").array
        let f16Expected: [Float] = [1 + 1.0 / 256, 1 + 3.0 / 256, .infinity, -.infinity]
        #expect(Array(f16[0..<4]) == f16Expected)
        #expect(f16[4].isNaN)
        #expect(f16[5] == .infinity)  // 65520 rounds up past float16's largest finite value
    }

    @Test("Inconsistent writer input is refused naming the tensor")
    func invalidInput() throws {
        var writer = SafetensorsWriter()
        #expect(throws: CheckpointError.invalidWriterInput(tensor: "w", problem: "shape [2, 3] needs 6 values but 5 were given")) {
            try writer.add("w", shape: [2, 3], values: [1, 2, 3, 4, 5])
        }
        try writer.add("w", shape: [1], values: [1])
        #expect(throws: CheckpointError.self) { try writer.add("w", shape: [1], values: [1]) }
        #expect(throws: CheckpointError.self) { try writer.add("__metadata__", shape: [1], values: [1]) }
        #expect(throws: CheckpointError.self) { try writer.add("q", dataType: .i64, shape: [1], values: [1]) }
        #expect(throws: CheckpointError.self) { try writer.add("n", shape: [-1], int64: []) }
        #expect(writer.tensorNames == ["w"])
    }

    @Test("Writing into a folder that does not exist is an error naming the file")
    func writeFailure() throws {
        let url = URL(fileURLWithPath: "/nonexistent-folder-\(UUID().uuidString)/model.safetensors")
        let error = #expect(throws: CheckpointError.self) { try SafetensorsWriter().write(to: url) }
        guard case let .writeFailed(file, _) = error else {
            Issue.record("expected writeFailed, got \(String(describing: error))")
            return
        }
        #expect(file == url.path)
    }
}
