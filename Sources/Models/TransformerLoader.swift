import Foundation
import Checkpoints
import Tensors

extension TransformerModel {
    /// Loads a verifier from a Hugging Face folder (config.json + safetensors) or a GGUF file.
    public static func load(from url: URL) throws -> TransformerModel {
        let source = try openCheckpoint(url)
        if let view = source as? GGUFHuggingFaceView { return try load(gguf: view.gguf) }
        var isDirectory: ObjCBool = false
        let folder = FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) && isDirectory.boolValue
            ? url : url.deletingLastPathComponent()
        let config = try ModelConfig(huggingFaceFolder: folder)
        return try load(config: config, weights: source)
    }

    /// Builds the model from tensors named as Hugging Face names them. With `blocksOnly`, each
    /// layer matrix stored in blocks with an exact on-the-fly form is read as those blocks alone,
    /// never as float32 (serving a GGUF verifier: its layers take a fifth of the memory, at load
    /// too); the model then computes from them (`usesQuantizedWeights`, `hasBlocksOnlyLayers`), and
    /// the head from its blocks as well. Ignored where the blocks' kernel is not the fastest for
    /// every pass (without AVX-512): there the float32 weights stay beside the blocks.
    public static func load(config: ModelConfig, weights: TensorSource, blocksOnly: Bool = false) throws -> TransformerModel {
        let h = config.hiddenSize
        let names = HuggingFaceNames.self
        let leanLayers = blocksOnly && QuantizedWeights.fastestUpToRows == Int.max
        let embedding = try weights.loadFloat32(names.embedding, expectedShape: [config.vocabSize, h])
        var layers: [DecoderLayerWeights] = []
        for index in 0..<config.layerCount {
            let layer = names.layer(index)
            func load(_ name: String, _ shape: [Int]) throws -> Tensor {
                try weights.loadFloat32(layer + name, expectedShape: shape)
            }
            let matrices = LayerMatrices(config: config, layer: index)
            /// The fused projection of `parts` from its blocks alone, or from float32 weights.
            func linear(_ parts: [(name: String, shape: [Int])], bias: Tensor? = nil) throws -> Linear {
                if leanLayers, let blocks = try quantizedBlocks(parts, from: weights) {
                    return Linear(blocks: blocks, bias: bias)
                }
                return Linear(weight: stack(try parts.map { try weights.loadFloat32($0.name, expectedShape: $0.shape) }),
                              bias: bias)
            }
            var qkvBias: Tensor?
            if config.qkvBias {
                qkvBias = stack([try load(names.qBias, [config.qWidth]), try load(names.kBias, [config.kvWidth]),
                                 try load(names.vBias, [config.kvWidth])])
            }
            let oBias = config.outputBias ? try load(names.oBias, [h]) : nil
            if config.mlpBias {
                throw ModelConfigError.invalid(source: weights.description, key: "mlp_bias",
                                               problem: "true is not supported (no MLP biases)")
            }
            layers.append(DecoderLayerWeights(
                inputNorm: try load(names.inputNorm, [h]),
                qkv: try linear(matrices.qkv, bias: qkvBias),
                qNorm: config.qkNorm ? try load(names.qNorm, [config.headDim]) : nil,
                kNorm: config.qkNorm ? try load(names.kNorm, [config.headDim]) : nil,
                output: try linear(matrices.output, bias: oBias),
                postAttentionNorm: try load(names.postAttentionNorm, [h]),
                gateUp: try linear(matrices.gateUp),
                down: try linear(matrices.down)))
        }
        let norm = try weights.loadFloat32(names.finalNorm, expectedShape: [h])
        let head: Linear
        if weights.info(names.lmHead) != nil {
            head = Linear(weight: try weights.loadFloat32(names.lmHead, expectedShape: [config.vocabSize, h]))
        } else if config.tieWordEmbeddings {
            head = Linear(weight: embedding)
        } else {
            throw CheckpointError.missingTensor(file: weights.description, tensor: names.lmHead)
        }
        let model = TransformerModel(config: config, embedding: embedding, layers: layers, finalNorm: norm, head: head)
        if blocksOnly { try model.loadQuantizedWeights(from: weights) }
        return model
    }
}

/// The blocks of the matrices `parts` (name and expected `[rows, columns]`), stacked into one
/// fused projection, or nil unless every part is stored in a format with an exact on-the-fly
/// form and all pack to one form (Q4_1 and Q4_K do, Q4_K and Q6_K do not).
func quantizedBlocks(_ parts: [(name: String, shape: [Int])], from source: TensorSource) throws -> QuantizedWeights? {
    var found: [QuantizedWeights] = []
    for (name, shape) in parts {
        guard let blocks = try source.loadQuantized(name) else { return nil }
        guard [blocks.rows, blocks.columns] == shape else {
            throw CheckpointError.shapeMismatch(file: source.description, tensor: name, expected: shape,
                                                actual: [blocks.rows, blocks.columns])
        }
        found.append(blocks)
    }
    return found.count == 1 ? found.first : QuantizedWeights.stacking(found)
}

