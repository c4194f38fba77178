import Checkpoints
import Configs
import Conversion
import Foundation
import Testing

@Suite("DFlash (z-lab) checkpoints convert as speculators 0.9.0 does, without dropping anything silently")
struct DFlashConversionTests {
    static let root = Fixtures.root.appendingPathComponent("dflash")
    static func source(_ variant: String) -> URL { root.appendingPathComponent("source/\(variant)") }
    static func python(_ variant: String) -> URL { root.appendingPathComponent("python-converted/\(variant)") }
    static func verifier() throws -> VerifierSummary {
        try VerifierSummary(path: root.appendingPathComponent("tiny-qwen3").path, recordedName: "tiny-qwen3")
    }

    @Test("config.json bytes and every tensor value equal the Python converter's output",
          arguments: ["qwen3", "laguna-fused-qkv"])
    func matchesPython(variant: String) throws {
        let output = try Fixtures.scratch("dflash")
        let result = try SpeculatorConverter.convert(model: Self.source(variant).path, verifier: try Self.verifier(),
                                                     algorithm: "dflash", outputPath: output.path)
        #expect(result.floatType == .f32)
        let expectedConfig = try String(contentsOf: Self.python(variant).appendingPathComponent("config.json"), encoding: .utf8)
        let writtenConfig = try String(contentsOf: output.appendingPathComponent("config.json"), encoding: .utf8)
        #expect(writtenConfig == expectedConfig)
        let expected = try readTensors(Self.python(variant).appendingPathComponent("model.safetensors"))
        let written = try readTensors(output.appendingPathComponent("model.safetensors"))
        #expect(Set(written.keys) == Set(expected.keys))
        for (name, tensor) in expected {
            guard case let .floats(type, shape, values) = tensor, case let .floats(ourType, ourShape, ours)? = written[name] else {
                Issue.record("\(name): not a float tensor in both files"); continue
            }
            #expect(ourType == type && ourShape == shape, "\(name)")
            #expect(ours == values, "\(name) values differ")
        }
    }

    @Test("Aux ids: target_layer_ids + 1 without the verifier's last layer, or the option")
    func auxIds() throws {
        let plan = try DFlashConverter.plan(source: Self.source("qwen3"), verifier: try Self.verifier())
        #expect(plan.config.auxHiddenStateLayerIds == [1, 3])
        #expect(plan.config.blockSize == 4 && plan.config.speculatorsConfig?.speculativeTokens == 3)
        expectConversionError(["fc.weight", "[64, 192]", "[64, 128]"]) {
            _ = try DFlashConverter.plan(source: Self.source("qwen3"), verifier: try Self.verifier(), auxLayerIds: [1, 2, 3])
        }
        let folder = try mutatedDFlash("qwen3", config: { config in
            var block = config["dflash_config"] as? [String: Any] ?? [:]
            block["target_layer_ids"] = [0, 3]
            config["dflash_config"] = block
        })
        // 3 + 1 == 4 layers: dropped, so fc (2 states wide) no longer fits, which upstream would slice away.
        expectConversionError(["fc.weight", "upstream slices"]) { _ = try DFlashConverter.plan(source: folder, verifier: try Self.verifier()) }
    }

    @Test("Rules: missing block_size, hidden mismatch, g_proj, both fused and split qkv, kwargs")
    func rules() throws {
        let verifier = try Self.verifier()
        let noBlock = try mutatedDFlash("qwen3", config: { $0.removeValue(forKey: "block_size") })
        expectConversionError(["block_size", "missing"]) { _ = try DFlashConverter.plan(source: noBlock, verifier: verifier) }
        var wide = verifier
        wide.hiddenSize = 128
        expectConversionError(["hidden_size", "architecture mismatch"]) { _ = try DFlashConverter.plan(source: Self.source("qwen3"), verifier: wide) }
        let gated = try mutatedDFlash("laguna-fused-qkv", tensors: { $0["layers.0.self_attn.g_proj.weight"] = .floats(.f32, [4, 64], [Float](repeating: 0, count: 256)) })
        expectConversionError(["layers.0.self_attn.g_proj.weight", "g_proj"]) { _ = try DFlashConverter.plan(source: gated, verifier: verifier) }
        let both = try mutatedDFlash("laguna-fused-qkv", tensors: { $0["layers.1.self_attn.q_proj.weight"] = .floats(.f32, [64, 64], [Float](repeating: 0, count: 4096)) })
        expectConversionError(["qkv_proj", "layers.1.self_attn.q_proj.weight"]) { _ = try DFlashConverter.plan(source: both, verifier: verifier) }
        expectConversionError(["'norm_output' is not a dflash converter option"]) {
            try SpeculatorConverter.convert(model: Self.source("qwen3").path, verifier: verifier, algorithm: "dflash",
                                            outputPath: try Fixtures.scratch().path, algorithmKwargs: #"{"norm_output": true}"#)
        }
        let result = try SpeculatorConverter.convert(model: Self.source("qwen3").path, verifier: verifier, algorithm: "dflash",
                                                     outputPath: try Fixtures.scratch().path,
                                                     algorithmKwargs: #"{"aux_hidden_state_layer_ids": [2, 3]}"#, dtype: "bf16")
        #expect(result.floatType == .bf16)
    }
}

/// A copy of a DFlash source fixture with its tensors and config edited.
func mutatedDFlash(_ variant: String, tensors edit: (inout [String: StoredTensor]) -> Void = { _ in },
                   config editConfig: (inout [String: Any]) -> Void = { _ in }) throws -> URL {
    let source = DFlashConversionTests.source(variant)
    let folder = try Fixtures.scratch("dflash-\(variant)")
    var tensors = try readTensors(source.appendingPathComponent("model.safetensors"))
    edit(&tensors)
    try writeTensors(tensors, to: folder.appendingPathComponent("model.safetensors"))
    var config = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: source.appendingPathComponent("config.json"))) as? [String: Any])
    editConfig(&config)
    try JSONSerialization.data(withJSONObject: config, options: [.sortedKeys]).write(to: folder.appendingPathComponent("config.json"))
    return folder
}
