import Foundation

/// Reading and writing the `config.json` of a speculator folder.
public enum SpeculatorConfigFile {
    public static let fileName = "config.json"

    /// `path` itself if it is a file, `path/config.json` if it is a folder.
    public static func configPath(for path: String) -> String {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            return (path as NSString).appendingPathComponent(fileName)
        }
        return path
    }
}

extension SpeculatorModelConfig {
    /// Loads the config of a speculator folder (or a `config.json` path) as its registered type
    /// (Python `SpeculatorModelConfig.from_pretrained` for a local folder).
    public static func load(from path: String) throws(ConfigError) -> any SpeculatorTypeConfig {
        let file = SpeculatorConfigFile.configPath(for: path)
        guard let data = FileManager.default.contents(atPath: file) else {
            throw ConfigError(.fileAccess, "cannot read \(file): no such file, or not readable", source: file)
        }
        let value: JSONValue
        do {
            value = try JSONParser.parse(data)
        } catch {
            throw ConfigError(.invalidJSON, "not valid JSON: \(error)", source: file)
        }
        guard case .object(let object) = value else {
            throw ConfigError(.notAnObject, "a speculator config must be a JSON object; got \(LaxCoercion.describe(value))", source: file)
        }
        guard object[SpeculatorRegistry.discriminator] != nil else {
            throw ConfigError(.missingSpeculatorsModelType, at: JSONPath.root.appending(SpeculatorRegistry.discriminator),
                "\(file) has no 'speculators_model_type': it is not a speculators config (loading a non-speculator model config is not supported)",
                source: file)
        }
        return try fromDict(object, source: file)
    }
}

extension SpeculatorTypeConfig {
    /// Writes `config.json` into `folder` (created if needed), byte-identical to what the Python
    /// library writes for the same values. Returns the file's path.
    @discardableResult
    public func save(toFolder folder: String) throws(ConfigError) -> String {
        let file = (folder as NSString).appendingPathComponent(SpeculatorConfigFile.fileName)
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try Data(configFileText().utf8).write(to: URL(fileURLWithPath: file), options: .atomic)
        } catch {
            throw ConfigError(.fileAccess, "cannot write \(file): \(error.localizedDescription)", source: file)
        }
        return file
    }
}

extension SpeculatorTypeConfig {
    /// Loads a speculator folder (or `config.json`) that must be of this type.
    public static func load(from path: String) throws(ConfigError) -> Self {
        let config = try SpeculatorModelConfig.load(from: path)
        guard let typed = config as? Self else {
            throw ConfigError(.unknownSpeculatorsModelType, at: JSONPath.root.appending(SpeculatorRegistry.discriminator),
                value: .string(config.speculatorsModelType),
                "expected a '\(speculatorsModelType)' config, found '\(config.speculatorsModelType)'",
                source: SpeculatorConfigFile.configPath(for: path))
        }
        return typed
    }
}

extension ValidationReport {
    /// `jsonText` as UTF-8 bytes (an HTTP response body).
    public var jsonData: Data { Data(jsonText.utf8) }
}