extension TransformerModel {
    /// Reads the matrices `source` stores in blocks with an exact on-the-fly form (a GGUF
    /// verifier's Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K or Q6_K matrices; `QuantizedWeights`) and computes
    /// float32 rows from them from now on (`useQuantizedWeights`): bit-identical results from a
    /// fifth of the bytes. A fused projection uses blocks only when all its parts pack to one form
    /// (Q4_1 and Q4_K do, Q4_K and Q6_K do not); other matrices stay float32, and matrices read
    /// as blocks alone (`load(config:weights:blocksOnly:)`) keep theirs. Returns how many
    /// matrices have blocks (0 for a safetensors checkpoint, which changes nothing).
    @discardableResult
    public func loadQuantizedWeights(from source: TensorSource) throws -> Int {
        let names = HuggingFaceNames.self
        let layerBlocks = try layers.enumerated().map { index, weights -> [QuantizedWeights?] in
            let matrices = LayerMatrices(config: config, layer: index)
            func blocks(_ linear: Linear, _ parts: [(name: String, shape: [Int])]) throws -> QuantizedWeights? {
                if let kept = linear.quantized, linear.weight == nil { return kept }
                return try quantizedBlocks(parts, from: source)
            }
            return [try blocks(weights.qkv, matrices.qkv), try blocks(weights.output, matrices.output),
                    try blocks(weights.gateUp, matrices.gateUp), try blocks(weights.down, matrices.down)]
        }
        let headName = source.contains(names.lmHead) ? names.lmHead : names.embedding
        setQuantizedBlocks(layers: layerBlocks,
                           head: try quantizedBlocks([(headName, [config.vocabSize, config.hiddenSize])], from: source))
        useQuantizedWeights(true)
        return quantizedMatrixCount
    }
}

/// The checkpoint tensors (name and `[rows, columns]`) of one layer's four products, each fused
/// projection's parts in the order they are stacked: what the float32 loader reads and what the
/// quantised blocks are looked up by.
struct LayerMatrices {
    let qkv: [(name: String, shape: [Int])]
    let output: [(name: String, shape: [Int])]
    let gateUp: [(name: String, shape: [Int])]
    let down: [(name: String, shape: [Int])]

    init(config: ModelConfig, layer index: Int) {
        let names = HuggingFaceNames.self, layer = names.layer(index)
        let h = config.hiddenSize, i = config.intermediateSize
        qkv = [(layer + names.qProj, [config.qWidth, h]), (layer + names.kProj, [config.kvWidth, h]),
               (layer + names.vProj, [config.kvWidth, h])]
        output = [(layer + names.oProj, [h, config.qWidth])]
        gateUp = [(layer + names.gateProj, [i, h]), (layer + names.upProj, [i, h])]
        down = [(layer + names.downProj, [h, i])]
    }
}

/// Concatenates tensors along their first dimension (to fuse projections).
func stack(_ parts: [Tensor]) -> Tensor {
    let columns = parts[0].count / max(parts[0].rows, 1)
    let rows = parts.reduce(0) { $0 + $1.rows }
    let result = Tensor(zeros: parts[0].shape.count == 1 ? [rows] : [rows, columns])
    var offset = 0
    for part in parts {
        (result.base + offset).update(from: part.base, count: part.count)
        offset += part.count
    }
    return result
}

/// Hugging Face tensor names of a Llama-family verifier.
enum HuggingFaceNames {
    static let embedding = "model.embed_tokens.weight"
    static let finalNorm = "model.norm.weight"
    static let lmHead = "lm_head.weight"
    static func layer(_ index: Int) -> String { "model.layers.\(index)." }
    static let inputNorm = "input_layernorm.weight"
    static let postAttentionNorm = "post_attention_layernorm.weight"
    static let qProj = "self_attn.q_proj.weight"
    static let kProj = "self_attn.k_proj.weight"
    static let vProj = "self_attn.v_proj.weight"
    static let oProj = "self_attn.o_proj.weight"
    static let qBias = "self_attn.q_proj.bias"
    static let kBias = "self_attn.k_proj.bias"
    static let vBias = "self_attn.v_proj.bias"
    static let oBias = "self_attn.o_proj.bias"
    static let qNorm = "self_attn.q_norm.weight"
    static let kNorm = "self_attn.k_norm.weight"
    static let gateProj = "mlp.gate_proj.weight"
    static let upProj = "mlp.up_proj.weight"
    static let downProj = "mlp.down_proj.weight"
}
