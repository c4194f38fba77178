import Configs
import Engine
import Foundation
import Models
import Tokenizers

// What the service serves: the verifier bundle (model, tokenizer, chat template), the
// speculator's identity, and the facts requests are validated against.

/// The loaded model as the API sees it.
public struct ServedModel: Sendable {
    public let bundle: ModelBundle
    /// The name clients send and responses echo.
    public let servedName: String
    /// The path that was loaded (`root` in `/v1/models`).
    public let root: String
    /// The context length `L` (prompt + output), at most the verifier's positions.
    public let maxModelLen: Int
    /// The speculator folder, when one is loaded.
    public let speculatorPath: String?
    /// The largest draft length; nil without a speculator.
    public let maxSpeculativeTokens: Int?
    /// Defaults from the model's generation_config.json (empty for GGUF files).
    public let samplingDefaults: SamplingDefaults

    public init(bundle: ModelBundle, servedName: String, root: String, maxModelLen: Int, speculatorPath: String?,
                maxSpeculativeTokens: Int?, samplingDefaults: SamplingDefaults = SamplingDefaults()) {
        self.bundle = bundle
        self.servedName = servedName
        self.root = root
        self.maxModelLen = min(maxModelLen, bundle.verifier.config.maxPositions)
        self.speculatorPath = speculatorPath
        self.maxSpeculativeTokens = maxSpeculativeTokens
        self.samplingDefaults = samplingDefaults
    }

    public var tokenizer: Tokenizer { bundle.tokenizer }
    public var vocabularySize: Int { bundle.verifier.config.vocabSize }
    /// What the registry endpoints check speculator configs against.
    public var verifierShape: VerifierShape {
        let config = bundle.verifier.config
        return VerifierShape(layerCount: config.layerCount, vocabSize: config.vocabSize, hiddenSize: config.hiddenSize)
    }

    /// The speculator's folder name (its registry name).
    public var speculatorName: String? { speculatorPath.map { URL(fileURLWithPath: $0).lastPathComponent } }

    /// Sampling defaults from `<folder>/generation_config.json` when the model is a folder that
    /// has one; none for GGUF files.
    public static func samplingDefaults(modelPath: URL, eosTokenId: Int?) throws -> SamplingDefaults {
        let file = modelPath.appendingPathComponent("generation_config.json")
        guard FileManager.default.fileExists(atPath: file.path) else { return SamplingDefaults() }
        do {
            return try SamplingDefaults(generationConfig: try Data(contentsOf: file), primaryEOS: eosTokenId)
        } catch let error as ConfigurationError {
            var located = error
            located.file = file.path
            throw located
        }
    }
}
