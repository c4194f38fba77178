import ArgumentParser

/// `speculators bench`: speed and acceptance benchmarks that print same-run ratios.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Benchmarks: verifier speed, speculative decoding, the HTTP service.",
        subcommands: [BenchVerifierCommand.self, BenchKernelCommand.self, BenchSpecCommand.self, BenchServeCommand.self, BenchTrainCommand.self])
}

/// The median of a list of measurements.
func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return 0 }
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}
