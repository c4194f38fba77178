import Checkpoints
import Conversion
import Foundation
import Models
import Testing

/// Expects `body` to fail with a `ConversionError` whose message contains every fragment.
func expectConversionError(_ fragments: [String], sourceLocation: SourceLocation = #_sourceLocation,
                           _ body: () throws -> Void) {
    do {
        try body()
        Issue.record("expected a conversion error mentioning \(fragments)", sourceLocation: sourceLocation)
    } catch let error as ConversionError {
        for fragment in fragments {
            #expect(error.description.contains(fragment), "'\(fragment)' not in: \(error)", sourceLocation: sourceLocation)
        }
    } catch {
        Issue.record("expected a ConversionError, got \(error)", sourceLocation: sourceLocation)
    }
}

@Suite("Conversion rules: nothing is silently lost, every problem names its tensor or key")
struct ConversionRuleTests {
    let verifier: VerifierSummary
    init() throws { verifier = try Fixtures.verifierSummary() }

    func plan(_ folder: URL, _ options: Eagle3ConversionOptions = .init()) throws -> Eagle3ConversionPlan {
        try Eagle3Converter.plan(source: folder, verifier: verifier, options: options)
    }

    @Test("midlayer.* becomes layers.0.*; other names are kept")
    func renames() throws {
        let names = try plan(Fixtures.research("single")).entries.map(\.name)
        #expect(names.contains("layers.0.self_attn.q_proj.weight"))
        #expect(names.contains("layers.0.hidden_norm.weight"))
        #expect(!names.contains { $0.hasPrefix("midlayer.") })
        #expect(names.contains("fc.weight") && names.contains("lm_head.weight") && names.contains("d2t") && names.contains("t2d"))
    }

    @Test("A tensor with no place in the model is an error naming it")
    func unknownTensor() throws {
        let folder = try mutatedResearch("single", tensors: { $0["extra_proj.weight"] = .floats(.f32, [2], [1, 2]) })
        expectConversionError(["extra_proj.weight", "no place"]) { _ = try plan(folder) }
    }

    @Test("layers.1.* with num_hidden_layers 1 is an error (upstream drops them)")
    func extraLayer() throws {
        let folder = try mutatedResearch("two-layers", config: { $0["num_hidden_layers"] = 1 })
        expectConversionError(["layers.1.", "num_hidden_layers"]) { _ = try plan(folder) }
    }

    @Test("input_norm.weight without norm_before_fc is an error; the option places it")
    func inputNormNeedsFlag() throws {
        let folder = try mutatedResearch("norm-before-fc", config: { $0.removeValue(forKey: "norm_before_fc") })
        expectConversionError(["input_norm.weight", "norm_before_fc"]) { _ = try plan(folder) }
        let placed = try plan(folder, Eagle3ConversionOptions(normBeforeFC: true))
        #expect(placed.config.normBeforeFc)
        #expect(placed.entries.contains { $0.name == "input_norm.weight" })
    }

    @Test("fc_norm.N.weight without fc_norm is an error")
    func fcNormNeedsFlag() throws {
        let folder = try mutatedResearch("fc-norm", config: { $0.removeValue(forKey: "fc_norm") })
        expectConversionError(["fc_norm.0.weight", "fc_norm"]) { _ = try plan(folder) }
    }

    @Test("A flag whose weights are missing is an error naming the tensor")
    func flagWithoutWeights() throws {
        let folder = try mutatedResearch("single", config: { $0["norm_before_fc"] = true })
        expectConversionError(["input_norm.weight", "norm_before_fc"]) { _ = try plan(folder) }
    }

    @Test("Missing fc.weight or a decoder weight is an error naming it")
    func missingRequired() throws {
        let noFC = try mutatedResearch("single", tensors: { $0.removeValue(forKey: "fc.weight") })
        expectConversionError(["fc.weight", "missing"]) { _ = try plan(noFC) }
        let noQ = try mutatedResearch("single", tensors: { $0.removeValue(forKey: "midlayer.self_attn.q_proj.weight") })
        expectConversionError(["layers.0.self_attn.q_proj.weight", "missing"]) { _ = try plan(noQ) }
    }

