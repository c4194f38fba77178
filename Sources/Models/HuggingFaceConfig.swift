import Foundation

extension ModelConfig {
    /// Decodes a Hugging Face `config.json` of a llama, mistral, qwen2 or qwen3 model.
    ///
    /// Both rope spellings are accepted: transformers ≥ 5 writes `rope_parameters` (which also
    /// holds `rope_theta`); older versions write `rope_theta` and `rope_scaling` at the top level.
    public init(huggingFaceConfig data: Data, source: String) throws {
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: data) } catch {
            throw ModelConfigError.unreadable(source: source, problem: "invalid JSON (\(error.localizedDescription))")
        }
        guard let json = object as? [String: Any] else {
            throw ModelConfigError.unreadable(source: source, problem: "the top level is not a JSON object")
        }
        // Multimodal wrappers keep the language model under text_config.
        let root = (json["text_config"] as? [String: Any]).map { $0.merging(["model_type": $0["model_type"] ?? json["model_type"] ?? ""]) { a, _ in a } } ?? json
        let reader = JSONFields(root, source: source)

        let typeName = try reader.string("model_type")
        guard let architecture = Architecture(rawValue: typeName) else {
            throw ModelConfigError.unsupportedArchitecture(source: source, name: typeName)
        }
        let hidden = try reader.int("hidden_size")
        let heads = try reader.int("num_attention_heads")
        let kvHeads = try reader.optionalInt("num_key_value_heads") ?? heads
        let headDim = try reader.optionalInt("head_dim") ?? (heads > 0 ? hidden / heads : 0)

        let ropeParameters = root["rope_parameters"] as? [String: Any]
        let legacyScaling = root["rope_scaling"] as? [String: Any]
        var theta = try reader.optionalFloat("rope_theta")
        if let value = ropeParameters?["rope_theta"] { theta = JSONFields.float(value) ?? theta }
        let scalingFields = ropeParameters ?? legacyScaling
        let scaling = try RopeScaling(fields: scalingFields, source: source)

        let attentionBias = try reader.optionalBool("attention_bias") ?? false
        let useSliding = try reader.optionalBool("use_sliding_window")
        var window = try reader.optionalInt("sliding_window")
        if architecture == .qwen2 || architecture == .qwen3, useSliding != true { window = nil }

        var eos: [Int] = []
        if let single = root["eos_token_id"] as? Int { eos = [single] }
        if let many = root["eos_token_id"] as? [Int] { eos = many }

        self.init(
            architecture: architecture,
            vocabSize: try reader.int("vocab_size"),
            hiddenSize: hidden,
            intermediateSize: try reader.int("intermediate_size"),
            layerCount: try reader.int("num_hidden_layers"),
            headCount: heads,
            kvHeadCount: kvHeads,
            headDim: headDim,
            rmsNormEps: try reader.optionalFloat("rms_norm_eps") ?? 1e-6,
            ropeTheta: theta ?? 10_000,
            ropeScaling: scaling,
            maxPositions: try reader.optionalInt("max_position_embeddings") ?? 2048,
            tieWordEmbeddings: try reader.optionalBool("tie_word_embeddings") ?? false,
            qkvBias: architecture == .qwen2 ? true : attentionBias,
            outputBias: architecture == .qwen2 ? false : (architecture == .qwen3 ? false : attentionBias),
            mlpBias: try reader.optionalBool("mlp_bias") ?? false,
            qkNorm: architecture == .qwen3,
            slidingWindow: window,
            bosTokenId: try reader.optionalInt("bos_token_id"),
            eosTokenIds: eos)
        if let act = root["hidden_act"] as? String, act != "silu" {
            throw ModelConfigError.invalid(source: source, key: "hidden_act", problem: "'\(act)' is not supported (only silu)")
        }
        try validate(source: source)
    }

    /// Reads `config.json` from a model folder.
    public init(huggingFaceFolder folder: URL) throws {
        let url = folder.appendingPathComponent("config.json")
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw ModelConfigError.unreadable(source: url.path, problem: "cannot read the file")
        }
        try self.init(huggingFaceConfig: data, source: url.path)
    }
}

extension RopeScaling {
    /// Parses a `rope_scaling` or `rope_parameters` object (nil means no scaling).
    init(fields: [String: Any]?, source: String) throws {
        guard let fields else { self = .none; return }
        let type = (fields["rope_type"] as? String) ?? (fields["type"] as? String) ?? "default"
        func number(_ key: String) throws -> Float {
            guard let value = fields[key].flatMap(JSONFields.float) else {
                throw ModelConfigError.missing(source: source, key: "rope_parameters.\(key)")
            }
            return value
        }
        switch type {
        case "default": self = .none
        case "linear": self = .linear(factor: try number("factor"))
        case "llama3":
            self = .llama3(factor: try number("factor"), lowFrequencyFactor: try number("low_freq_factor"),
                           highFrequencyFactor: try number("high_freq_factor"),
                           originalMaxPositions: Int(try number("original_max_position_embeddings")))
        default:
            throw ModelConfigError.invalid(source: source, key: "rope_parameters.rope_type",
                                           problem: "'\(type)' is not supported (default, linear, llama3)")
        }
    }
}

/// Typed access to a JSON object with errors that name the key.
struct JSONFields {
    let object: [String: Any]
    let source: String
    init(_ object: [String: Any], source: String) { self.object = object; self.source = source }

    /// JSONSerialization hands back booleans as NSNumbers too; they are told apart by type code.
    static func isBool(_ value: Any) -> Bool {
        guard let number = value as? NSNumber else { return false }
        return String(cString: number.objCType) == "c"
    }

    static func float(_ value: Any) -> Float? {
        if let number = value as? NSNumber, !isBool(value) { return number.floatValue }
        return nil
    }

    func string(_ key: String) throws -> String {
        guard let value = object[key] else { throw ModelConfigError.missing(source: source, key: key) }
        guard let text = value as? String else {
            throw ModelConfigError.invalid(source: source, key: key, problem: "must be a string")
        }
        return text
    }

    func int(_ key: String) throws -> Int {
        guard let value = try optionalInt(key) else { throw ModelConfigError.missing(source: source, key: key) }
        return value
    }

    func optionalInt(_ key: String) throws -> Int? {
        guard let value = object[key], !(value is NSNull) else { return nil }
        if let number = value as? NSNumber, !JSONFields.isBool(value) {
            let double = number.doubleValue
            if double == double.rounded(), abs(double) < 1e15 { return Int(double) }
        }
        throw ModelConfigError.invalid(source: source, key: key, problem: "must be an integer, got \(value)")
    }

    func optionalFloat(_ key: String) throws -> Float? {
        guard let value = object[key], !(value is NSNull) else { return nil }
        guard let number = JSONFields.float(value) else {
            throw ModelConfigError.invalid(source: source, key: key, problem: "must be a number, got \(value)")
        }
        return number
    }

    func optionalBool(_ key: String) throws -> Bool? {
        guard let value = object[key], !(value is NSNull) else { return nil }
        guard JSONFields.isBool(value), let flag = value as? Bool else {
            throw ModelConfigError.invalid(source: source, key: key, problem: "must be true or false, got \(value)")
        }
        return flag
    }
}
