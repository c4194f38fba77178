import ArgumentParser
import Conversion
import Foundation

/// `speculators convert <model> [<output>] --verifier <path>`: converts an external draft
/// checkpoint (EAGLE-3 research layout) into the speculators format. Exit status 0 on success, 1
/// when the conversion fails (the message names the file, tensor or key).
struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Convert an EAGLE-3 research checkpoint, a native MTP head or a z-lab DFlash checkpoint into a speculators-format folder.",
        discussion: """
            Every source tensor is carried over (extra decoder layers, input_norm, fc_norm) or the
            conversion fails naming it. Options for the eagle3 converter go in --algorithm-kwargs:
            norm_before_residual, norm_before_fc, fc_norm, norm_output, eagle_aux_hidden_state_layer_ids.
            """)

    @Argument(help: "The source checkpoint folder (config.json + model.safetensors).")
    var model: String

    @Argument(help: "The output folder (default: --output-path, else \"converted\").")
    var output: String?

    @Option(name: .long, help: "The output folder (the Python CLI's spelling).")
    var outputPath: String?

    @Option(help: "The verifier: a Hugging Face folder or a .gguf file (read for vocab, hidden size, layers).")
    var verifier: String

    @Option(help: "Record this as speculators_config.verifier.name_or_path instead of --verifier (e.g. a hub id).")
    var verifierName: String?

    @Option(help: "The source format: eagle3, mtp or dflash.")
    var algorithm: String = "eagle3"

    @Option(help: "A JSON object of converter options, e.g. '{\"norm_before_residual\": true}'.")
    var algorithmKwargs: String?

    @Option(help: "Store floats as float32, bfloat16 or float16 (default: the source torch_dtype, else float32).")
    var dtype: String?

    @Flag(help: "Load the result with the verifier afterwards.")
    var validate = false

    @Option(help: "Any value enables --validate (the Python CLI's spelling; the device is not used).")
    var validateDevice: String?

    func run() throws {
        if let output, let outputPath, output != outputPath {
            throw ValidationError("the output folder is given twice, as \(output) and --output-path \(outputPath); give one")
        }
        let destination = output ?? outputPath ?? "converted"
        let write: @Sendable (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
        do {
            let summary = try VerifierSummary(path: verifier, recordedName: verifierName)
            let plan = try SpeculatorConverter.convert(model: model, verifier: summary, algorithm: algorithm,
                                                       outputPath: destination, algorithmKwargs: algorithmKwargs,
                                                       dtype: dtype, progress: SpeculatorConverter.progressPrinter(write))
            for note in plan.notes { write("note: \(note)") }
            if (validate || !(validateDevice ?? "").isEmpty) && algorithm != "eagle3" {
                write("note: only eagle3 drafts can be loaded here, so --validate checked what the writer checks (names, shapes, finite values)")
            } else if validate || !(validateDevice ?? "").isEmpty {
                let verifierModel = try SpeculatorConverter.loadVerifierModel(path: verifier)
                _ = try Eagle3Converter.validate(output: URL(fileURLWithPath: destination), verifier: verifierModel)
                write("validated: \(destination) loads for \(verifier)")
            }
            print("converted \(model) -> \(destination) (\(plan.tensorCount) tensors, \(plan.floatType.rawValue))")
        } catch {
            write("error: \(error)")
            throw ExitCode(1)
        }
    }
}
