import ArgumentParser
import Foundation

/// `speculators`: serve, generate, bench, validate, convert, datagen, train.
@main
struct Speculators: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "speculators",
        abstract: "EAGLE-3 speculative decoding on the CPU: serve, generate, bench, validate, convert, datagen, train.",
        subcommands: [GenerateCommand.self, TokenizeCommand.self, BenchCommand.self, ValidateCommand.self, SchemaCommand.self])
}

/// Benchmarks and long jobs print progress lines; keep them flowing when stdout is a file or pipe.
func lineBufferedOutput() {
    setvbuf(stdout, nil, _IOLBF, 0)
}
