import Checkpoints
import Configs
import Conversion
import Foundation
import Models
import Testing

@Suite("Converted research checkpoints load to the same draft as the speculators-format reference")
struct ConvertedDraftTests {
    static let variants = ["single", "norm-before-fc", "fc-norm", "two-layers", "two-aux", "full-vocab"]

    func load(_ folder: URL) throws -> Eagle3DraftModel {
        let verifier = try #require(Fixtures.verifier)
        return try #require(try SpeculatorModelRegistry.load(folder: folder, verifier: verifier).eagle3)
    }

    @Test("Draft logits of the converted checkpoint equal the reference's bit for bit", arguments: variants)
    func logitsMatchReference(variant: String) throws {
        let verifier = try #require(Fixtures.verifier)
        let output = try Fixtures.scratch()
        try Eagle3Converter.convert(source: Fixtures.research(variant), output: output, verifier: try Fixtures.verifierSummary())
        let converted = try load(output)
        let reference = try load(Fixtures.reference(variant))
        #expect(converted.config == reference.config)
        let actual = try draftLogits(converted, verifier: verifier)
        let expected = try draftLogits(reference, verifier: verifier)
        expectIdentical(actual, expected, "\(variant) draft logits")
    }

    @Test("config.json is byte-identical to what speculators 0.9.0 writes for the same source",
          arguments: ["single", "embed-bf16", "norm-before-fc", "fc-norm", "two-layers", "full-vocab"])
    func configMatchesPython(variant: String) throws {
        let golden = try Fixtures.pythonConverted(variant)
        let expected = try #require(golden["config_json"] as? String)
        let output = try Fixtures.scratch()
        try Eagle3Converter.convert(source: Fixtures.research(variant), output: output, verifier: try Fixtures.verifierSummary(),
                                    options: try Fixtures.pythonOptions(variant))
        let written = try String(contentsOf: output.appendingPathComponent("config.json"), encoding: .utf8)
        #expect(written == expected)
    }

    @Test("Tensors: everything Python writes, plus exactly the ones it drops (input_norm, fc_norm.*, layers.1.*)",
          arguments: ["single", "embed-bf16", "norm-before-fc", "fc-norm", "two-layers", "full-vocab"])
    func tensorsSupersetOfPython(variant: String) throws {
        let golden = try Fixtures.pythonConverted(variant)
        let pythonTensors = try #require(golden["tensors"] as? [String: [String: Any]])
        let output = try Fixtures.scratch()
        try Eagle3Converter.convert(source: Fixtures.research(variant), output: output, verifier: try Fixtures.verifierSummary(),
                                    options: try Fixtures.pythonOptions(variant))
        let ours = try SafetensorsFile(url: output.appendingPathComponent("model.safetensors"))
        for (name, description) in pythonTensors {
            let info = try #require(ours.info(name), "\(variant): \(name) missing")
            #expect(info.dataType.rawValue == description["dtype"] as? String, "\(variant): \(name) dtype")
            #expect(info.shape == (description["shape"] as? [Int]), "\(variant): \(name) shape")
        }
        let extra = Set(ours.tensorNames).subtracting(pythonTensors.keys)
        let dropped: [String: Set<String>] = [
            "norm-before-fc": ["input_norm.weight"],
            "fc-norm": ["fc_norm.0.weight", "fc_norm.1.weight", "fc_norm.2.weight"],
            "two-layers": Set(try SafetensorsFile(url: Fixtures.reference("two-layers").appendingPathComponent("model.safetensors"))
                .tensorNames.filter { $0.hasPrefix("layers.1.") }),
        ]
        #expect(extra == dropped[variant, default: []])
    }

    @Test("The Python converter fails on two aux layers; this one converts them (fc sized from the tensor)")
    func twoAuxLayers() throws {
        let golden = try Fixtures.pythonConverted("two-aux")
        #expect((golden["error"] as? String)?.contains("size mismatch for fc.weight") == true)
        let plan = try Eagle3Converter.plan(source: Fixtures.research("two-aux"), verifier: try Fixtures.verifierSummary())
        #expect(plan.config.eagleAuxHiddenStateLayerIds == [1, 3])
        #expect(plan.draftConfig.featureWidth == 128)
    }

