import Configs
import Foundation

/// Validates the input as a posted speculator config. Oracle: a config that validates is written
/// back (`configFileText`, what `save` writes), and that text validates again and is written back
/// to the same bytes: what we accept, we can store and read again.
enum ConfigHarness {
    static func run(_ input: [UInt8]) {
        let report = SpeculatorConfigValidator.validate(data: Data(input), source: nil, verifierLayerCount: 30)
        _ = report.jsonText
        guard report.isValid, let config = report.config else { return }
        let written = config.configFileText()
        let again = SpeculatorConfigValidator.validate(data: Data(written.utf8), source: nil, verifierLayerCount: 30)
        guard again.isValid, let reread = again.config else {
            oracleFailure("a valid config, written back, no longer validates: \(again.errors)\n\(written)", input: input)
        }
        let rewritten = reread.configFileText()
        if rewritten != written {
            oracleFailure("writing a config back is not stable:\n\(written)\n---\n\(rewritten)", input: input)
        }
    }
}
