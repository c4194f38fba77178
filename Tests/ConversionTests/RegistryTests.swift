import Checkpoints
import Configs
import Foundation
import Models
import Testing

/// A copy of a reference draft with its tensors and config edited.
func mutatedReference(_ variant: String, tensors edit: (inout [String: StoredTensor]) -> Void = { _ in },
                      config editConfig: (inout [String: Any]) -> Void = { _ in }) throws -> URL {
    let folder = try Fixtures.scratch("reference-\(variant)")
    var tensors = try readTensors(Fixtures.reference(variant).appendingPathComponent("model.safetensors"))
    edit(&tensors)
    try writeTensors(tensors, to: folder.appendingPathComponent("model.safetensors"))
    let data = try Data(contentsOf: Fixtures.reference(variant).appendingPathComponent("config.json"))
    var config = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    editConfig(&config)
    try JSONSerialization.data(withJSONObject: config, options: [.sortedKeys]).write(to: folder.appendingPathComponent("config.json"))
    return folder
}

@Suite("Speculator model registry: speculators_model_type picks the model; tensors are checked against the config")
struct RegistryTests {
    let verifier: TransformerModel
    init() throws { verifier = try #require(Fixtures.verifier) }

    func load(_ folder: URL) throws -> SpeculatorModelRegistry.Model {
        try SpeculatorModelRegistry.load(folder: folder, verifier: verifier)
    }

    @Test("eagle3 loads an Eagle3DraftModel; a missing embed_tokens comes from the verifier")
    func eagle3() throws {
        let draft = try #require(try load(Fixtures.reference("two-layers")).eagle3)
        #expect(draft.layers.count == 2)
        #expect(draft.embedding.array == verifier.embedding.array)
        #expect(SpeculatorModelRegistry.servableTypes == ["eagle3"])
    }

    @Test("Another registered type is a clear 'not servable' error listing what is", arguments: ["dflash", "mtp", "peagle"])
    func notServable(type: String) throws {
        let folder = try mutatedReference("single", config: { config in
            config["speculators_model_type"] = type
            if type == "mtp" {
                config["num_nextn_predict_layers"] = 1
                // MTP derives its vocabulary; the library refuses a config that sets it.
                config.removeValue(forKey: "draft_vocab_size")
            }
        })
        #expect(throws: SpeculatorModelError.notServable(source: folder.path, type: type, servable: ["eagle3"])) {
            _ = try load(folder)
        }
        let message = SpeculatorModelError.notServable(source: "x", type: type, servable: ["eagle3"]).description
        #expect(message.contains("'\(type)'") && message.contains("'eagle3'"))
    }

    @Test("Validation finds from the headers alone what loading would refuse in a folder's checkpoint (rule checkpoint)")
    func checkpointProblems() throws {
        func problem(_ folder: URL) throws -> String? {
            let config = try SpeculatorModelConfig.load(from: folder.path)
            return SpeculatorModelRegistry.checkpointProblem(folder: folder, config: config, verifierLayerCount: nil)
        }
        #expect(try problem(Fixtures.reference("single")) == nil)
        #expect(try problem(Fixtures.reference("two-layers")) == nil)
        let wide = try mutatedReference("single", tensors: { $0["fc.weight"] = .floats(.f32, [64, 128], [Float](repeating: 0, count: 64 * 128)) })
        let message = try #require(try problem(wide))
        #expect(message.contains("fc.weight") && message.contains("[64, 192]"), "\(message)")
        let noNorm = try mutatedReference("single", tensors: { $0.removeValue(forKey: "layers.0.hidden_norm.weight") })
        #expect(try problem(noNorm)?.contains("layers.0.hidden_norm.weight") == true)
        // A config without weights is a config to validate, not a broken checkpoint.
        let bare = try Fixtures.scratch("config-only")
        try FileManager.default.copyItem(at: wide.appendingPathComponent("config.json"), to: bare.appendingPathComponent("config.json"))
        #expect(try problem(bare) == nil)
        // The report the CLI and the registry build from it.
        var report = SpeculatorConfigValidator.validate(path: wide.path)
        #expect(report.isValid)
        report.add(.error(.checkpoint, at: .root, value: nil, message))
        #expect(!report.isValid && report.config == nil && report.errors.map(\.rule) == [.checkpoint])
    }

    @Test("Unknown or missing speculators_model_type is the Configs registry's error")
    func unknownType() throws {
        let unknown = try mutatedReference("single", config: { $0["speculators_model_type"] = "medusa" })
        do {
            _ = try load(unknown)
            Issue.record("expected a ConfigError")
        } catch let error as ConfigError {
            #expect(error.description.contains("medusa") && error.description.contains("eagle3"))
        }
        let missing = try mutatedReference("single", config: { $0.removeValue(forKey: "speculators_model_type") })
        #expect(throws: ConfigError.self) { _ = try load(missing) }
    }

