import Foundation
import Checkpoints

extension ModelConfig {
    /// The model shape a llama-family GGUF describes (`<arch>.block_count`, `.embedding_length`, …).
    public init(gguf: GGUFFile) throws {
        let source = gguf.description
        guard let name = gguf.architecture else {
            throw ModelConfigError.missing(source: source, key: "general.architecture")
        }
        guard let architecture = Architecture(rawValue: name) else {
            throw ModelConfigError.unsupportedArchitecture(source: source, name: name)
        }
        func int(_ key: String) throws -> Int { try gguf.int("\(name).\(key)") }
        func optionalInt(_ key: String) -> Int? { gguf.ggufMetadata["\(name).\(key)"]?.intValue }
        func optionalFloat(_ key: String) -> Float? { gguf.ggufMetadata["\(name).\(key)"]?.doubleValue.map(Float.init) }
        let hidden = try int("embedding_length")
        let heads = try int("attention.head_count")
        let kvHeads = optionalInt("attention.head_count_kv") ?? heads
        let headDim = optionalInt("attention.key_length") ?? optionalInt("rope.dimension_count") ?? hidden / max(heads, 1)
        let vocab = optionalInt("vocab_size") ?? gguf.ggufMetadata["tokenizer.ggml.tokens"]?.arrayValue?.count
            ?? gguf.tensorInfo("token_embd.weight")?.shape.first ?? 0
        var scaling = RopeScaling.none
        if let type = gguf.ggufMetadata["\(name).rope.scaling.type"]?.stringValue, type == "linear",
           let factor = optionalFloat("rope.scaling.factor") {
            scaling = .linear(factor: factor)
        }
        let hasBias = gguf.tensorInfo("blk.0.attn_q.bias") != nil
        self.init(
            architecture: architecture, vocabSize: vocab, hiddenSize: hidden,
            intermediateSize: try int("feed_forward_length"), layerCount: try int("block_count"),
            headCount: heads, kvHeadCount: kvHeads, headDim: headDim,
            rmsNormEps: optionalFloat("attention.layer_norm_rms_epsilon") ?? 1e-5,
            ropeTheta: optionalFloat("rope.freq_base") ?? 10_000, ropeScaling: scaling,
            maxPositions: optionalInt("context_length") ?? 2048,
            tieWordEmbeddings: gguf.tensorInfo("output.weight") == nil,
            qkvBias: hasBias, outputBias: gguf.tensorInfo("blk.0.attn_output.bias") != nil,
            mlpBias: false, qkNorm: gguf.tensorInfo("blk.0.attn_q_norm.weight") != nil,
            slidingWindow: optionalInt("attention.sliding_window"),
            bosTokenId: gguf.ggufMetadata["tokenizer.ggml.bos_token_id"]?.intValue,
            eosTokenIds: gguf.ggufMetadata["tokenizer.ggml.eos_token_id"]?.intValue.map { [$0] } ?? [])
        try validate(source: source)
    }
}

extension TransformerModel {
    /// Loads a verifier from a GGUF file (dequantised to float32).
    public static func load(gguf: GGUFFile, blocksOnly: Bool = false) throws -> TransformerModel {
        try load(config: ModelConfig(gguf: gguf), weights: gguf.huggingFaceView(), blocksOnly: blocksOnly)
    }
}
