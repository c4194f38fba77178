import Foundation

// config/models.json: the named verifier + speculator pairs this project serves by default,
// with the checksums scripts/fetch-models.sh verifies.

/// One servable model: a verifier and, optionally, its EAGLE-3 speculator.
public struct ModelSetEntry: Sendable, Equatable, Codable {
    public var name: String
    /// GGUF file or Hugging Face folder.
    public var verifier: String
    /// sha256 of the verifier file, when it is a single file.
    public var verifierSHA256: String?
    /// Speculator folder; nil = none.
    public var speculator: String?
    /// Draft length; nil = from the speculator's config.
    public var numSpeculativeTokens: Int?
    /// Where the files come from.
    public var source: String?

    enum CodingKeys: String, CodingKey {
        case name, verifier, speculator, source
        case verifierSHA256 = "verifier_sha256"
        case numSpeculativeTokens = "num_speculative_tokens"
    }

    public init(name: String, verifier: String, verifierSHA256: String? = nil, speculator: String? = nil,
                numSpeculativeTokens: Int? = nil, source: String? = nil) {
        self.name = name
        self.verifier = verifier
        self.verifierSHA256 = verifierSHA256
        self.speculator = speculator
        self.numSpeculativeTokens = numSpeculativeTokens
        self.source = source
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: ConfigKey.self)
        try c.rejectUnknownKeys(["name", "verifier", "verifier_sha256", "speculator", "num_speculative_tokens", "source"])
        guard c.contains(ConfigKey("name")), c.contains(ConfigKey("verifier")) else {
            throw ConfigurationError(path: configPath(c.codingPath, c.contains(ConfigKey("name")) ? "verifier" : "name"),
                                     problem: "is required")
        }
        name = try c.value("name", String.self, expected: "a string", default: "")
        verifier = try c.value("verifier", String.self, expected: "a string", default: "")
        verifierSHA256 = try c.optional("verifier_sha256", String.self, expected: "a string or null")
        speculator = try c.optional("speculator", String.self, expected: "a string or null")
        numSpeculativeTokens = try c.optional("num_speculative_tokens", Int.self, expected: "an integer or null")
        source = try c.optional("source", String.self, expected: "a string or null")
        let at = { (key: String) in configPath(c.codingPath, key) }
        try ConfigCheck.nonEmpty(name, at("name"))
        try ConfigCheck.nonEmpty(verifier, at("verifier"))
        if let sha = verifierSHA256, sha.count != 64 || !sha.allSatisfy(\.isHexDigit) {
            throw ConfigurationError(path: at("verifier_sha256"), problem: "must be 64 hexadecimal digits")
        }
        if let k = numSpeculativeTokens {
            try ConfigCheck.integer(k, at("num_speculative_tokens"), in: 1...ServerConfiguration.maxSpeculativeTokens)
        }
    }
}

/// The contents of config/models.json.
public struct ModelSet: Sendable, Equatable, Codable {
    /// Name of the entry served when nothing else is asked for.
    public var defaultModel: String
    public var models: [ModelSetEntry]

    enum CodingKeys: String, CodingKey {
        case defaultModel = "default"
        case models
    }

    public init(defaultModel: String, models: [ModelSetEntry]) {
        self.defaultModel = defaultModel
        self.models = models
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: ConfigKey.self)
        try c.rejectUnknownKeys(["default", "models"])
        defaultModel = try c.value("default", String.self, expected: "a string", default: "")
        models = try c.value("models", [ModelSetEntry].self, expected: "a list of model objects", default: [])
        if models.isEmpty { throw ConfigurationError(path: "models", problem: "must list at least one model") }
        var seen: Set<String> = []
        for (i, m) in models.enumerated() where !seen.insert(m.name).inserted {
            throw ConfigurationError(path: "models[\(i)].name", problem: "repeats the name \"\(m.name)\"")
        }
        if !seen.contains(defaultModel) {
            throw ConfigurationError(path: "default", problem: "must name one of the models (\(models.map(\.name)))")
        }
    }

    /// The entry named `default`.
    public var defaultEntry: ModelSetEntry? { models.first { $0.name == defaultModel } }

    /// The entry called `name`.
    public func entry(named name: String) -> ModelSetEntry? { models.first { $0.name == name } }

    public static func load(from url: URL) throws(ConfigurationError) -> ModelSet {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw ConfigurationError(path: "(file)", problem: "cannot be read: \(error.localizedDescription)",
                                     file: url.path)
        }
        do {
            try ServerConfiguration.checkJSONSyntax(data)
            return try JSONDecoder().decode(ModelSet.self, from: data)
        } catch var error as ConfigurationError {
            error.file = url.path
            throw error
        } catch {
            throw ConfigurationError(path: "(top level)", problem: "is not a valid model set: \(error)", file: url.path)
        }
    }
}
