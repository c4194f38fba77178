import Checkpoints
import Configs
import Foundation

/// What every converter writes the same way: the source folder's `config.json`, the
/// `speculators_config` block, the keys that say how the weights were stored, and the guard
/// against writing over the source.
enum ConvertedConfig {
    /// `folder/config.json` as an object, and that file's path (for errors).
    static func readSource(_ folder: URL) throws(ConversionError) -> (JSONObject, String) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory) else {
            throw ConversionError.notFound(path: folder.path, what: "checkpoint")
        }
        guard isDirectory.boolValue else {
            throw ConversionError.missingFile(path: folder.path, problem: "the source must be a checkpoint folder")
        }
        let file = folder.appendingPathComponent("config.json").path
        guard let data = FileManager.default.contents(atPath: file) else {
            throw ConversionError.missingFile(path: folder.path, problem: "no config.json found")
        }
        let value: JSONValue
        do { value = try JSONParser.parse(data) } catch {
            throw ConversionError.invalidKey(file: file, key: "(document)", problem: "is not valid JSON: \(error)")
        }
        guard case .object(let object) = value else {
            throw ConversionError.invalidKey(file: file, key: "(document)", problem: "must be a JSON object")
        }
        return (object, file)
    }

    /// Converting a folder into itself would replace the weights being read.
    static func requireDistinct(source: URL, output: URL) throws(ConversionError) {
        if source.standardizedFileURL.path == output.standardizedFileURL.path {
            throw ConversionError.writeFailed(path: output.path, problem: "the output folder is the source folder")
        }
    }

    /// Sets what the speculators library writes for a converted draft: `speculators_config` with
    /// one greedy proposal method of `tokens` tokens (the default), the stored `dtype`, and
    /// `tie_word_embeddings: false` (a draft's head is its own, or the verifier's, never its input
    /// embedding).
    static func finish<C: SpeculatorTypeConfig>(_ config: inout C, algorithm: String, tokens: Int,
                                                verifier: VerifierConfig, floatType: TensorDataType) {
        config.speculatorsConfig = SpeculatorsConfig(
            algorithm: algorithm, proposalMethods: [GreedyTokenProposalConfig(speculativeTokens: tokens)],
            defaultProposalMethod: "greedy", verifier: verifier)
        config.extraKeys["dtype"] = .string(FloatDType.torchName(floatType))
        config.extraKeys["tie_word_embeddings"] = false
    }
}