    @Test("--dtype bfloat16 rounds every float to nearest even; the result loads and stays close to float32")
    func toBFloat16() throws {
        let verifier = try #require(Fixtures.verifier)
        let output = try Fixtures.scratch()
        let plan = try Eagle3Converter.convert(source: Fixtures.research("single"), output: output,
                                               verifier: try Fixtures.verifierSummary(), dtype: .bf16)
        #expect(plan.floatType == .bf16)
        let source = try readTensors(Fixtures.research("single").appendingPathComponent("model.safetensors"))
        let converted = try readTensors(output.appendingPathComponent("model.safetensors"))
        for (name, tensor) in converted {
            guard case let .floats(type, _, values) = tensor else { continue }
            #expect(type == .bf16, "\(name)")
            let sourceName = name.hasPrefix("layers.0.") ? "midlayer." + name.dropFirst("layers.0.".count) : name
            guard case let .floats(_, _, original)? = source[sourceName] else { Issue.record("\(name) has no source"); continue }
            #expect(values == original.map(bf16Rounded), "\(name) is not the bf16 rounding of the source")
        }
        let config = try String(contentsOf: output.appendingPathComponent("config.json"), encoding: .utf8)
        #expect(config.contains("\"dtype\": \"bfloat16\""))
        let bf16 = try draftLogits(try load(output), verifier: verifier)
        let f32 = try draftLogits(try load(Fixtures.reference("single")), verifier: verifier)
        let worst = zip(bf16, f32).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst < 0.1, "bf16 logits drift \(worst) from float32")
        #expect(zip(bf16, f32).contains { $0 != $1 }, "bf16 rounding should change some logits")
    }

    @Test("A bfloat16 source converted with --dtype float32 keeps every value exactly")
    func bfloat16ToFloat32() throws {
        let verifier = try #require(Fixtures.verifier)
        let bf16Source = try mutatedResearch("single", tensors: { tensors in
            for (name, tensor) in tensors {
                if case let .floats(_, shape, values) = tensor { tensors[name] = .floats(.bf16, shape, values) }
            }
        }, config: { $0["torch_dtype"] = "bfloat16" })
        let asF32 = try Fixtures.scratch(), asBF16 = try Fixtures.scratch()
        try Eagle3Converter.convert(source: bf16Source, output: asF32, verifier: try Fixtures.verifierSummary(), dtype: .f32)
        try Eagle3Converter.convert(source: bf16Source, output: asBF16, verifier: try Fixtures.verifierSummary())
        let f32 = try SafetensorsFile(url: asF32.appendingPathComponent("model.safetensors"))
        #expect(f32.info("fc.weight")?.dataType == .f32)
        #expect(try SafetensorsFile(url: asBF16.appendingPathComponent("model.safetensors")).info("fc.weight")?.dataType == .bf16)
        expectIdentical(try draftLogits(try load(asF32), verifier: verifier), try draftLogits(try load(asBF16), verifier: verifier),
                        "bf16 source as f32 vs as bf16")
    }

    @Test("embed_tokens in the source is carried over; without it, loading takes the verifier's")
    func embedding() throws {
        let verifier = try #require(Fixtures.verifier)
        let output = try Fixtures.scratch()
        try Eagle3Converter.convert(source: Fixtures.research("embed-bf16"), output: output,
                                    verifier: try Fixtures.verifierSummary(), options: try Fixtures.pythonOptions("embed-bf16"), dtype: .f32)
        #expect(try SafetensorsFile(url: output.appendingPathComponent("model.safetensors")).contains("embed_tokens.weight"))
        let withEmbedding = try load(output)
        #expect(withEmbedding.embedding.array == verifier.embedding.array)
        let plain = try Fixtures.scratch()
        let plan = try Eagle3Converter.convert(source: Fixtures.research("single"), output: plain, verifier: try Fixtures.verifierSummary())
        #expect(!plan.entries.contains { $0.name == "embed_tokens.weight" })
        #expect(plan.notes.contains { $0.contains("embed_tokens") })
        #expect(try load(plain).embedding.array == verifier.embedding.array)
    }
}