    @Test("A tensor of the wrong shape is an error naming it and both shapes")
    func wrongShape() throws {
        let folder = try mutatedResearch("single", tensors: { $0["norm.weight"] = .floats(.f32, [63], [Float](repeating: 1, count: 63)) })
        expectConversionError(["norm.weight", "[63]", "[64]"]) { _ = try plan(folder) }
    }

    @Test("Both midlayer.X and layers.0.X is an error")
    func duplicateAfterRenaming() throws {
        let folder = try mutatedResearch("single", tensors: { tensors in
            tensors["layers.0.hidden_norm.weight"] = tensors["midlayer.hidden_norm.weight"]
        })
        expectConversionError(["hidden_norm.weight", "both become"]) { _ = try plan(folder) }
    }

    @Test("Aux layer ids: the count must match fc; without ids, fc must take 3 states")
    func auxLayerIds() throws {
        expectConversionError(["eagle_aux_hidden_state_layer_ids", "2 ids", "takes 3"]) {
            _ = try plan(Fixtures.research("single"), Eagle3ConversionOptions(auxLayerIds: [1, 2]))
        }
        let noIds = try mutatedResearch("two-aux", config: { $0.removeValue(forKey: "eagle_config") })
        expectConversionError(["eagle_aux_hidden_state_layer_ids", "takes 2"]) { _ = try plan(noIds) }
        let defaults = try mutatedResearch("single", config: { $0.removeValue(forKey: "eagle_config") })
        expectConversionError(["eagle_aux_hidden_state_layer_ids", "--algorithm-kwargs"]) { _ = try plan(defaults) }
        expectConversionError(["eagle_aux_hidden_state_layer_ids"]) {
            _ = try plan(Fixtures.research("single"), Eagle3ConversionOptions(auxLayerIds: [1, 2, 9]))
        }
    }

    @Test("Options override the source's ids and norm_before_residual, with a note")
    func optionsOverrideSource() throws {
        let result = try plan(Fixtures.research("single"), Eagle3ConversionOptions(normBeforeResidual: false, auxLayerIds: [0, 2, 4]))
        #expect(result.config.normBeforeResidual == false)
        #expect(result.config.eagleAuxHiddenStateLayerIds == [0, 2, 4])
        #expect(result.notes.contains { $0.contains("norm_before_residual") })
        #expect(result.notes.contains { $0.contains("eagle_aux_hidden_state_layer_ids") })
        // Upstream ignores the source's norm_before_residual; this converter reads it.
        #expect(try plan(Fixtures.research("single")).config.normBeforeResidual == true)
    }

    @Test("t2d must cover the verifier vocabulary")
    func t2dLength() throws {
        let folder = try mutatedResearch("single", tensors: { tensors in
            guard case let .bool(_, mask)? = tensors["t2d"] else { return }
            tensors["t2d"] = .bool([mask.count + 1], mask + [false])
        })
        expectConversionError(["t2d", "385", "384"]) { _ = try plan(folder) }
    }

