// Configuration problems name the key path and what is wrong with it, so that a typo in
// config/server.json is fixed from the error message alone.

/// A configuration value that is missing, of the wrong type, or out of range.
public struct ConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Dotted key path (`limits.max_body_bytes`, `models[1].verifier`).
    public var path: String
    /// What is wrong, phrased to follow the path ("must be an integer in 1...65535, got 0").
    public var problem: String
    /// The file the value came from, when it came from one.
    public var file: String?

    public init(path: String, problem: String, file: String? = nil) {
        self.path = path
        self.problem = problem
        self.file = file
    }

    public var description: String {
        (file.map { "\($0): " } ?? "") + "\(path) \(problem)"
    }
}
