import ArgumentParser
import Configs
import Foundation
import Models

/// `speculators validate <config.json|folder>...`: checks speculator configs the way the Python
/// library would parse them, with clearer errors and warnings for configs it accepts but should
/// not, and a folder's checkpoint against its config from the tensor headers (names, shapes,
/// dtypes, the files' framing), without reading the weights. Exit status 0 when every one is
/// valid, 1 otherwise.
struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check speculator config.json files or folders; exit 0 when all are valid, 1 otherwise.")

    @Argument(help: "config.json files or speculator folders (a folder means its config.json, and its checkpoint's tensor headers are checked against it).")
    var paths: [String] = []

    @Flag(name: .long, help: "Print a JSON report instead of text.")
    var json = false

    @Option(name: .long, help: "Also make the load-time checks (aux layer ids, speculators_config) against a verifier with this many decoder layers.")
    var verifierLayers: Int?

    func validate() throws {
        if paths.isEmpty { throw ValidationError("Give at least one config.json file or speculator folder.") }
        if let verifierLayers, verifierLayers < 1 { throw ValidationError("--verifier-layers must be at least 1.") }
    }

    func run() throws {
        var summary = SpeculatorConfigValidator.validate(paths: paths, verifierLayerCount: verifierLayers)
        for (index, path) in paths.enumerated() {
            var isDirectory: ObjCBool = false
            guard let config = summary.reports[index].config,
                  FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else { continue }
            let folder = URL(fileURLWithPath: path)
            if !SpeculatorModelRegistry.hasCheckpoint(folder: folder) {
                summary.reports[index].add(.warning(.checkpoint, at: .root, value: nil,
                    "the folder holds no model.safetensors (or sharded index): only its config was checked, and it cannot be served as it is"))
            } else if let problem = SpeculatorModelRegistry.checkpointProblem(folder: folder, config: config,
                                                                                verifierLayerCount: verifierLayers) {
                summary.reports[index].add(.error(.checkpoint, at: .root, value: nil, problem))
            }
        }
        print(json ? summary.jsonText : summary.text, terminator: "")
        if summary.exitCode != 0 { throw ExitCode(summary.exitCode) }
    }
}
