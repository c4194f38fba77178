import Checkpoints
import Foundation
import Testing

@Suite("Safetensors reader against the Python reader's view of the fixture files")
struct SafetensorsReaderTests {
    static let files = ["tiny-llama", "tiny-llama-bf16", "tiny-eagle3"]

    static func expected() throws -> [String: ExpectedSafetensors] {
        try Fixtures.decode([String: ExpectedSafetensors].self, "safetensors-expected.json")
    }

    static func open(_ name: String) throws -> SafetensorsFile {
        let relative = name == "reader-dtypes" ? "reader-dtypes.safetensors" : "\(name)/model.safetensors"
        return try SafetensorsFile(url: Fixtures.url(relative))
    }

    /// Checks every tensor's dtype, shape and values against the golden. Floats must be bit-identical
    /// (an upcast is exact); the float64 sum may differ from numpy's pairwise sum by rounding only.
    static func checkAgainstGolden(_ source: TensorSource, _ golden: ExpectedSafetensors) throws {
        #expect(source.tensorNames == golden.tensors.keys.sorted())
        #expect(source.metadata == golden.metadata)
        for (name, want) in golden.tensors {
            let info = try #require(source.info(name), "tensor \(name)")
            #expect(info.dataType.rawValue == want.dtype, "\(name)")
            #expect(info.shape == want.shape, "\(name)")
            switch want.dtype {
            case "BOOL":
                let values = try source.loadBool(name)
                #expect(values.count == info.elementCount)
                #expect(values.filter { $0 }.count == want.true_count, "\(name)")
                #expect(Array(values.prefix(8)) == (want.first ?? []).compactMap(\.flag), "\(name)")
            case "I64", "I32", "I16", "I8", "U8":
                #expect(try source.loadInt64(name) == want.values, "\(name)")
            default:
                let tensor = try source.loadFloat32(name)
                #expect(tensor.shape == want.shape)
                let values = tensor.array
                #expect(values.prefix(8).map(Double.init) == (want.first ?? []).compactMap(\.number), "\(name)")
                #expect(values.last.map(Double.init) == want.last, "\(name)")
                let sum = values.reduce(0.0) { $0 + Double($1) }
                let wantSum = try #require(want.sum)
                // F64 is narrowed to float32, so its sum only agrees to float32 precision.
                let tolerance = want.dtype == "F64" ? 1e-6 : 1e-9
                #expect(abs(sum - wantSum) <= tolerance * max(1, abs(wantSum)), "\(name): sum \(sum) vs \(wantSum)")
            }
        }
    }

    @Test("F32, BF16, I64 and BOOL fixture files read exactly as the Python safetensors reader reads them",
          arguments: files + ["reader-dtypes"])
    func matchesPythonReader(file: String) throws {
        let golden = try #require(try Self.expected()[file])
        try Self.checkAgainstGolden(try Self.open(file), golden)
    }

    @Test("tiny-eagle3's d2t offsets land exactly on the t2d mask's true entries")
    func eagleVocabularyMapping() throws {
        let source = try Self.open("tiny-eagle3")
        let d2t = try source.loadInt64("d2t")
        let t2d = try source.loadBool("t2d")
        #expect(d2t.count == 96)
        #expect(t2d.count == 384)
        let targets = d2t.enumerated().map { Int($0.element) + $0.offset }
        #expect(targets == t2d.indices.filter { t2d[$0] })
    }

    @Test("openCheckpoint opens a model folder and a .safetensors file alike")
    func openCheckpointFolderAndFile() throws {
        let folder = try openCheckpoint(Fixtures.url("tiny-llama"))
        let file = try openCheckpoint(Fixtures.url("tiny-llama/model.safetensors"))
        #expect(folder.tensorNames == file.tensorNames)
        #expect(folder.tensorNames.count == 4 * 9 + 3)
        #expect(folder.description.hasSuffix("tiny-llama/model.safetensors"))
        let embedding = try folder.loadFloat32("model.embed_tokens.weight", expectedShape: [384, 64])
        #expect(embedding.array == (try file.loadFloat32("model.embed_tokens.weight")).array)
    }

    @Test("A missing tensor is an error naming the file and the tensor")
    func missingTensor() throws {
        let source = try Self.open("tiny-llama")
        let error = #expect(throws: CheckpointError.self) { try source.loadFloat32("model.layers.9.mlp.up_proj.weight") }
        #expect(error == .missingTensor(file: source.description, tensor: "model.layers.9.mlp.up_proj.weight"))
        #expect(error?.description.contains("tiny-llama/model.safetensors") == true)
        #expect(error?.description.contains("model.layers.9.mlp.up_proj.weight") == true)
        #expect(source.info("model.layers.9.mlp.up_proj.weight") == nil)
        #expect(throws: CheckpointError.self) { try source.loadInt64("nope") }
        #expect(throws: CheckpointError.self) { try source.loadBool("nope") }
        #expect(throws: CheckpointError.self) { try source.loadFloat32("nope", expectedShape: [1]) }
    }

    @Test("A shape mismatch is an error naming the tensor and both shapes")
    func shapeMismatch() throws {
        let source = try Self.open("tiny-llama")
        let error = #expect(throws: CheckpointError.self) {
            try source.loadFloat32("model.layers.0.self_attn.k_proj.weight", expectedShape: [64, 64])
        }
        #expect(error == .shapeMismatch(file: source.description, tensor: "model.layers.0.self_attn.k_proj.weight",
                                        expected: [64, 64], actual: [32, 64]))
        let text = error?.description ?? ""
        #expect(text.contains("[32, 64]") && text.contains("[64, 64]") && text.contains("k_proj"))
    }

    @Test("Reading a tensor as the wrong kind of value is an error naming its dtype")
    func wrongDataType() throws {
        let source = try Self.open("tiny-eagle3")
        let path = source.description
        #expect(throws: CheckpointError.wrongDataType(file: path, tensor: "d2t", dataType: .i64, wanted: "float32")) {
            try source.loadFloat32("d2t")
        }
        #expect(throws: CheckpointError.wrongDataType(file: path, tensor: "t2d", dataType: .bool, wanted: "integers")) {
            try source.loadInt64("t2d")
        }
        #expect(throws: CheckpointError.wrongDataType(file: path, tensor: "fc.weight", dataType: .f32, wanted: "booleans")) {
            try source.loadBool("fc.weight")
        }
    }

    @Test("Raw bytes of a tensor are its stored little-endian bytes")
    func rawBytes() throws {
        let source = try Self.open("tiny-llama-bf16")
        let name = "model.norm.weight"
        let floats = try source.loadFloat32(name).array
        let raw = try source.withRawBytes(name) { Array($0) }
        #expect(raw.count == 2 * floats.count)
        for (index, value) in floats.enumerated() {
            let bits = UInt16(raw[2 * index]) | UInt16(raw[2 * index + 1]) << 8
            #expect(value.bitPattern == UInt32(bits) << 16)
        }
    }
}
