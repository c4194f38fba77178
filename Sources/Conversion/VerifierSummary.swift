import Checkpoints
import Configs
import Foundation
import Models

/// What a conversion needs to know about the verifier: read from a Hugging Face folder's
/// `config.json`, or from a GGUF file (or a folder holding exactly one).
public struct VerifierSummary: Sendable, Equatable {
    /// Recorded as `speculators_config.verifier.name_or_path`.
    public var nameOrPath: String
    /// The verifier's `architectures`; `["LlamaForCausalLM"]` when it declares none (as upstream's
    /// EAGLE-3 converter does).
    public var architectures: [String]
    /// False when the verifier config has no `architectures` (the DFlash converter then records `[]`).
    public var declaresArchitectures = true
    /// The first `vocab_size` found, top level first, then nested objects depth-first.
    public var vocabSize: Int?
    /// `hidden_size` (of `text_config` for multimodal verifiers).
    public var hiddenSize: Int?
    /// `num_hidden_layers` (of `text_config` for multimodal verifiers).
    public var layerCount: Int?
    /// Top-level `max_position_embeddings`.
    public var maxPositionEmbeddings: Int?

    public init(nameOrPath: String, architectures: [String], vocabSize: Int?, hiddenSize: Int?, layerCount: Int?,
                maxPositionEmbeddings: Int?) {
        self.nameOrPath = nameOrPath
        self.architectures = architectures
        self.vocabSize = vocabSize
        self.hiddenSize = hiddenSize
        self.layerCount = layerCount
        self.maxPositionEmbeddings = maxPositionEmbeddings
    }

    /// Reads the verifier at `path`. `recordedName` is what the converted config records as the
    /// verifier (default: `path` verbatim, as upstream), e.g. a hub id for a local copy.
    public init(path: String, recordedName: String? = nil) throws(ConversionError) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ConversionError.notFound(path: path, what: "verifier")
        }
        let name = recordedName ?? path
        let url = URL(fileURLWithPath: path)
        let config = url.appendingPathComponent("config.json")
        if isDirectory.boolValue, let data = FileManager.default.contents(atPath: config.path) {
            let value: JSONValue
            do { value = try JSONParser.parse(data) } catch {
                throw ConversionError.invalidKey(file: config.path, key: "(document)", problem: "is not valid JSON: \(error)")
            }
            guard case .object(let object) = value else {
                throw ConversionError.invalidKey(file: config.path, key: "(document)", problem: "must be a JSON object")
            }
            self.init(huggingFace: object, nameOrPath: name)
            return
        }
        do {
            let source = try openCheckpoint(url)
            guard let gguf = (source as? GGUFHuggingFaceView)?.gguf else {
                throw ConversionError.missingFile(path: path, problem: "the verifier folder has no config.json")
            }
            let shape = try ModelConfig(gguf: gguf)
            let className: [ModelConfig.Architecture: String] = [
                .llama: "LlamaForCausalLM", .mistral: "MistralForCausalLM", .qwen2: "Qwen2ForCausalLM", .qwen3: "Qwen3ForCausalLM",
            ]
            self.init(nameOrPath: name, architectures: [className[shape.architecture] ?? "LlamaForCausalLM"],
                      vocabSize: shape.vocabSize, hiddenSize: shape.hiddenSize, layerCount: shape.layerCount,
                      maxPositionEmbeddings: shape.maxPositions)
        } catch let error as ConversionError {
            throw error
        } catch {
            throw ConversionError.missingFile(path: path, problem: "cannot read the verifier: \(error)")
        }
    }

    /// From a Hugging Face `config.json` object.
    public init(huggingFace object: JSONObject, nameOrPath: String) {
        let text = object["text_config"]?.objectValue
        let architectures = object["architectures"]?.arrayValue?.compactMap(\.stringValue)
        self.init(nameOrPath: nameOrPath,
                  architectures: architectures ?? ["LlamaForCausalLM"],
                  vocabSize: Self.firstVocabSize(in: object),
                  hiddenSize: object["hidden_size"]?.intValue ?? text?["hidden_size"]?.intValue,
                  layerCount: object["num_hidden_layers"]?.intValue ?? text?["num_hidden_layers"]?.intValue,
                  maxPositionEmbeddings: object["max_position_embeddings"]?.intValue)
        declaresArchitectures = architectures != nil
    }

    /// Upstream's `find_vocab_size`: the object's own key, else the first nested object (in key
    /// order, depth-first) that has one.
    static func firstVocabSize(in object: JSONObject) -> Int? {
        if let value = object["vocab_size"] { return value.intValue }
        for (_, value) in object.entries {
            if let nested = value.objectValue, let found = firstVocabSize(in: nested) { return found }
        }
        return nil
    }
}
