import ArgumentParser
import Foundation

/// `speculators`: serve, generate, bench, validate, convert, datagen, train.
@main
struct Speculators: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "speculators",
        abstract: "EAGLE-3 speculative decoding on the CPU: serve, generate, bench, validate, convert, datagen, train.",
        subcommands: [ServeCommand.self, GenerateCommand.self, TokenizeCommand.self, BenchCommand.self,
                      ValidateCommand.self, SchemaCommand.self, ConvertCommand.self, DatagenCommand.self,
                      VocabCommand.self, TrainCommand.self])
}

/// Prints a line and flushes it at once, so progress shows when stdout is a file or a pipe.
func report(_ line: String) {
    print(line)
    fflush(nil)
}
