import Foundation
import Checkpoints
import Models
import Tokenizers

/// A verifier with its tokenizer and chat template, loaded from a Hugging Face folder or a GGUF file.
public final class ModelBundle: @unchecked Sendable {
    /// The name clients use for the model (`model` in requests, `/v1/models`).
    public let name: String
    public let path: URL
    public let verifier: TransformerModel
    public let tokenizer: Tokenizer
    public let chatTemplate: ChatTemplate?
    /// Why there is no chat template, when there is none.
    public let chatTemplateProblem: String?
    public let eosTokenIds: Set<Int>

    public init(name: String, path: URL, verifier: TransformerModel, tokenizer: Tokenizer) {
        self.name = name
        self.path = path
        self.verifier = verifier
        self.tokenizer = tokenizer
        let codec = PromptCodec(tokenizer: tokenizer)
        chatTemplate = codec.chatTemplate
        chatTemplateProblem = codec.chatTemplateProblem
        eosTokenIds = tokenizer.eosTokenIds.union(verifier.config.eosTokenIds)
    }

    /// The tokenizer and chat template, as `PromptCodec.load` gives them without the weights.
    public var codec: PromptCodec { PromptCodec(tokenizer: tokenizer, chatTemplate: chatTemplate, problem: chatTemplateProblem) }

    /// Loads `path`: a `.gguf` file or a folder with config.json, safetensors and tokenizer.json.
    /// `weights` says whether the verifier computes from the matrices the file keeps in blocks
    /// with an exact on-the-fly form (`QuantizedWeights.Format`; `TransformerModel.loadQuantizedWeights`):
    /// `.quantized` fails on a checkpoint without any, `.automatic` then stays float32. With
    /// `blocksOnly`, those layer matrices are read as blocks alone, never as float32
    /// (`TransformerModel.load(config:weights:blocksOnly:)`): serving needs only the blocks;
    /// benchmarks, which compare both forms, keep both.
    public static func load(path: URL, name: String? = nil, weights: VerifierWeights = .float32,
                            blocksOnly: Bool = false) throws -> ModelBundle {
        let servedName = name ?? path.deletingPathExtension().lastPathComponent
        let source = try openCheckpoint(path)
        let blocksOnly = weights != .float32 && blocksOnly
        let verifier: TransformerModel
        let tokenizer: Tokenizer
        if let gguf = (source as? GGUFHuggingFaceView)?.gguf {
            verifier = try TransformerModel.load(gguf: gguf, blocksOnly: blocksOnly)
            tokenizer = try PromptCodec.tokenizer(gguf: gguf)
        } else {
            verifier = try TransformerModel.load(config: ModelConfig(huggingFaceFolder: path), weights: source,
                                                 blocksOnly: blocksOnly)
            tokenizer = try Tokenizer(folder: path)
        }
        if weights != .float32 {
            let matrices = blocksOnly ? verifier.quantizedMatrixCount : try verifier.loadQuantizedWeights(from: source)
            if matrices == 0, weights == .quantized { throw QuantizedWeightsUnavailable(checkpoint: source.description) }
        }
        return ModelBundle(name: servedName, path: path, verifier: verifier, tokenizer: tokenizer)
    }

    /// Reads the verifier's quantised blocks from the checkpoint again and computes from them
    /// (`TransformerModel.loadQuantizedWeights`); returns how many matrices have them.
    @discardableResult
    public func loadQuantizedWeights() throws -> Int {
        if verifier.quantizedMatrixCount > 0 {
            verifier.useQuantizedWeights(true)
            return verifier.quantizedMatrixCount
        }
        return try verifier.loadQuantizedWeights(from: openCheckpoint(path))
    }

    /// A detokenizer for one request's output (special tokens such as EOS are left out unless asked).
    public func textStream(skipSpecialTokens: Bool = true) -> any TextStream {
        DetokenizerStream(detokenizer: StreamingDetokenizer(tokenizer: tokenizer, skipSpecialTokens: skipSpecialTokens))
    }
}

/// A model's tokenizer and chat template: all that turning text into prompt ids needs.
public struct PromptCodec {
    public let tokenizer: Tokenizer
    public let chatTemplate: ChatTemplate?
    /// Why there is no chat template, when there is none.
    public let chatTemplateProblem: String?

    init(tokenizer: Tokenizer, chatTemplate: ChatTemplate?, problem: String?) {
        self.tokenizer = tokenizer
        self.chatTemplate = chatTemplate
        chatTemplateProblem = problem
    }

