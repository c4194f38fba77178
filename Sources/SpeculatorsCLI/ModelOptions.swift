import ArgumentParser
import Engine
import Foundation
import Models
import Tensors

/// Options shared by every command that loads a verifier (and maybe a speculator).
struct ModelOptions: ParsableArguments {
    @Option(help: "Verifier: a .gguf file or a Hugging Face model folder.")
    var model: String = "models/SmolLM2-135M-Instruct.Q4_1.gguf"

    @Option(help: "EAGLE-3 speculator folder (speculators format): generate drafts with it (omit it for plain decoding), bench spec compares against it, bench kernel measures its products.")
    var speculator: String?

    @Option(help: "Worker threads: one per core unless given, at most 1024.")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @Flag(inversion: .prefixedNo,
          help: "Compute from the GGUF verifier's Q4_x/Q5_x/Q8_0/Q4_K/Q5_K/Q6_K blocks, dequantised exactly on the fly: the same outputs bit for bit, a fifth of the bytes per token. Default: generate uses them whenever the file has them, the benchmarks use float32 weights.")
    var quantizedWeights: Bool?

    func validate() throws {
        try requireOption((1...1024).contains(threads), "--threads must be between 1 and 1024, got \(threads)")
    }

    /// The verifier as `--quantized-weights` asks. Without the flag, a command that serves
    /// tokens (`forServing`) takes the quantised blocks whenever the file has them and keeps no
    /// float32 copies; benchmarks take float32 weights, the form their ratio targets are defined
    /// on, and with the flag keep both forms to compare them.
    func loadBundle(forServing: Bool = false) throws -> ModelBundle {
        BLAS.configure()
        let weights = quantizedWeights.map { $0 ? VerifierWeights.quantized : .float32 }
            ?? (forServing ? .automatic : .float32)
        return try ModelBundle.load(path: URL(fileURLWithPath: model), weights: weights, blocksOnly: forServing)
    }

    func loadDraft(for bundle: ModelBundle) throws -> Eagle3DraftModel? {
        guard let speculator else { return nil }
        return try Eagle3DraftModel.load(folder: URL(fileURLWithPath: speculator), verifier: bundle.verifier)
    }
}

/// Errors the commands report to the user (exit code 1, message on standard error).
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Seconds since an arbitrary origin, for timings.
func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

/// Writes to standard error.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// A JSON string of any Encodable value, keys sorted.
func jsonString<T: Encodable>(_ value: T, pretty: Bool = false) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = pretty ? [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
    guard let data = try? encoder.encode(value) else { return "{}" }
    return String(decoding: data, as: UTF8.self)
}
