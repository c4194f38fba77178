/// Every tensor-name mapping the project knows, in one place.
///
/// * GGUF (llama.cpp) names ↔ Hugging Face transformers names for llama-family decoders.
/// * EAGLE-3 research checkpoints (SafeAILab layout) → speculators names.
/// * Aliases for the verifier tensors a draft model borrows.
public enum TensorNames {
    // MARK: GGUF ↔ Hugging Face

    /// Whole-model tensors: GGUF name → Hugging Face name.
    public static let ggufGlobal: [(gguf: String, huggingFace: String)] = [
        ("token_embd", "model.embed_tokens"),
        ("output_norm", "model.norm"),
        ("output", "lm_head"),
    ]

    /// Per-layer tensors: `blk.N.<gguf>` ↔ `model.layers.N.<huggingFace>`.
    public static let ggufLayer: [(gguf: String, huggingFace: String)] = [
        ("attn_q", "self_attn.q_proj"),
        ("attn_k", "self_attn.k_proj"),
        ("attn_v", "self_attn.v_proj"),
        ("attn_output", "self_attn.o_proj"),
        ("attn_q_norm", "self_attn.q_norm"),
        ("attn_k_norm", "self_attn.k_norm"),
        ("attn_norm", "input_layernorm"),
        ("ffn_norm", "post_attention_layernorm"),
        ("ffn_gate", "mlp.gate_proj"),
        ("ffn_up", "mlp.up_proj"),
        ("ffn_down", "mlp.down_proj"),
    ]

    /// Parameter suffixes carried through unchanged.
    static let suffixes = ["weight", "bias"]

    /// Architectures whose llama.cpp converter permutes the rows of attn_q / attn_k (so that GGUF's interleaved
    /// RoPE applies); the Hugging Face view undoes it. qwen2/qwen3 and others are stored unpermuted.
    public static let permutedQKArchitectures: Set<String> = ["llama", "mistral"]

    private static let globalToHF = Dictionary(uniqueKeysWithValues: ggufGlobal.map { ($0.gguf, $0.huggingFace) })
    private static let globalToGGUF = Dictionary(uniqueKeysWithValues: ggufGlobal.map { ($0.huggingFace, $0.gguf) })
    private static let layerToHF = Dictionary(uniqueKeysWithValues: ggufLayer.map { ($0.gguf, $0.huggingFace) })
    private static let layerToGGUF = Dictionary(uniqueKeysWithValues: ggufLayer.map { ($0.huggingFace, $0.gguf) })

    /// The Hugging Face name of a GGUF tensor, or nil when the table has no entry for it.
    public static func huggingFaceName(forGGUF name: String) -> String? {
        guard let (stem, suffix) = splitSuffix(name) else { return nil }
        if let mapped = globalToHF[stem] { return "\(mapped).\(suffix)" }
        let parts = stem.split(separator: ".", maxSplits: 2).map(String.init)
        guard parts.count == 3, parts[0] == "blk", let layer = Int(parts[1]), layer >= 0,
              String(layer) == parts[1], let mapped = layerToHF[parts[2]] else { return nil }
        return "model.layers.\(layer).\(mapped).\(suffix)"
    }

    /// The GGUF name of a Hugging Face tensor, or nil when the table has no entry for it.
    public static func ggufName(forHuggingFace name: String) -> String? {
        guard let (stem, suffix) = splitSuffix(name) else { return nil }
        if let mapped = globalToGGUF[stem] { return "\(mapped).\(suffix)" }
        let prefix = "model.layers."
        guard stem.hasPrefix(prefix) else { return nil }
        let rest = stem.dropFirst(prefix.count)
        guard let dot = rest.firstIndex(of: "."), let layer = Int(rest[..<dot]), layer >= 0,
              String(layer) == rest[..<dot], let mapped = layerToGGUF[String(rest[rest.index(after: dot)...])]
        else { return nil }
        return "blk.\(layer).\(mapped).\(suffix)"
    }

    private static func splitSuffix(_ name: String) -> (String, String)? {
        guard let dot = name.lastIndex(of: ".") else { return nil }
        let suffix = String(name[name.index(after: dot)...])
        guard suffixes.contains(suffix) else { return nil }
        return (String(name[..<dot]), suffix)
    }

    // MARK: EAGLE-3 research checkpoints → speculators

    /// Research checkpoints name their single decoder layer `midlayer.*`; speculators calls it `layers.0.*`.
    /// Every other name is kept as is (spec: convert.md §4.3).
    public static let eagle3ResearchPrefixes: [(research: String, speculators: String)] = [("midlayer.", "layers.0.")]

    public static func speculatorsName(forEagle3Research name: String) -> String {
        for (research, speculators) in eagle3ResearchPrefixes where name.hasPrefix(research) {
            return speculators + name.dropFirst(research.count)
        }
        return name
    }

    // MARK: native MTP heads (verifier checkpoints) → speculators `mtp`

    /// Whole-name renames of a verifier's `mtp.*` head (spec: convert.md §5.1).
    public static let mtpExact: [String: String] = [
        "mtp.fc.weight": "mtp_layers.0.input_proj.weight",
        "mtp.norm.weight": "mtp_layers.0.final_layernorm.weight",
    ]

    /// Prefix renames of a verifier's `mtp.*` head, tried in order after `mtpExact`.
    public static let mtpPrefixes: [(native: String, speculators: String)] = [
        ("mtp.pre_fc_norm_hidden.", "mtp_layers.0.hidden_layernorm."),
        ("mtp.pre_fc_norm_embedding.", "mtp_layers.0.token_layernorm."),
        ("mtp.layers.0.", "mtp_layers.0."),
    ]

    /// The speculators name of a native MTP tensor; names without a rule are kept.
    public static func speculatorsName(forMTP name: String) -> String {
        if let exact = mtpExact[name] { return exact }
        for (native, speculators) in mtpPrefixes where name.hasPrefix(native) {
            return speculators + name.dropFirst(native.count)
        }
        return name
    }

    // MARK: verifier tensors a draft borrows

    /// Names tried, in order, after exact and suffix matches, when a draft looks up a verifier tensor
    /// (spec: eagle3-model.md §2, load step 3).
    public static let verifierAliases: [String: [String]] = [
        "embed_tokens.weight": ["tok_embeddings.weight", "llm.embed.weight"],
        "lm_head.weight": ["output.weight", "llm.unembed.weight"],
        "model.norm.weight": ["norm.weight"],
    ]
}
