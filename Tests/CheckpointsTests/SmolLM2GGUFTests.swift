import Checkpoints
import Foundation
import Tensors
import Testing

/// `smollm2-expected.json`: gguf-py's view of the real model file.
struct SmolLM2Expected: Decodable {
    struct Tensor: Decodable {
        let type: String
        let ne: [Int]
        let sum: Double
        let abs_sum: Double
    }
    struct Spot: Decodable {
        let gguf_name: String
        let flat_index: Int
        let bits: UInt32
    }
    struct Tokenizer: Decodable {
        let model: String
        let pre: String
        let token_count: Int
        let first_tokens: [String]
        let last_token: String
        let merge_count: Int
        let first_merges: [String]
        let last_merge: String
        let control_token_ids: [Int]
        let bos: Int
        let eos: Int
        let pad: Int
        let unk: Int
        let add_bos: Bool
    }
    let tensor_count: Int
    let metadata_count: Int
    let tensors: [String: Tensor]
    let spots: [Spot]
    let tokenizer: Tokenizer
}

/// The Hugging Face config of the same model (copied from the shared smollm2-hf folder).
struct SmolLM2Config: Decodable {
    let hidden_size: Int
    let intermediate_size: Int
    let num_attention_heads: Int
    let num_key_value_heads: Int
    let num_hidden_layers: Int
    let vocab_size: Int
    let head_dim: Int
    let tie_word_embeddings: Bool
}

enum SmolLM2 {
    /// `make models` puts the file in the package's models/ folder; CI runs it before the tests.
    static let url = Fixtures.packageRoot.appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf")
    static var isPresent: Bool { FileManager.default.fileExists(atPath: url.path) }
}

@Suite("The real SmolLM2-135M-Instruct Q4_1 GGUF",
       .enabled(if: SmolLM2.isPresent, "models/SmolLM2-135M-Instruct.Q4_1.gguf is absent: run `make models` to fetch it"))
struct SmolLM2GGUFTests {
    let file: GGUFFile
    let expected: SmolLM2Expected

    init() throws {
        file = try GGUFFile(url: SmolLM2.url)
        expected = try Fixtures.decode(SmolLM2Expected.self, "smollm2-expected.json")
    }

    @Test("Header, metadata and tensor directory match gguf-py's reading")
    func directory() throws {
        #expect(file.version == 3)
        #expect(file.tensorInfos.count == expected.tensor_count)
        #expect(file.ggufMetadata.count == expected.metadata_count)
        #expect(file.architecture == "llama")
        #expect(try file.int("llama.block_count") == 30)
        #expect(try file.int("llama.attention.head_count") == 9)
        #expect(try file.int("llama.attention.head_count_kv") == 3)
        #expect(file.ggufMetadata["llama.rope.freq_base"] == .float32(100000))
        for record in file.tensorInfos {
            let want = try #require(expected.tensors[record.name], "\(record.name)")
            #expect(record.dimensions == want.ne, "\(record.name)")
            #expect(record.dataType.rawValue == want.type, "\(record.name)")
        }
    }