    /// The tokenizer's own chat template, compiled (or why it cannot be).
    public init(tokenizer: Tokenizer) {
        guard let source = tokenizer.chatTemplateSource else {
            self.init(tokenizer: tokenizer, chatTemplate: nil, problem: "the model has no chat template")
            return
        }
        do {
            let template = try ChatTemplate(source, bosToken: tokenizer.bosTokenId.flatMap { tokenizer.token(forId: $0) })
            self.init(tokenizer: tokenizer, chatTemplate: template, problem: nil)
        } catch {
            self.init(tokenizer: tokenizer, chatTemplate: nil, problem: "\(error)")
        }
    }

    /// The tokenizer of a `.gguf` file (its metadata) or a Hugging Face folder (tokenizer.json
    /// and its companions), without reading the weights, which need not be there.
    public static func load(path: URL) throws -> PromptCodec {
        var isDirectory: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: path.path, isDirectory: &isDirectory)
        if exists, isDirectory.boolValue,
           FileManager.default.fileExists(atPath: path.appendingPathComponent("tokenizer.json").path) {
            return PromptCodec(tokenizer: try Tokenizer(folder: path))
        }
        // A GGUF file, or a folder holding one; anything else gets the checkpoint reader's error.
        guard let gguf = (try openCheckpoint(path) as? GGUFHuggingFaceView)?.gguf else {
            return PromptCodec(tokenizer: try Tokenizer(folder: path))
        }
        return PromptCodec(tokenizer: try tokenizer(gguf: gguf))
    }

    /// The tokenizer a GGUF file's metadata describes.
    static func tokenizer(gguf: GGUFFile) throws -> Tokenizer {
        let fields = try gguf.tokenizerMetadata()
        return try Tokenizer(gguf: GGUFTokenizerVocabulary(
            model: fields.model, pre: fields.preTokenizer, tokens: fields.tokens,
            tokenTypes: (fields.tokenTypes ?? []).map { Int32(truncatingIfNeeded: $0) }, merges: fields.merges ?? [],
            bosTokenId: fields.bosTokenId, eosTokenId: fields.eosTokenId,
            eotTokenId: gguf.ggufMetadata["tokenizer.ggml.eot_token_id"]?.intValue,
            eomTokenId: gguf.ggufMetadata["tokenizer.ggml.eom_token_id"]?.intValue,
            paddingTokenId: fields.paddingTokenId, unknownTokenId: fields.unknownTokenId,
            addBosToken: fields.addBosToken, addEosToken: fields.addEosToken, chatTemplate: fields.chatTemplate))
    }
}

/// Which weights a verifier computes from.
public enum VerifierWeights: String, Sendable, CaseIterable {
    /// The quantised blocks when the checkpoint stores matrices in a format with an exact
    /// on-the-fly form (a GGUF file's Q4_0…Q6_K), float32 otherwise: the same outputs bit for bit
    /// either way, so serving takes the blocks' fifth of the bytes per token.
    case automatic = "auto"
    /// The quantised blocks; loading fails when the checkpoint has none.
    case quantized
    /// Float32 weights throughout (what the benchmarks' ratio targets are defined on).
    case float32
}

/// Adapts the tokenizer's streaming detokenizer to the engine.
struct DetokenizerStream: TextStream {
    var detokenizer: StreamingDetokenizer
    mutating func append(_ token: Int) -> String { detokenizer.append(token) }
    /// An output that ends inside a character (max_tokens reached after the first byte tokens of an
    /// emoji) ends without it: vLLM's incremental detokenizer returns nothing for bytes that do
    /// not yet make a character, so its text never ends in a U+FFFD those bytes would decode to.
    mutating func finish() -> String {
        _ = detokenizer.flush()
        return ""
    }
}

extension Eagle3DraftModel {
    /// Loads a speculator folder for `verifier` through the speculator model registry: the model
    /// class comes from `speculators_model_type`, and every tensor's name and shape is checked
    /// against the config before any weight is read.
    public static func load(folder: URL, verifier: TransformerModel) throws -> Eagle3DraftModel {
        let model = try SpeculatorModelRegistry.load(folder: folder, verifier: verifier)
        guard let draft = model.eagle3 else {
            throw ModelConfigError.invalid(source: folder.path, key: "speculators_model_type",
                                           problem: "is not an EAGLE-3 draft; only eagle3 can be served")
        }
        return draft
    }
}

/// Quantised weights were asked for, but the checkpoint stores no matrix in blocks with an exact
/// on-the-fly form (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K).
public struct QuantizedWeightsUnavailable: Error, CustomStringConvertible {
    public let checkpoint: String
    public var description: String {
        "\(checkpoint): quantized weights were requested, but no matrix is stored in Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K or Q6_K blocks (the formats with an exact on-the-fly form); use the float32 weights"
    }
}
