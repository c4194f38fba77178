import Configs
import Conversion
import Foundation
import Models
import Testing

@Suite("--algorithm-kwargs, --dtype, --algorithm and the verifier summary behind `speculators convert`")
struct OptionsAndCLITests {
    @Test("--algorithm-kwargs is parsed with types checked")
    func kwargs() throws {
        let options = try Eagle3ConversionOptions(algorithmKwargs:
            #"{"norm_before_residual": true, "norm_output": true, "eagle_aux_hidden_state_layer_ids": [1, 23, 44], "cache_dir": "/tmp"}"#)
        #expect(options == Eagle3ConversionOptions(normBeforeResidual: true, normOutput: true, auxLayerIds: [1, 23, 44]))
        #expect(try Eagle3ConversionOptions(algorithmKwargs: "{}") == Eagle3ConversionOptions())
    }

    @Test("--algorithm-kwargs errors: not an object, unknown key, wrong types, bad JSON",
          arguments: [
            (#"[1, 2]"#, "must be a JSON object, not array"),
            (#"{"x": 1}"#, "'x' is not an eagle3 converter option"),
            (#"{"fc_norm": "maybe"}"#, "'fc_norm' must be true or false"),
            (#"{"eagle_aux_hidden_state_layer_ids": [1, "two"]}"#, "'eagle_aux_hidden_state_layer_ids' must be a list of integers"),
            (#"{"norm_output": tru"#, "not valid JSON"),
          ])
    func kwargsErrors(text: String, fragment: String) {
        expectConversionError([fragment]) { _ = try Eagle3ConversionOptions(algorithmKwargs: text) }
    }

    @Test("Exit path 0: convert through the dispatcher writes config.json and model.safetensors")
    func dispatcherSucceeds() throws {
        let output = try Fixtures.scratch()
        let plan = try SpeculatorConverter.convert(model: Fixtures.research("single").path, verifier: try Fixtures.verifierSummary(),
                                                   algorithm: "eagle3", outputPath: output.path,
                                                   algorithmKwargs: #"{"norm_output": false}"#, dtype: "bfloat16")
        #expect(plan.floatType == .bf16)
        #expect(FileManager.default.fileExists(atPath: output.appendingPathComponent("config.json").path))
        #expect(FileManager.default.fileExists(atPath: output.appendingPathComponent("model.safetensors").path))
        let verifier = try SpeculatorConverter.loadVerifierModel(path: Fixtures.verifierFolder.path)
        let draft = try Eagle3Converter.validate(output: output, verifier: verifier)
        #expect(draft.config.layer.layerCount == 1)
    }

    @Test("Exit path 1: unsupported algorithms, bad --dtype, bad kwargs, missing verifier")
    func dispatcherFails() throws {
        let summary = try Fixtures.verifierSummary()
        let source = Fixtures.research("single").path
        for algorithm in ["eagle", "medusa"] {
            expectConversionError(["unsupported algorithm '\(algorithm)'", "eagle3", "mtp", "dflash"]) {
                try SpeculatorConverter.convert(model: source, verifier: summary, algorithm: algorithm, outputPath: try Fixtures.scratch().path)
            }
        }
        expectConversionError(["--dtype", "int4"]) {
            try SpeculatorConverter.convert(model: source, verifier: summary, algorithm: "eagle3",
                                            outputPath: try Fixtures.scratch().path, dtype: "int4")
        }
        expectConversionError(["--algorithm-kwargs"]) {
            try SpeculatorConverter.convert(model: source, verifier: summary, algorithm: "eagle3",
                                            outputPath: try Fixtures.scratch().path, algorithmKwargs: "3")
        }
        expectConversionError(["verifier not found"]) { _ = try VerifierSummary(path: "/no/such/verifier") }
    }

    @Test("Validation fails, naming the problem, when the converted folder does not fit the verifier")
    func validationFails() throws {
        let output = try Fixtures.scratch()
        try Eagle3Converter.convert(source: Fixtures.research("single"), output: output, verifier: try Fixtures.verifierSummary())
        let tensors = try readTensors(output.appendingPathComponent("model.safetensors"))
        var broken = tensors
        broken.removeValue(forKey: "norm.weight")
        try writeTensors(broken, to: output.appendingPathComponent("model.safetensors"))
        let verifier = try #require(Fixtures.verifier)
        expectConversionError(["norm.weight", "missing"]) { _ = try Eagle3Converter.validate(output: output, verifier: verifier) }
    }

    @Test("Verifier summary: architectures, vocab found depth-first, text_config sizes, recorded name verbatim")
    func verifierSummary() throws {
        let summary = try VerifierSummary(path: Fixtures.verifierFolder.path)
        #expect(summary.nameOrPath == Fixtures.verifierFolder.path)
        #expect(summary.architectures == ["LlamaForCausalLM"])
        #expect(summary.vocabSize == 384 && summary.hiddenSize == 64 && summary.layerCount == 4 && summary.maxPositionEmbeddings == 256)
        let multimodal: JSONObject = ["architectures": ["Some"], "vision_config": ["hidden_size": 32],
                                      "text_config": ["vocab_size": 1000, "hidden_size": 128, "num_hidden_layers": 36]]
        let nested = VerifierSummary(huggingFace: multimodal, nameOrPath: "org/model")
        #expect(nested.vocabSize == 1000 && nested.hiddenSize == 128 && nested.layerCount == 36)
        #expect(nested.maxPositionEmbeddings == nil)
        #expect(VerifierSummary(huggingFace: [:], nameOrPath: "x").architectures == ["LlamaForCausalLM"])
    }

    @Test("max_position_embeddings is the larger of the source's and the verifier's")
    func maxPositions() throws {
        var summary = try Fixtures.verifierSummary()
        summary.maxPositionEmbeddings = 8192
        let plan = try Eagle3Converter.plan(source: Fixtures.research("single"), verifier: summary)
        #expect(plan.config.transformerLayerConfig.maxPositionEmbeddings == 8192)
    }

    @Test("A GGUF verifier is summarised from its metadata (skipped without the SmolLM2 model)",
          .enabled(if: FileManager.default.fileExists(atPath: smolLM2Path)))
    func ggufVerifier() throws {
        let summary = try VerifierSummary(path: smolLM2Path, recordedName: "HuggingFaceTB/SmolLM2-135M-Instruct")
        #expect(summary.architectures == ["LlamaForCausalLM"])
        #expect(summary.vocabSize == 49152 && summary.hiddenSize == 576 && summary.layerCount == 30)
        #expect(summary.nameOrPath == "HuggingFaceTB/SmolLM2-135M-Instruct")
    }
}

/// models/SmolLM2-135M-Instruct.Q4_1.gguf relative to the package root (fetched by `make models`).
let smolLM2Path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf").path
