import Foundation

/// How rotary position frequencies are scaled (`rope_scaling` / `rope_parameters.rope_type`).
public enum RopeScaling: Sendable, Equatable {
    case none
    /// Divides every frequency by `factor` (positions interpolated linearly).
    case linear(factor: Float)
    /// Llama 3.x: low frequencies divided by `factor`, high ones kept, a smooth blend between.
    case llama3(factor: Float, lowFrequencyFactor: Float, highFrequencyFactor: Float, originalMaxPositions: Int)
}

/// The shape of a decoder-only transformer of the Llama family (llama, mistral, qwen2, qwen3).
///
/// Decoded from a Hugging Face `config.json` (either rope spelling) or from GGUF metadata, so the
/// model code never sees where it came from.
public struct ModelConfig: Sendable, Equatable {
    public enum Architecture: String, Sendable, CaseIterable {
        case llama, mistral, qwen2, qwen3
    }

    public var architecture: Architecture
    public var vocabSize: Int
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var layerCount: Int
    public var headCount: Int
    public var kvHeadCount: Int
    public var headDim: Int
    public var rmsNormEps: Float
    public var ropeTheta: Float
    public var ropeScaling: RopeScaling
    public var maxPositions: Int
    public var tieWordEmbeddings: Bool
    /// Biases on q, k and v (qwen2 always; llama/mistral/qwen3 when `attention_bias`).
    public var qkvBias: Bool
    /// A bias on the output projection (`attention_bias` on llama-style models).
    public var outputBias: Bool
    public var mlpBias: Bool
    /// Per-head RMSNorm of q and k before RoPE (qwen3).
    public var qkNorm: Bool
    /// Keys further back than this are not attended to (mistral, qwen2 with sliding windows).
    public var slidingWindow: Int?
    public var bosTokenId: Int?
    public var eosTokenIds: [Int]

    public init(architecture: Architecture, vocabSize: Int, hiddenSize: Int, intermediateSize: Int,
                layerCount: Int, headCount: Int, kvHeadCount: Int, headDim: Int, rmsNormEps: Float,
                ropeTheta: Float, ropeScaling: RopeScaling = .none, maxPositions: Int,
                tieWordEmbeddings: Bool, qkvBias: Bool = false, outputBias: Bool = false,
                mlpBias: Bool = false, qkNorm: Bool = false, slidingWindow: Int? = nil,
                bosTokenId: Int? = nil, eosTokenIds: [Int] = []) {
        self.architecture = architecture
        self.vocabSize = vocabSize
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.layerCount = layerCount
        self.headCount = headCount
        self.kvHeadCount = kvHeadCount
        self.headDim = headDim
        self.rmsNormEps = rmsNormEps
        self.ropeTheta = ropeTheta
        self.ropeScaling = ropeScaling
        self.maxPositions = maxPositions
        self.tieWordEmbeddings = tieWordEmbeddings
        self.qkvBias = qkvBias
        self.outputBias = outputBias
        self.mlpBias = mlpBias
        self.qkNorm = qkNorm
        self.slidingWindow = slidingWindow
        self.bosTokenId = bosTokenId
        self.eosTokenIds = eosTokenIds
    }

    /// Query, key and value widths of the fused projection.
    public var qWidth: Int { headCount * headDim }
    public var kvWidth: Int { kvHeadCount * headDim }

    /// The largest size, head count or layer count a config may give: products of three stay
    /// far inside `Int` (real models: vocabularies up to about 256 k, MLPs up to about 54 k).
    public static let maxDimension = 1 << 20
    /// The largest rotary table (positions × head_dim / 2; two such float tables are built):
    /// about 2 M positions at head_dim 128, twice any supported model's context.
    public static let maxRotaryTableEntries = 1 << 27

    /// Checks the relations the model code relies on.
    public func validate(source: String) throws {
        func fail(_ key: String, _ problem: String) -> ModelConfigError {
            .invalid(source: source, key: key, problem: problem)
        }
        let positive: [(String, Int)] = [("vocab_size", vocabSize), ("hidden_size", hiddenSize),
                                         ("intermediate_size", intermediateSize), ("num_hidden_layers", layerCount),
                                         ("num_attention_heads", headCount), ("num_key_value_heads", kvHeadCount),
                                         ("head_dim", headDim), ("max_position_embeddings", maxPositions)]
        for (key, value) in positive where value <= 0 { throw fail(key, "must be positive, got \(value)") }
        // What loading allocates from the config alone must stay finite: a corrupt or hostile
        // file gets an error here, not an allocation or an overflowing product that ends the
        // process (the GGUF fuzzer found a `block_count` of 352,327,425).
        for (key, value) in positive where key != "max_position_embeddings" && value > Self.maxDimension {
            throw fail(key, "\(value) is beyond any model this engine loads (at most \(Self.maxDimension))")
        }
        let (tableEntries, overflow) = maxPositions.multipliedReportingOverflow(by: headDim / 2)
        if overflow || tableEntries > Self.maxRotaryTableEntries {
            throw fail("max_position_embeddings", "\(maxPositions) positions need rotary tables of \(maxPositions) × \(headDim / 2) "
                + "entries, more than the \(Self.maxRotaryTableEntries) this engine holds")
        }
        if headCount % kvHeadCount != 0 {
            throw fail("num_key_value_heads", "\(kvHeadCount) does not divide num_attention_heads \(headCount)")
        }
        if headDim % 2 != 0 { throw fail("head_dim", "must be even for rotary embeddings, got \(headDim)") }
        if !(rmsNormEps > 0) { throw fail("rms_norm_eps", "must be positive, got \(rmsNormEps)") }
        if !(ropeTheta > 0) { throw fail("rope_theta", "must be positive, got \(ropeTheta)") }
        if let slidingWindow, slidingWindow <= 0 { throw fail("sliding_window", "must be positive, got \(slidingWindow)") }
    }
}

public enum ModelConfigError: Error, CustomStringConvertible, Equatable {
    case unreadable(source: String, problem: String)
    case missing(source: String, key: String)
    case invalid(source: String, key: String, problem: String)
    case unsupportedArchitecture(source: String, name: String)

    public var description: String {
        switch self {
        case let .unreadable(source, problem): return "\(source): cannot read the model config: \(problem)"
        case let .missing(source, key): return "\(source): missing required key '\(key)'"
        case let .invalid(source, key, problem): return "\(source): '\(key)' \(problem)"
        case let .unsupportedArchitecture(source, name):
            let known = ModelConfig.Architecture.allCases.map(\.rawValue).joined(separator: ", ")
            return "\(source): unsupported model_type '\(name)' (supported: \(known))"
        }
    }
}
