import Foundation

extension Eagle3DraftConfig {
    /// Reads the numbers the draft needs from a speculators `config.json`.
    ///
    /// `verifierLayerCount` resolves a null `eagle_aux_hidden_state_layer_ids` to the library
    /// default `[2, N/2, N-3]`.
    public init(speculatorsConfig data: Data, source: String, verifierLayerCount: Int) throws {
        guard let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw ModelConfigError.unreadable(source: source, problem: "not a JSON object")
        }
        guard let layerObject = json["transformer_layer_config"] as? [String: Any] else {
            throw ModelConfigError.missing(source: source, key: "transformer_layer_config")
        }
        var layerJSON = layerObject
        // The library parses a layer config without model_type as qwen3 (see the config fixtures).
        if layerJSON["model_type"] == nil { layerJSON["model_type"] = "qwen3" }
        let layerData = try JSONSerialization.data(withJSONObject: layerJSON)
        let layer = try ModelConfig(huggingFaceConfig: layerData, source: source + " (transformer_layer_config)")
        let fields = JSONFields(json, source: source)
        var aux = json["eagle_aux_hidden_state_layer_ids"] as? [Int] ?? []
        if aux.isEmpty {
            let n = verifierLayerCount
            aux = [2, n / 2, n - 3]
        }
        var speculativeTokens = 3
        if let speculators = json["speculators_config"] as? [String: Any],
           let methods = speculators["proposal_methods"] as? [[String: Any]] {
            let name = speculators["default_proposal_method"] as? String
            let method = methods.first { ($0["proposal_type"] as? String) == name } ?? methods.first
            if let tokens = method?["speculative_tokens"] as? Int { speculativeTokens = tokens }
        }
        self.init(layer: layer,
                  draftVocabSize: try fields.optionalInt("draft_vocab_size") ?? layer.vocabSize,
                  auxiliaryLayerIds: aux,
                  targetHiddenSize: try fields.optionalInt("target_hidden_size"),
                  normBeforeResidual: try fields.optionalBool("norm_before_residual") ?? true,
                  normBeforeFC: try fields.optionalBool("norm_before_fc") ?? false,
                  fcNorm: try fields.optionalBool("fc_norm") ?? false,
                  normOutput: try fields.optionalBool("norm_output") ?? false,
                  speculativeTokens: speculativeTokens)
    }
}
