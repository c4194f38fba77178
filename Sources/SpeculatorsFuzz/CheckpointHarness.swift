import Checkpoints
import Engine
import Foundation
import Models

/// Corrupt checkpoints. Oracle: opening and loading either succeed or throw; they never trap or
/// touch memory outside the file (the address sanitizer watches the reads).
enum CheckpointHarness {
    static let ggufFile = FuzzFixtures.scratch.appendingPathComponent("input.gguf")

    static func runGGUF(_ input: [UInt8]) {
        guard write(input, to: ggufFile) else { return }
        if let gguf = try? GGUFFile(url: ggufFile) {
            for name in gguf.tensorNames {
                _ = try? gguf.loadFloat32(name)
                _ = try? gguf.loadQuantized(name)
            }
            _ = try? gguf.tokenizerMetadata()
            // The verifier alone, for files without a tokenizer, then with its blocks.
            if let model = try? TransformerModel.load(gguf: gguf), let source = try? openCheckpoint(ggufFile) {
                _ = try? model.loadQuantizedWeights(from: source)
            }
        }
        _ = try? ModelBundle.load(path: ggufFile, weights: .automatic)
    }

    static let tinyDraft = FuzzFixtures.tests("ServerTests/Fixtures/tiny-eagle3")

    /// The tiny verifier the fuzzed drafts load against.
    static let verifier: TransformerModel? = try? TransformerModel.load(from: FuzzFixtures.tests("ServerTests/Fixtures/tiny-llama"))

    /// A copy of the tiny EAGLE-3 draft's folder whose weights file each input replaces.
    static let draftFolder = FuzzFixtures.scratchFolder("draft", holding: "config.json", from: tinyDraft)

    static func runSafetensors(_ input: [UInt8]) {
        let file = draftFolder.appendingPathComponent("model.safetensors")
        guard write(input, to: file) else { return }
        if let source = try? SafetensorsFile(url: file) {
            for name in source.tensorNames {
                _ = try? source.loadFloat32(name)
                _ = try? source.loadInt64(name)
                _ = try? source.loadBool(name)
            }
        }
        if let verifier { _ = try? SpeculatorModelRegistry.load(folder: draftFolder, verifier: verifier) }
    }

    /// A copy of the tiny EAGLE-3 draft whose `config.json` each input replaces.
    static let configFolder = FuzzFixtures.scratchFolder("draft-config", holding: "model.safetensors", from: tinyDraft)

    /// The draft's `config.json`: the registry loads the folder against the tiny verifier (any
    /// speculator type, any layer shape); an error or a model, never a trap or a runaway
    /// allocation from a size in the config.
    static func runDraftConfig(_ input: [UInt8]) {
        guard write(input, to: configFolder.appendingPathComponent("config.json")), let verifier else { return }
        _ = try? SpeculatorModelRegistry.load(folder: configFolder, verifier: verifier)
    }

    static func write(_ input: [UInt8], to url: URL) -> Bool {
        (try? Data(input).write(to: url)) != nil
    }
}
