import ArgumentParser
import Engine
import Foundation
import Models
import Tensors

/// Options shared by every command that loads a verifier (and maybe a speculator).
struct ModelOptions: ParsableArguments {
    @Option(help: "Verifier: a .gguf file or a Hugging Face model folder.")
    var model: String = "models/SmolLM2-135M-Instruct.Q4_1.gguf"

    @Option(help: "EAGLE-3 speculator folder (speculators format). Omit for plain decoding.")
    var speculator: String?

    @Option(help: "Worker threads (default: all cores).")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @Flag(help: "Compute from the GGUF verifier's Q4_x/Q5_x/Q8_0/Q4_K/Q5_K/Q6_K blocks, dequantised exactly on the fly: the same outputs bit for bit, a fifth of the bytes per token.")
    var quantizedWeights = false

    func validate() throws {
        try requireOption(threads >= 1, "--threads must be at least 1, got \(threads)")
    }

    func loadBundle() throws -> ModelBundle {
        BLAS.configure()
        return try ModelBundle.load(path: URL(fileURLWithPath: model), quantizedWeights: quantizedWeights)
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