    @Test("An external research or DFlash folder is an error saying which conversion to run")
    func externalFormats() throws {
        #expect(throws: SpeculatorModelError.needsConversion(source: Fixtures.research("single").path, algorithm: "eagle3")) {
            _ = try load(Fixtures.research("single"))
        }
        let dflash = Fixtures.root.appendingPathComponent("dflash/source/qwen3")
        #expect(throws: SpeculatorModelError.needsConversion(source: dflash.path, algorithm: "dflash")) { _ = try load(dflash) }
        #expect(SpeculatorModelError.needsConversion(source: "x", algorithm: "dflash").description.contains("speculators convert x"))
    }

    @Test("A tensor the config has no place for is an error naming it, with a hint")
    func unplaced() throws {
        let extraLayer = try mutatedReference("two-layers", config: { config in
            var layer = config["transformer_layer_config"] as? [String: Any] ?? [:]
            layer["num_hidden_layers"] = 1
            config["transformer_layer_config"] = layer
        })
        do {
            _ = try load(extraLayer)
            Issue.record("expected unplaced tensors")
        } catch let SpeculatorModelError.unplacedTensors(_, names, hint) {
            #expect(names.count == 9 && names.allSatisfy { $0.hasPrefix("layers.1.") })
            #expect(hint.contains("num_hidden_layers"))
        }
        let stray = try mutatedReference("norm-before-fc", config: { $0["norm_before_fc"] = false })
        #expect(throws: SpeculatorModelError.unplacedTensors(source: stray.appendingPathComponent("model.safetensors").path,
                                                             names: ["input_norm.weight"], hint: "input_norm.weight needs norm_before_fc: true")) {
            _ = try load(stray)
        }
    }

    @Test("Missing required tensors, wrong shapes and wrong element types are errors naming the tensor")
    func checks() throws {
        let file = { (folder: URL) in folder.appendingPathComponent("model.safetensors").path }
        let noHiddenNorm = try mutatedReference("single", tensors: { $0.removeValue(forKey: "layers.0.hidden_norm.weight") })
        #expect(throws: SpeculatorModelError.missingTensor(source: file(noHiddenNorm), name: "layers.0.hidden_norm.weight",
                                                          why: "num_hidden_layers is 1")) { _ = try load(noHiddenNorm) }
        let noFCNorm = try mutatedReference("fc-norm", tensors: { $0.removeValue(forKey: "fc_norm.2.weight") })
        #expect(throws: SpeculatorModelError.missingTensor(source: file(noFCNorm), name: "fc_norm.2.weight", why: "fc_norm is true")) {
            _ = try load(noFCNorm)
        }
        let noD2T = try mutatedReference("single", tensors: { $0.removeValue(forKey: "d2t") })
        #expect(throws: SpeculatorModelError.missingTensor(source: file(noD2T), name: "d2t",
                                                          why: "draft_vocab_size 96 differs from vocab_size 384")) { _ = try load(noD2T) }
        let wide = try mutatedReference("single", tensors: { $0["fc.weight"] = .floats(.f32, [64, 128], [Float](repeating: 0, count: 64 * 128)) })
        #expect(throws: CheckpointError.shapeMismatch(file: file(wide), tensor: "fc.weight", expected: [64, 192], actual: [64, 128])) {
            _ = try load(wide)
        }
        let intMask = try mutatedReference("single", tensors: { tensors in
            guard case let .bool(shape, mask)? = tensors["t2d"] else { return }
            tensors["t2d"] = .int64(shape, mask.map { $0 ? 1 : 0 })
        })
        #expect(throws: CheckpointError.wrongDataType(file: file(intMask), tensor: "t2d", dataType: .i64, wanted: "BOOL")) {
            _ = try load(intMask)
        }
    }

    @Test("The manifest follows the config: qwen3 q/k norms, biases, fc width from the aux ids")
    func manifest() throws {
        let shape = ModelConfig(architecture: .qwen3, vocabSize: 100, hiddenSize: 8, intermediateSize: 16, layerCount: 2,
                                headCount: 2, kvHeadCount: 1, headDim: 4, rmsNormEps: 1e-6, ropeTheta: 10000,
                                ropeScaling: .none, maxPositions: 64, tieWordEmbeddings: false, qkvBias: true,
                                outputBias: false, mlpBias: false, qkNorm: true, slidingWindow: nil)
        let config = Eagle3DraftConfig(layer: shape, draftVocabSize: 100, auxiliaryLayerIds: [1, 2], fcNorm: true)
        let byName = Dictionary(uniqueKeysWithValues: config.tensorManifest.map { ($0.name, $0) })
        #expect(byName["fc.weight"]?.shape == [8, 16])
        #expect(byName["fc_norm.1.weight"]?.shape == [8] && byName["fc_norm.2.weight"] == nil)
        #expect(byName["layers.0.self_attn.q_proj.weight"]?.shape == [8, 16])
        #expect(byName["layers.1.self_attn.q_proj.weight"]?.shape == [8, 8])
        #expect(byName["layers.1.self_attn.k_norm.weight"]?.shape == [4])
        #expect(byName["layers.0.self_attn.v_proj.bias"]?.shape == [4])
        #expect(byName["layers.0.self_attn.o_proj.bias"] == nil && byName["layers.1.hidden_norm.weight"] == nil)
        #expect(byName["d2t"]?.presence == .optional("identity mapping"))
    }
}