    @Test("A missing t2d is derived from d2t, a missing d2t from t2d, and both load to the same draft")
    func derivedMaps() throws {
        let verifierModel = try #require(Fixtures.verifier)
        let reference = try draftLogits(try #require(try SpeculatorModelRegistry.load(folder: Fixtures.reference("single"),
                                                                                      verifier: verifierModel).eagle3), verifier: verifierModel)
        for drop in ["t2d", "d2t"] {
            let folder = try mutatedResearch("single", tensors: { $0.removeValue(forKey: drop) })
            let output = try Fixtures.scratch()
            let result = try Eagle3Converter.convert(source: folder, output: output, verifier: verifier)
            #expect(result.notes.contains { $0.contains("\(drop) was derived") })
            let original = try readTensors(Fixtures.research("single").appendingPathComponent("model.safetensors"))
            let written = try readTensors(output.appendingPathComponent("model.safetensors"))
            switch (original[drop], written[drop]) {
            case let (.bool(_, a)?, .bool(_, b)?): #expect(a == b)
            case let (.int64(_, a)?, .int64(_, b)?): #expect(a == b)
            default: Issue.record("\(drop) was not written with its original type")
            }
            let draft = try #require(try SpeculatorModelRegistry.load(folder: output, verifier: verifierModel).eagle3)
            expectIdentical(try draftLogits(draft, verifier: verifierModel), reference, "without \(drop)")
        }
    }

    @Test("Inconsistent d2t and t2d, or a reduced vocabulary without maps, are errors")
    func badMaps() throws {
        let shifted = try mutatedResearch("single", tensors: { tensors in
            guard case let .int64(shape, offsets)? = tensors["d2t"] else { return }
            var changed = offsets
            changed[95] += 1
            tensors["d2t"] = .int64(shape, changed)
        })
        expectConversionError(["t2d", "d2t"]) { _ = try plan(shifted) }
        let none = try mutatedResearch("single", tensors: { $0.removeValue(forKey: "d2t"); $0.removeValue(forKey: "t2d") })
        expectConversionError(["d2t", "96", "384"]) { _ = try plan(none) }
    }

    @Test("The source hidden size must equal the verifier's")
    func hiddenSizeMismatch() throws {
        var other = verifier
        other.hiddenSize = 128
        expectConversionError(["hidden_size", "128"]) {
            _ = try Eagle3Converter.plan(source: Fixtures.research("single"), verifier: other)
        }
    }

    @Test("A NaN in a source tensor stops the write, naming the tensor")
    func nonFinite() throws {
        let folder = try mutatedResearch("single", tensors: { tensors in
            guard case let .floats(type, shape, values)? = tensors["norm.weight"] else { return }
            var changed = values
            changed[3] = .nan
            tensors["norm.weight"] = .floats(type, shape, changed)
        })
        expectConversionError(["norm.weight", "non-finite"]) {
            try Eagle3Converter.convert(source: folder, output: try Fixtures.scratch(), verifier: verifier)
        }
    }

    @Test("Missing folder, missing config.json, a PyTorch pickle or no weights are clear errors")
    func sourceFiles() throws {
        expectConversionError(["checkpoint not found", "/no/such/folder"]) {
            _ = try Eagle3Converter.plan(source: URL(fileURLWithPath: "/no/such/folder"), verifier: verifier)
        }
        let empty = try Fixtures.scratch()
        expectConversionError(["config.json"]) { _ = try plan(empty) }
        try FileManager.default.copyItem(at: Fixtures.research("single").appendingPathComponent("config.json"),
                                         to: empty.appendingPathComponent("config.json"))
        expectConversionError(["no weights"]) { _ = try plan(empty) }
        try Data([0x80, 0x02]).write(to: empty.appendingPathComponent("pytorch_model.bin"))
        expectConversionError(["pytorch_model.bin", "model.safetensors"]) { _ = try plan(empty) }
        let badConfig = try mutatedResearch("single", config: { $0["hidden_size"] = "sixty-four" })
        expectConversionError(["hidden_size", "integer"]) { _ = try plan(badConfig) }
        let badDtype = try mutatedResearch("single", config: { $0["torch_dtype"] = "int8" })
        expectConversionError(["torch_dtype", "int8"]) { _ = try plan(badDtype) }
    }

    @Test("The output folder must not be the source or hold a sharded checkpoint")
    func outputFolder() throws {
        expectConversionError(["source folder"]) {
            try Eagle3Converter.convert(source: Fixtures.research("single"), output: Fixtures.research("single"), verifier: verifier)
        }
        let output = try Fixtures.scratch()
        try Data("{}".utf8).write(to: output.appendingPathComponent("model.safetensors.index.json"))
        expectConversionError(["model.safetensors.index.json"]) {
            try Eagle3Converter.convert(source: Fixtures.research("single"), output: output, verifier: verifier)
        }
    }
}
