/// Checks shared by the draft types that map a reduced vocabulary and read verifier layers
/// (EAGLE-3, P-EAGLE, the DFlash family).
enum DraftChecks {
    /// The library accepts any integer; 0, negative, or more rows than the verifier's vocabulary
    /// cannot work (the latter fails only when `t2d`/`d2t` are loaded).
    static func draftVocabSizeRule<Root>(_ draft: KeyPath<Root, Int> & Sendable, layer: KeyPath<Root, TransformerLayerConfig> & Sendable) -> ModelRule<Root> {
        ModelRule(dependsOn: ["draft_vocab_size", "transformer_layer_config"],
                  summary: "draft_vocab_size should be between 1 and the verifier vocabulary size.") { config, path, issues in
            let size = config[keyPath: draft]
            let target = config[keyPath: layer].vocabSize
            let at = path.appending("draft_vocab_size")
            if size <= 0 {
                issues.add(.warning(.draftVocabSize, at: at, value: .int(size),
                    "draft_vocab_size \(size) gives an LM head with no rows, so the draft can propose nothing; the library accepts it, a server should not"))
            } else if size > target {
                issues.add(.warning(.draftVocabSize, at: at, value: .int(size),
                    "draft_vocab_size \(size) is larger than the verifier vocabulary (transformer_layer_config.vocab_size \(target)); loading the vocabulary maps will fail"))
            }
        }
    }

    /// `null` is resolved at load time; an empty, negative or repeated id fails at load time.
    static func auxLayerIdsRule<Root>(_ ids: KeyPath<Root, [Int]?> & Sendable, key: String) -> ModelRule<Root> {
        ModelRule(dependsOn: [key], summary: "\(key) should be distinct non-negative ids, or null to use [2, N//2, N-3].") { config, path, issues in
            let at = path.appending(key)
            guard let list = config[keyPath: ids] else {
                issues.add(.warning(.auxLayerIdsUnset, at: at, value: .null,
                    "\(key) is null: it is resolved when the model is loaded to [2, N//2, N-3] from the verifier's num_hidden_layers N; datagen must have used the same layers"))
                return
            }
            if let problem = AuxLayerIds.problem(list, verifierLayerCount: nil) {
                issues.add(.warning(.auxLayerIds, at: at, value: .array(list.map { .int($0) }),
                    "\(key) \(problem); the library accepts this config but refuses to load the model"))
            }
        }
    }
}

/// The verifier layer ids a draft reads hidden states from.
public enum AuxLayerIds {
    /// The library's default for a verifier with `n` layers: `[2, n//2, n-3]`.
    public static func defaults(verifierLayerCount n: Int) -> [Int] {
        [2, LayerConfigClass.floorDivide(n, 2), n - 3]
    }

    /// Why `ids` cannot be used (nil if they can). Without a layer count only the count-free
    /// checks are made.
    static func problem(_ ids: [Int], verifierLayerCount: Int?) -> String? {
        if ids.isEmpty { return "is empty" }
        if Set(ids).count != ids.count { return "repeats a layer id" }
        if let low = ids.min(), low < 0 { return "contains the negative id \(low)" }
        if let n = verifierLayerCount, let high = ids.max(), high > n {
            return "contains \(high), beyond the verifier's \(n) layers"
        }
        return nil
    }

    /// The library's `resolve_target_layer_ids`: the configured ids or the defaults, which must
    /// be distinct and within `[0, N]`.
    public static func resolve(_ ids: [Int]?, key: String, verifierLayerCount n: Int) throws(ConfigError) -> [Int] {
        guard n >= 0 else {
            throw ConfigError(.auxLayerIds, at: JSONPath.root.appending(key), value: nil,
                "the verifier layer count must not be negative; got \(n)")
        }
        let resolved = ids ?? defaults(verifierLayerCount: n)
        guard let problem = problem(resolved, verifierLayerCount: n) else { return resolved }
        let list = "[" + resolved.map(String.init).joined(separator: ", ") + "]"
        let message = ids == nil
            ? "Default target layer ids \(list) are invalid for a verifier with \(n) hidden layers (the list \(problem)); set \(key) explicitly"
            : "target_layer_ids must be distinct and within [0, \(n)] for a verifier with \(n) hidden layers, got \(list): the list \(problem)"
        throw ConfigError(.auxLayerIds, at: JSONPath.root.appending(key), value: ids.map { .array($0.map { .int($0) }) } ?? .null, message)
    }
}