    @Test("Hugging Face names and shapes match the model's config.json")
    func huggingFaceShapes() throws {
        let config = try Fixtures.decode(SmolLM2Config.self, "smollm2-config.json")
        let view = try file.huggingFaceView()
        let h = config.hidden_size, kv = config.num_key_value_heads * config.head_dim
        var wanted: [String: [Int]] = [
            "model.embed_tokens.weight": [config.vocab_size, h],
            "model.norm.weight": [h],
        ]
        for layer in 0..<config.num_hidden_layers {
            let p = "model.layers.\(layer)."
            wanted[p + "self_attn.q_proj.weight"] = [config.num_attention_heads * config.head_dim, h]
            wanted[p + "self_attn.k_proj.weight"] = [kv, h]
            wanted[p + "self_attn.v_proj.weight"] = [kv, h]
            wanted[p + "self_attn.o_proj.weight"] = [h, config.num_attention_heads * config.head_dim]
            wanted[p + "mlp.gate_proj.weight"] = [config.intermediate_size, h]
            wanted[p + "mlp.up_proj.weight"] = [config.intermediate_size, h]
            wanted[p + "mlp.down_proj.weight"] = [h, config.intermediate_size]
            wanted[p + "input_layernorm.weight"] = [h]
            wanted[p + "post_attention_layernorm.weight"] = [h]
        }
        #expect(config.tie_word_embeddings)
        #expect(view.tensorNames == wanted.keys.sorted())  // no lm_head: tied
        for (name, shape) in wanted { #expect(view.info(name)?.shape == shape, "\(name)") }
        #expect(view.isPermuted("model.layers.0.self_attn.q_proj.weight"))
        #expect(view.isPermuted("model.layers.29.self_attn.k_proj.weight"))
        #expect(!view.isPermuted("model.layers.0.self_attn.v_proj.weight"))
    }

    @Test("Every tensor dequantises to finite values whose sums match gguf-py's, and spot values are bit-exact in Hugging Face layout")
    func dequantisesEverything() throws {
        let view = try file.huggingFaceView()
        let start = Date()
        let cpuStart = clock()
        var loaded: [String: Tensor] = [:]
        for name in view.tensorNames { loaded[name] = try view.loadFloat32(name) }
        let seconds = Date().timeIntervalSince(start)
        let cpuSeconds = Double(clock() - cpuStart) / Double(CLOCKS_PER_SEC)
        // Printed, not asserted: wall time depends on what else the shared machine is doing.
        print("SmolLM2 Q4_1: dequantised \(loaded.count) tensors (\(loaded.values.reduce(0) { $0 + $1.count }) floats) in \(String(format: "%.3f", seconds)) s wall, \(String(format: "%.3f", cpuSeconds)) s CPU")
        let tensors = loaded.mapValues(\.array)
        for name in view.tensorNames {
            let values = try #require(tensors[name])
            let ggufName = try #require(view.ggufName(for: name))
            let want = try #require(expected.tensors[ggufName])
            let allFinite = values.allSatisfy { $0.isFinite }
            #expect(allFinite, "\(name)")
            var sum = 0.0, absSum = 0.0
            for value in values { sum += Double(value); absSum += Double(abs(value)) }
            // Summation order differs from numpy's pairwise sum; the bound is far below one quantisation step.
            #expect(abs(sum - want.sum) <= 1e-9 * want.abs_sum + 1e-9, "\(name): sum \(sum) vs \(want.sum)")
            #expect(abs(absSum - want.abs_sum) <= 1e-9 * want.abs_sum + 1e-9, "\(name)")
        }
        #expect(expected.spots.count >= 48)
        for spot in expected.spots {
            let name = try #require(TensorNames.huggingFaceName(forGGUF: spot.gguf_name))
            let values = try #require(tensors[name])
            #expect(values[spot.flat_index].bitPattern == spot.bits, "\(name)[\(spot.flat_index)]")
        }
    }

    @Test("The tokenizer fields match gguf-py's reading and the Hugging Face chat template")
    func tokenizer() throws {
        let fields = try file.tokenizerMetadata()
        let want = expected.tokenizer
        #expect(fields.model == want.model)
        #expect(fields.preTokenizer == want.pre)
        #expect(fields.tokens.count == want.token_count)
        #expect(Array(fields.tokens.prefix(want.first_tokens.count)) == want.first_tokens)
        #expect(fields.tokens.last == want.last_token)
        #expect(fields.merges?.count == want.merge_count)
        #expect(Array((fields.merges ?? []).prefix(want.first_merges.count)) == want.first_merges)
        #expect(fields.merges?.last == want.last_merge)
        let types = fields.tokenTypes ?? []
        let controlIDs = types.indices.filter { types[$0] == 3 }
        #expect(controlIDs == want.control_token_ids)
        #expect(fields.bosTokenId == want.bos)
        #expect(fields.eosTokenId == want.eos)
        #expect(fields.paddingTokenId == want.pad)
        #expect(fields.unknownTokenId == want.unk)
        #expect(fields.addBosToken == want.add_bos)
        let template = String(decoding: try Fixtures.data("smollm2-chat_template.jinja"), as: UTF8.self)
        #expect(fields.chatTemplate == template)
    }
}
