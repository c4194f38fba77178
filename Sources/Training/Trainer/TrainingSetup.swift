import Foundation
import Checkpoints
import Models

/// Building the draft to train from the verifier, the data and the vocabulary mapping
/// (`training.md` §6: the decoder layer is synthesised from the verifier's shape).
public enum TrainingSetup {
    /// Reads a vocabulary mapping from `speculators vocab`: a safetensors file (or a folder with
    /// one) holding `d2t` I64 [Vd] and `t2d` BOOL [V]. Returns the verifier id of each draft id.
    public static func loadVocabularyMapping(_ url: URL, verifierVocabulary: Int) throws -> [Int] {
        var file = url
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw TrainingError.invalidData(path: url.path, problem: "no such vocabulary mapping file or folder")
        }
        if isDirectory.boolValue {
            let names = ((try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []).filter { $0.hasSuffix(".safetensors") }.sorted()
            guard names.count == 1 else {
                throw TrainingError.invalidData(path: url.path, problem: "expected exactly one .safetensors vocabulary mapping, found \(names.count)")
            }
            file = url.appendingPathComponent(names[0])
        }
        let source = try SafetensorsFile(url: file)
        let offsets = try source.loadInt64("d2t")
        let ids = offsets.enumerated().map { $0 + Int($1) }
        guard !ids.isEmpty, ids.allSatisfy({ $0 >= 0 && $0 < verifierVocabulary }), zip(ids, ids.dropFirst()).allSatisfy({ $0 < $1 }) else {
            throw TrainingError.invalidData(path: file.path, problem: "d2t must map draft ids to strictly increasing verifier ids in 0..<\(verifierVocabulary)")
        }
        if source.contains("t2d") {
            let mask = try source.loadBool("t2d")
            guard mask.count == verifierVocabulary, mask.indices.filter({ mask[$0] }) == ids else {
                throw TrainingError.invalidData(path: file.path, problem: "t2d does not select the same ids as d2t (or is not \(verifierVocabulary) long)")
            }
        }
        return ids
    }

    /// The draft's config: the verifier's layer shape as a llama layer (`draftLayers` deep, SiLU,
    /// untied, no biases, sliding window `window` on every layer or none), EAGLE-3 flags.
    public static func draftConfig(verifier: ModelConfig, auxiliaryLayerIds: [Int], draftVocabularySize: Int, draftLayers: Int,
                                   window: Int?, normBeforeResidual: Bool, normBeforeFC: Bool, fcNorm: Bool, normOutput: Bool,
                                   speculativeTokens: Int) throws -> Eagle3DraftConfig {
        guard draftLayers >= 1 else { throw TrainingError.invalidOption("--draft-layers must be at least 1") }
        guard !(normBeforeFC && fcNorm) else { throw TrainingError.invalidOption("--norm-before-fc and --fc-norm are mutually exclusive") }
        for id in auxiliaryLayerIds where id < 0 || id > verifier.layerCount {
            throw TrainingError.invalidOption("target layer id \(id) is outside 0...\(verifier.layerCount)")
        }
        var layer = verifier
        layer.architecture = .llama
        layer.layerCount = draftLayers
        layer.slidingWindow = window
        layer.tieWordEmbeddings = false
        layer.qkvBias = false
        layer.outputBias = false
        layer.mlpBias = false
        layer.qkNorm = false
        layer.bosTokenId = nil
        layer.eosTokenIds = []
        return Eagle3DraftConfig(layer: layer, draftVocabSize: draftVocabularySize, auxiliaryLayerIds: auxiliaryLayerIds,
                                 normBeforeResidual: normBeforeResidual, normBeforeFC: normBeforeFC, fcNorm: fcNorm,
                                 normOutput: normOutput, speculativeTokens: speculativeTokens)
    }
}
