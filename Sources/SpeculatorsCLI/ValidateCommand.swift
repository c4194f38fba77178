import ArgumentParser
import Configs

/// `speculators validate <config.json|folder>...`: checks speculator configs the way the Python
/// library would parse them, with clearer errors and warnings for configs it accepts but should
/// not. Exit status 0 when every config is valid, 1 otherwise.
struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check speculator config.json files or folders; exit 0 when all are valid, 1 otherwise.")

    @Argument(help: "config.json files or speculator folders (a folder means its config.json).")
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
        let summary = SpeculatorConfigValidator.validate(paths: paths, verifierLayerCount: verifierLayers)
        print(json ? summary.jsonText : summary.text, terminator: "")
        if summary.exitCode != 0 { throw ExitCode(summary.exitCode) }
    }
}
