import Checkpoints
import Conversion
import Foundation
import Models
import Testing

/// The package root, located from this file.
private let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()
private let referenceDraft = packageRoot.appendingPathComponent("assets/drafts/smollm2-135m-eagle3-ref")

@Suite("A real-size draft: the SmolLM2 reference EAGLE-3 draft in research layout converts back to the same model",
       .enabled(if: FileManager.default.fileExists(atPath: smolLM2Path),
                "needs models/SmolLM2-135M-Instruct.Q4_1.gguf (make models)"))
struct SmolLM2ConversionTests {
    @Test("bf16 research checkpoint → speculators format: identical draft logits on the GGUF verifier, config keeps the shape")
    func roundTrip() throws {
        // The research layout of the reference draft: midlayer.* names, a Llama-style config.
        let research = try Fixtures.scratch("smollm2-research")
        var tensors: [String: StoredTensor] = [:]
        for (name, tensor) in try readTensors(referenceDraft.appendingPathComponent("model.safetensors")) {
            tensors[name.hasPrefix("layers.0.") ? "midlayer." + name.dropFirst("layers.0.".count) : name] = tensor
        }
        try writeTensors(tensors, to: research.appendingPathComponent("model.safetensors"))
        let config: [String: Any] = [
            "architectures": ["LlamaForCausalLMEagle3"], "model_type": "llama", "hidden_size": 576, "intermediate_size": 1536,
            "num_attention_heads": 9, "num_key_value_heads": 3, "head_dim": 64, "num_hidden_layers": 1,
            "max_position_embeddings": 2048, "rms_norm_eps": 1e-5, "rope_theta": 100000.0, "draft_vocab_size": 8192,
            "torch_dtype": "bfloat16", "norm_before_residual": true, "vocab_size": 49152,
            "eagle_config": ["eagle_aux_hidden_state_layer_ids": [2, 15, 27]],
        ]
        try JSONSerialization.data(withJSONObject: config).write(to: research.appendingPathComponent("config.json"))

        let summary = try VerifierSummary(path: smolLM2Path, recordedName: "HuggingFaceTB/SmolLM2-135M-Instruct")
        let output = try Fixtures.scratch("smollm2-converted")
        let start = Date()
        let plan = try Eagle3Converter.convert(source: research, output: output, verifier: summary)
        let seconds = Date().timeIntervalSince(start)
        print("SmolLM2 draft: converted \(plan.entries.count) tensors in \(String(format: "%.2f", seconds)) s")
        #expect(plan.floatType == .bf16)
        #expect(plan.config.transformerLayerConfig.maxPositionEmbeddings == 8192, "max(source 2048, verifier 8192)")

        let verifier = try TransformerModel.load(gguf: try GGUFFile(url: URL(fileURLWithPath: smolLM2Path)))
        let converted = try #require(try SpeculatorModelRegistry.load(folder: output, verifier: verifier).eagle3)
        let reference = try #require(try SpeculatorModelRegistry.load(folder: referenceDraft, verifier: verifier).eagle3)
        #expect(converted.config.auxiliaryLayerIds == [2, 15, 27] && converted.config.normBeforeResidual)
        expectIdentical(try draftLogits(converted, verifier: verifier), try draftLogits(reference, verifier: verifier),
                        "SmolLM2 draft logits")
    }
}
