import Checkpoints
import Configs
import Conversion
import Foundation
import Testing

@Suite("Native MTP heads are extracted as speculators 0.9.0 does, checked against the verifier's own layer")
struct MTPConversionTests {
    static let root = Fixtures.root.appendingPathComponent("mtp")
    static let source = root.appendingPathComponent("source")
    static func verifier() throws -> VerifierSummary { try VerifierSummary(path: source.path, recordedName: "source") }

    func mutated(tensors edit: (inout [String: StoredTensor]) -> Void) throws -> URL {
        let folder = try Fixtures.scratch("mtp")
        var tensors = try readTensors(Self.source.appendingPathComponent("model.safetensors"))
        edit(&tensors)
        try writeTensors(tensors, to: folder.appendingPathComponent("model.safetensors"))
        try FileManager.default.copyItem(at: Self.source.appendingPathComponent("config.json"), to: folder.appendingPathComponent("config.json"))
        return folder
    }

    @Test("config.json bytes and tensor values equal the Python output (less its NaN-filled verifier_lm_head)")
    func matchesPython() throws {
        let output = try Fixtures.scratch("mtp-out")
        let result = try SpeculatorConverter.convert(model: Self.source.path, verifier: try Self.verifier(), algorithm: "mtp",
                                                     outputPath: output.path, algorithmKwargs: #"{"num_speculative_steps": 2}"#)
        #expect(result.tensorCount == 15)
        let python = Self.root.appendingPathComponent("python-converted")
        let ours = try String(contentsOf: output.appendingPathComponent("config.json"), encoding: .utf8)
        let theirs = try String(contentsOf: python.appendingPathComponent("config.json"), encoding: .utf8)
        #expect(ours == theirs)
        var expected = try readTensors(python.appendingPathComponent("model.safetensors"))
        guard case let .floats(_, _, junk)? = expected.removeValue(forKey: "verifier_lm_head.weight") else {
            Issue.record("the Python output should hold verifier_lm_head.weight"); return
        }
        let allNaN = junk.allSatisfy { $0.isNaN }
        #expect(allNaN, "upstream writes an uninitialised (NaN) verifier_lm_head")
        let written = try readTensors(output.appendingPathComponent("model.safetensors"))
        #expect(Set(written.keys) == Set(expected.keys))
        for (name, tensor) in expected {
            guard case let .floats(_, shape, values) = tensor, case let .floats(_, ourShape, ours)? = written[name] else {
                Issue.record("\(name) missing"); continue
            }
            #expect(shape == ourShape && values == ours, "\(name)")
        }
    }

    @Test("No mtp.* tensors, a stray head tensor, a second layer or a tensor the reference layer lacks are errors")
    func rules() throws {
        let verifier = try Self.verifier()
        let none = try mutated { tensors in for key in tensors.keys where key.hasPrefix("mtp.") { tensors.removeValue(forKey: key) } }
        expectConversionError(["mtp.", "native MTP head"]) { _ = try MTPConverter.plan(source: none, verifier: verifier) }
        let stray = try mutated { $0["mtp.layers.1.input_layernorm.weight"] = .floats(.f32, [64], [Float](repeating: 1, count: 64)) }
        expectConversionError(["mtp.layers.1.input_layernorm.weight", "one decoder layer"]) { _ = try MTPConverter.plan(source: stray, verifier: verifier) }
        let gated = try mutated { $0["mtp.layers.0.self_attn.g_proj.weight"] = .floats(.f32, [4, 64], [Float](repeating: 0, count: 256)) }
        expectConversionError(["mtp.layers.0.self_attn.g_proj.weight", "model.layers.3."]) { _ = try MTPConverter.plan(source: gated, verifier: verifier) }
        let missing = try mutated { $0.removeValue(forKey: "mtp.layers.0.self_attn.k_norm.weight") }
        expectConversionError(["mtp.layers.0.self_attn.k_norm.weight", "missing"]) { _ = try MTPConverter.plan(source: missing, verifier: verifier) }
        let narrow = try mutated { $0["mtp.fc.weight"] = .floats(.f32, [64, 64], [Float](repeating: 0, count: 4096)) }
        expectConversionError(["mtp.fc.weight", "[64, 128]"]) { _ = try MTPConverter.plan(source: narrow, verifier: verifier) }
        expectConversionError(["num_speculative_steps"]) {
            try SpeculatorConverter.convert(model: Self.source.path, verifier: verifier, algorithm: "mtp",
                                            outputPath: try Fixtures.scratch().path, algorithmKwargs: #"{"num_speculative_steps": "3"}"#)
        }
    }

    @Test("Per-expert MoE weights are fused: gate_up_proj [E, 2I, H] (gate rows, then up rows, per expert), down_proj [E, H, I]")
    func fusesExperts() throws {
        func ramp(_ count: Int, _ base: Float) -> [Float] { (0..<count).map { base + Float($0) / 1000 } }
        let folder = try mutated { tensors in
            for prefix in ["model.layers.3.mlp.", "mtp.layers.0.mlp."] {
                for projection in ["gate_proj", "up_proj", "down_proj"] { tensors.removeValue(forKey: prefix + projection + ".weight") }
                for expert in 0..<2 {
                    let base = Float(expert * 10)
                    tensors[prefix + "experts.\(expert).gate_proj.weight"] = .floats(.f32, [3, 64], ramp(192, base + 1))
                    tensors[prefix + "experts.\(expert).up_proj.weight"] = .floats(.f32, [3, 64], ramp(192, base + 2))
                    tensors[prefix + "experts.\(expert).down_proj.weight"] = .floats(.f32, [64, 3], ramp(192, base + 3))
                }
            }
        }
        let output = try Fixtures.scratch("mtp-moe")
        try MTPConverter.convert(source: folder, output: output, verifier: try Self.verifier())
        let written = try readTensors(output.appendingPathComponent("model.safetensors"))
        guard case let .floats(_, gateUpShape, gateUp)? = written["mtp_layers.0.mlp.experts.gate_up_proj"],
              case let .floats(_, downShape, down)? = written["mtp_layers.0.mlp.experts.down_proj"] else {
            Issue.record("fused expert tensors missing: \(written.keys.sorted())"); return
        }
        #expect(gateUpShape == [2, 6, 64] && downShape == [2, 64, 3])
        #expect(gateUp == ramp(192, 1) + ramp(192, 2) + ramp(192, 11) + ramp(192, 12))
        #expect(down == ramp(192, 3) + ramp(192, 13))
        #expect(!written.keys.contains { $0.contains("experts.0.") })
        let gap = try mutated { tensors in
            tensors["mtp.layers.0.mlp.experts.2.gate_proj.weight"] = .floats(.f32, [3, 64], ramp(192, 0))
        }
        expectConversionError(["mtp.layers.0.mlp.experts.2.gate_proj.weight"]) { _ = try MTPConverter.plan(source: gap, verifier: try Self.verifier()) }
    }
}
