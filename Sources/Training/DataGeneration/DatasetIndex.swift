import Foundation
import Tensors

/// Settings that decide what a dataset contains; a resumed run must use the same ones.
public struct GenerationSettings: Codable, Sendable, Equatable {
    /// Regenerate assistant turns with the verifier (true) or keep the given ones (false).
    public var regenerate: Bool
    public var maxNewTokens: Int
    /// 0 = greedy.
    public var temperature: Float
    public var topP: Float
    public var topK: Int
    /// Rows are clipped to this many tokens.
    public var maxLength: Int
    /// Input conversations per shard (the unit of resumption).
    public var shardConversations: Int
    /// bf16 when the verifier's batched products rounded their operands to bfloat16 (as the Python
    /// reference's bf16 verifier); absent (nil) for float32, so older indexes read unchanged.
    public var matmulPrecision: MatmulPrecision?

    public init(regenerate: Bool = true, maxNewTokens: Int = 256, temperature: Float = 0, topP: Float = 1, topK: Int = 0,
                maxLength: Int = 2048, shardConversations: Int = 128, matmulPrecision: MatmulPrecision? = nil) {
        self.matmulPrecision = matmulPrecision == .float32 ? nil : matmulPrecision
        self.regenerate = regenerate
        self.maxNewTokens = maxNewTokens
        self.temperature = temperature
        self.topP = topP
        self.topK = topK
        self.maxLength = maxLength
        self.shardConversations = shardConversations
    }
}

/// `index.json` of a generated dataset (docs/training-data.md). Written atomically after every shard, so
/// it only ever lists complete shards; rerunning the same command continues after the last one.
public struct DatasetIndex: Codable, Sendable, Equatable {
    public static let formatName = "speculators-swift-datagen"
    public static let fileName = "index.json"

    public struct Shard: Codable, Sendable, Equatable {
        public var file: String
        /// Rows (conversations) in the shard.
        public var conversations: Int
        public var tokens: Int
        public var supervisedTokens: Int

        public init(file: String, conversations: Int, tokens: Int, supervisedTokens: Int) {
            self.file = file
            self.conversations = conversations
            self.tokens = tokens
            self.supervisedTokens = supervisedTokens
        }
    }

    public var format = DatasetIndex.formatName
    public var version = 1
    public var verifier: String
    public var hiddenSize: Int
    public var verifierLayers: Int
    public var vocabSize: Int
    /// The draft's auxiliary layer ids (without `verifierLayers`, whose state is `last_hidden_states`).
    public var auxLayerIds: [Int]
    public var hiddenDtype = "BF16"
    public var shards: [Shard]
    /// Input files and/or `magpie:<N>` (prompts written by the verifier), joined by " + ".
    public var source: String
    /// SHA-256 of the input conversations as read (detects a changed input on resume).
    public var sourceSha256: String
    public var seed: UInt64
    public var generation: GenerationSettings
    /// Input conversations the run will process (after eval refusal and the cap), and the shards it needs.
    public var plannedConversations: Int
    public var plannedShards: Int
    /// Totals over the shards written so far.
    public var conversations: Int
    public var tokens: Int
    public var supervisedTokens: Int
    /// Input conversations dropped as evaluation prompts, or that produced no supervised token.
    public var droppedEvaluation: Int
    public var droppedEmpty: Int
    public var complete: Bool

    static func coders() -> (JSONEncoder, JSONDecoder) {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return (encoder, decoder)
    }

    /// Reads `<directory>/index.json`; nil when there is none.
    public static func load(directory: URL) throws -> DatasetIndex? {
        let url = directory.appendingPathComponent(fileName)
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        let index: DatasetIndex
        do { index = try coders().1.decode(DatasetIndex.self, from: Data(contentsOf: url)) } catch {
            throw DataGenerationError.invalidDataset(file: url.path, problem: "not a dataset index: \(error)")
        }
        guard index.format == formatName, index.version == 1 else {
            throw DataGenerationError.invalidDataset(file: url.path, problem: "format \(index.format) version \(index.version) is not \(formatName) version 1")
        }
        return index
    }

    /// Writes `<directory>/index.json` atomically (temporary file, then rename).
    public func save(directory: URL) throws {
        let url = directory.appendingPathComponent(Self.fileName)
        do {
            var data = try Self.coders().0.encode(self)
            data.append(0x0A)
            try data.write(to: url, options: .atomic)
        } catch {
            throw DataGenerationError.unreadableFile(file: url.path, problem: "cannot write: \(error)")
        }
    }

    /// The file name of shard `number`.
    public static func shardFileName(_ number: Int) -> String {
        let digits = String(number)
        return "shard-" + String(repeating: "0", count: max(0, 5 - digits.count)) + digits + ".safetensors"
    }
}
