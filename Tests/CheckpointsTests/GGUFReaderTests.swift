import Checkpoints
import Foundation
import Testing

/// `tiny-expected.json`: what gguf-py reads and dequantises from `tiny-gguf.bin`.
struct TinyGGUFExpected: Decodable {
    struct Tensor: Decodable {
        let type: String
        let ne: [Int]
        /// float32 bit patterns of gguf.quants.dequantize's output, in stored order.
        let bits: [UInt32]
        /// The same in Hugging Face layout (rows un-permuted), for the tensors the view renames.
        let hf_bits: [UInt32]?
    }
    let tensors: [String: Tensor]
    let tensor_count: Int
    let i32: [Int64]

    static func load() throws -> TinyGGUFExpected { try Fixtures.decode(TinyGGUFExpected.self, "tiny-expected.json") }
}

@Suite("GGUF reader: header, typed metadata, tensor directory and exact dequantisation")
struct GGUFReaderTests {
    let file: GGUFFile
    let expected: TinyGGUFExpected

    init() throws {
        file = try GGUFFile(url: Fixtures.url("tiny-gguf.bin"))
        expected = try TinyGGUFExpected.load()
    }

    @Test("The header and metadata of every GGUF value type read back as written")
    func metadata() throws {
        #expect(file.version == 3)
        #expect(file.alignment == 32)
        #expect(file.dataStart % 32 == 0)
        #expect(file.architecture == "llama")
        let m = file.ggufMetadata
        #expect(m["test.u8"] == .uint8(250))
        #expect(m["test.i8"] == .int8(-100))
        #expect(m["test.u16"] == .uint16(65000))
        #expect(m["test.i16"] == .int16(-32000))
        #expect(m["test.i32"] == .int32(-2_000_000_000))
        #expect(m["test.u64"] == .uint64(1 << 63 + 5))
        #expect(m["test.i64"] == .int64(-(1 << 62)))
        #expect(m["test.f32"] == .float32(0.1))
        #expect(m["test.f64"] == .float64(0.1))
        #expect(m["test.bool"] == .bool(true))
        #expect(m["test.string"] == .string("héllo ✓"))
        #expect(m["test.strings"]?.stringArray == ["a", "", "ü"])
        #expect(m["test.floats"] == .array([.float32(1.5), .float32(-2)]))
        #expect(m["test.nested"] == .array([.array([.int32(1), .int32(2)]), .array([.int32(3)])]))
        #expect(m["llama.attention.head_count"]?.intValue == 4)
        #expect(m["test.u64"]?.intValue == nil)  // does not fit in Int
        #expect(try file.int("llama.attention.head_count_kv") == 2)
        #expect(try file.string("general.architecture") == "llama")
        #expect(throws: CheckpointError.badMetadata(file: file.description, key: "no.such.key", problem: "missing")) {
            try file.int("no.such.key")
        }
        #expect(throws: CheckpointError.self) { try file.int("test.string") }
        // The string view every TensorSource has: scalars only.
        #expect(file.metadata["test.i16"] == "-32000")
        #expect(file.metadata["test.u64"] == "9223372036854775813")
        #expect(file.metadata["test.bool"] == "true")
        #expect(file.metadata["test.strings"] == nil)
    }

    @Test("The tensor directory lists GGUF names, ne dimensions, types and row-major shapes")
    func directory() throws {
        #expect(file.tensorInfos.count == expected.tensor_count)
        #expect(file.tensorNames == Set(expected.tensors.keys).union(["plain.i32"]).sorted())
        for (name, want) in expected.tensors {
            let record = try #require(file.tensorInfo(name))
            #expect(record.dimensions == want.ne, "\(name)")
            #expect(record.dataType.rawValue == want.type, "\(name)")
            #expect(file.info(name)?.shape == want.ne.reversed(), "\(name)")
            #expect(record.offset % file.alignment == 0)
        }
        let q = try #require(file.tensorInfo("quant.q4_k"))
        #expect(q.byteCount == 3 * 2 * 144)
        #expect(try file.withRawBytes("quant.q4_k") { $0.count } == q.byteCount)
    }

    @Test("Every tensor type dequantises bit-identically to gguf-py's reference dequantize",
          arguments: ["plain.f32", "plain.f16", "plain.bf16", "quant.q8_0", "quant.q4_0", "quant.q4_1", "quant.q5_0",
                      "quant.q5_1", "quant.q2_k", "quant.q3_k", "quant.q4_k", "quant.q5_k", "quant.q6_k"])
    func dequantisesExactly(name: String) throws {
        let want = try #require(expected.tensors[name])
        let tensor = try file.loadFloat32(name)
        #expect(tensor.shape == want.ne.reversed())
        let got = tensor.array.map(\.bitPattern)
        #expect(got.count == want.bits.count)
        let mismatches = zip(got, want.bits).enumerated().filter { $0.element.0 != $0.element.1 }
        #expect(mismatches.isEmpty, "\(mismatches.count) values differ; first at \(mismatches.first?.offset ?? -1)")
    }

    @Test("Integer tensors load as Int64; other kinds of value are dtype errors")
    func integersAndErrors() throws {
        #expect(try file.loadInt64("plain.i32") == expected.i32)
        #expect(throws: CheckpointError.wrongDataType(file: file.description, tensor: "plain.i32", dataType: .i32, wanted: "float32")) {
            try file.loadFloat32("plain.i32")
        }
        #expect(throws: CheckpointError.wrongDataType(file: file.description, tensor: "quant.q4_0", dataType: .q4_0, wanted: "booleans")) {
            try file.loadBool("quant.q4_0")
        }
        #expect(throws: CheckpointError.missingTensor(file: file.description, tensor: "nope")) { try file.loadFloat32("nope") }
        #expect(throws: CheckpointError.shapeMismatch(file: file.description, tensor: "quant.q6_k", expected: [512, 3], actual: [3, 512])) {
            try file.loadFloat32("quant.q6_k", expectedShape: [512, 3])
        }
    }

    @Test("The tokenizer fields come from the tokenizer.* metadata")
    func tokenizer() throws {
        let fields = try file.tokenizerMetadata()
        #expect(fields == GGUFTokenizerFields(
            model: "gpt2", preTokenizer: "smollm",
            tokens: ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "a", "b", "ab", "Ġ", "Ġab"],
            tokenTypes: [3, 3, 3, 1, 1, 1, 1, 1], merges: ["a b", "Ġ ab"], bosTokenId: 1, eosTokenId: 2,
            paddingTokenId: 2, addBosToken: false, chatTemplate: "{{ messages }}"))
    }
}

