import ArgumentParser
import Configs
import Foundation

/// `speculators schema`: prints the JSON Schema (draft 2020-12) of every registered speculator
/// config type, generated from the same field descriptions the validator uses.
struct SchemaCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schema",
        abstract: "Print the JSON Schema of speculator config.json files.")

    @Option(name: .shortAndLong, help: "Write the schema to this file instead of standard output.")
    var output: String?

    func run() throws {
        let text = SpeculatorJSONSchema.text
        guard let output else {
            print(text, terminator: "")
            return
        }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: output, isDirectory: &isDirectory), isDirectory.boolValue {
            throw CommandFailure("cannot write \(output): it is a folder, not a file")
        }
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: output), options: .atomic)
        } catch {
            throw CommandFailure("cannot write \(output): no such folder, or not writable")
        }
    }
}