@Suite("GGUF Hugging Face view: names, shapes and the Q/K row permutation")
struct GGUFHuggingFaceViewTests {
    @Test("llama q/k rows come back exactly as the Hugging Face matrices the converter permuted")
    func unpermutesQueryAndKey() throws {
        let expected = try TinyGGUFExpected.load()
        let view = try GGUFFile(url: Fixtures.url("tiny-gguf.bin")).huggingFaceView()
        let cases = [("model.layers.0.self_attn.q_proj.weight", "blk.0.attn_q.weight", [32, 16], true),
                     ("model.layers.0.self_attn.k_proj.weight", "blk.0.attn_k.weight", [16, 16], true),
                     ("model.layers.0.self_attn.v_proj.weight", "blk.0.attn_v.weight", [16, 16], false),
                     ("model.norm.weight", "output_norm.weight", [16], false)]
        for (hfName, ggufName, shape, permuted) in cases {
            #expect(view.ggufName(for: hfName) == ggufName)
            #expect(view.isPermuted(hfName) == permuted)
            #expect(view.info(hfName)?.shape == shape)
            let tensor = try view.loadFloat32(hfName, expectedShape: shape)
            let want = try #require(expected.tensors[ggufName]?.hf_bits)
            #expect(tensor.array.map(\.bitPattern) == want, "\(hfName)")
        }
        // The permutation really moved rows: the raw GGUF rows differ from the Hugging Face rows.
        let raw = try view.gguf.loadFloat32("blk.0.attn_q.weight").array
        #expect(raw != (try view.loadFloat32("model.layers.0.self_attn.q_proj.weight").array))
    }

    @Test("Unknown GGUF names pass through; lm_head is absent when the embedding is tied")
    func namesAndTiedHead() throws {
        let view = try openCheckpoint(Fixtures.url("tiny-gguf.bin"))
        #expect(view is GGUFHuggingFaceView)
        #expect(view.tensorNames.contains("quant.q4_k"))
        #expect(view.tensorNames.contains("model.layers.0.self_attn.q_proj.weight"))
        #expect(!view.tensorNames.contains("blk.0.attn_q.weight"))
        #expect(view.info("lm_head.weight") == nil)
        #expect(throws: CheckpointError.missingTensor(file: view.description, tensor: "lm_head.weight")) {
            try view.loadFloat32("lm_head.weight")
        }
        #expect(view.metadata["general.architecture"] == "llama")
        #expect(try view.loadInt64("plain.i32").count == 5)
    }

    @Test("The name table maps every llama/qwen3 tensor both ways")
    func nameTable() throws {
        let pairs = [("token_embd.weight", "model.embed_tokens.weight"), ("output_norm.weight", "model.norm.weight"),
                     ("output.weight", "lm_head.weight"),
                     ("blk.0.attn_q.weight", "model.layers.0.self_attn.q_proj.weight"),
                     ("blk.12.attn_k.bias", "model.layers.12.self_attn.k_proj.bias"),
                     ("blk.3.attn_v.weight", "model.layers.3.self_attn.v_proj.weight"),
                     ("blk.3.attn_output.weight", "model.layers.3.self_attn.o_proj.weight"),
                     ("blk.3.attn_norm.weight", "model.layers.3.input_layernorm.weight"),
                     ("blk.3.ffn_norm.weight", "model.layers.3.post_attention_layernorm.weight"),
                     ("blk.3.ffn_gate.weight", "model.layers.3.mlp.gate_proj.weight"),
                     ("blk.3.ffn_up.weight", "model.layers.3.mlp.up_proj.weight"),
                     ("blk.3.ffn_down.weight", "model.layers.3.mlp.down_proj.weight"),
                     ("blk.29.attn_q_norm.weight", "model.layers.29.self_attn.q_norm.weight"),
                     ("blk.29.attn_k_norm.weight", "model.layers.29.self_attn.k_norm.weight")]
        for (gguf, hf) in pairs {
            #expect(TensorNames.huggingFaceName(forGGUF: gguf) == hf)
            #expect(TensorNames.ggufName(forHuggingFace: hf) == gguf)
        }
        for unknown in ["rope_freqs.weight", "blk.x.attn_q.weight", "blk.01.attn_q.weight", "blk.0.attn_q.scale", "token_embd"] {
            #expect(TensorNames.huggingFaceName(forGGUF: unknown) == nil, "\(unknown)")
        }
        #expect(TensorNames.ggufName(forHuggingFace: "model.layers.0.self_attn.rotary.weight") == nil)
        #expect(TensorNames.speculatorsName(forEagle3Research: "midlayer.self_attn.q_proj.weight") == "layers.0.self_attn.q_proj.weight")
        #expect(TensorNames.speculatorsName(forEagle3Research: "fc.weight") == "fc.weight")
    }
}
