import Checkpoints
import Foundation
import Tensors

/// Accumulates one shard in its stored form (docs/training-data.md): token ids, loss mask, conversation
/// offsets and the hidden states already converted to BF16, so no float copy of a shard is ever held.
public struct ShardBuilder {
    public let hiddenSize: Int
    public let auxLayerCount: Int
    public private(set) var inputIds: [Int32] = []
    public private(set) var lossMask: [Bool] = []
    public private(set) var offsets: [Int64] = [0]
    /// `[T, auxLayerCount · hidden]` and `[T, hidden]` bfloat16 bits.
    var auxBits: [UInt16] = []
    var lastBits: [UInt16] = []

    public init(hiddenSize: Int, auxLayerCount: Int) {
        self.hiddenSize = hiddenSize
        self.auxLayerCount = auxLayerCount
    }

    public var conversationCount: Int { offsets.count - 1 }
    public var tokenCount: Int { inputIds.count }
    public var supervisedCount: Int { lossMask.reduce(0) { $0 + ($1 ? 1 : 0) } }

    /// Appends a row and its states: `states` holds, for each of the row's tokens, the residual streams
    /// entering each aux layer and then the last layer's pre-norm output (`(auxLayerCount + 1) · hidden`
    /// floats per token, the layout of `TransformerModel.forward` with aux ids + [N]).
    mutating func append(_ row: TrainingRow, states: UnsafePointer<Float>, pool: ThreadPool) {
        let count = row.inputIds.count
        let width = auxLayerCount * hiddenSize
        let stride = width + hiddenSize
        let auxStart = auxBits.count
        let lastStart = lastBits.count
        inputIds += row.inputIds.map { Int32(truncatingIfNeeded: $0) }
        lossMask += row.lossMask
        offsets.append(Int64(inputIds.count))
        auxBits += repeatElement(0, count: count * width)
        lastBits += repeatElement(0, count: count * hiddenSize)
        let hidden = hiddenSize
        auxBits.withUnsafeMutableBufferPointer { aux in
            lastBits.withUnsafeMutableBufferPointer { last in
                guard let auxBase = aux.baseAddress, let lastBase = last.baseAddress else { return }
                pool.parallelRanges(count) { rows in
                    for r in rows {
                        let source = states + r * stride
                        let auxRow = auxBase + auxStart + r * width
                        for i in 0..<width { auxRow[i] = BFloat16.rounded(source[i]) }
                        let lastRow = lastBase + lastStart + r * hidden
                        for i in 0..<hidden { lastRow[i] = BFloat16.rounded(source[width + i]) }
                    }
                }
            }
        }
    }

    /// Writes the shard atomically.
    public func write(to url: URL) throws {
        var writer = SafetensorsWriter(metadata: ["format": DatasetIndex.formatName])
        let tokens = inputIds.count
        try writer.add("input_ids", shape: [tokens], int32: inputIds)
        try writer.add("loss_mask", shape: [tokens], bool: lossMask)
        try writer.add("offsets", shape: [offsets.count], int64: offsets)
        try writer.add("aux_hidden_states", dataType: .bf16, shape: [tokens, auxLayerCount * hiddenSize],
                       rawBytes: Self.bytes(auxBits))
        try writer.add("last_hidden_states", dataType: .bf16, shape: [tokens, hiddenSize], rawBytes: Self.bytes(lastBits))
        try writer.write(to: url)
    }

    private static func bytes(_ bits: [UInt16]) -> [UInt8] {
        bits.withUnsafeBytes { Array($0) }
    }
}

/// A shard read back: token data eagerly, hidden states on demand (memory-mapped file).
public struct TrainingShard {
    public let url: URL
    public let file: SafetensorsFile
    public let inputIds: [Int]
    public let lossMask: [Bool]
    /// Conversation `c` spans `offsets[c]..<offsets[c + 1]`.
    public let offsets: [Int]
    public let hiddenSize: Int
    public let auxLayerCount: Int

    /// Opens and checks a shard: every tensor present with the documented dtype and shape, offsets
    /// increasing from 0 to the token count.
    public init(url: URL, hiddenSize: Int, auxLayerCount: Int) throws {
        self.url = url
        self.hiddenSize = hiddenSize
        self.auxLayerCount = auxLayerCount
        let file = try SafetensorsFile(url: url)
        self.file = file
        func require(_ name: String, _ type: TensorDataType, _ shape: [Int]?) throws -> TensorInfo {
            let info = try file.requireInfo(name)
            guard info.dataType == type else {
                throw DataGenerationError.invalidDataset(file: url.path, problem: "\(name) is \(info.dataType.rawValue), expected \(type.rawValue)")
            }
            if let shape, info.shape != shape {
                throw DataGenerationError.invalidDataset(file: url.path, problem: "\(name) has shape \(info.shape), expected \(shape)")
            }
            return info
        }
        let tokens = try require("input_ids", .i32, nil).shape.first ?? 0
        _ = try require("loss_mask", .bool, [tokens])
        _ = try require("offsets", .i64, nil)
        _ = try require("aux_hidden_states", .bf16, [tokens, auxLayerCount * hiddenSize])
        _ = try require("last_hidden_states", .bf16, [tokens, hiddenSize])
        inputIds = try file.loadInt64("input_ids").map { Int($0) }
        lossMask = try file.loadBool("loss_mask")
        let offsets = try file.loadInt64("offsets").map { Int($0) }
        self.offsets = offsets
        guard offsets.first == 0, offsets.last == tokens, zip(offsets, offsets.dropFirst()).allSatisfy({ $0 <= $1 }) else {
            throw DataGenerationError.invalidDataset(file: url.path, problem: "offsets must rise from 0 to \(tokens)")
        }
    }

    public var conversationCount: Int { offsets.count - 1 }
    public var tokenCount: Int { inputIds.count }

    /// Token positions of conversation `c`.
    public func span(_ conversation: Int) -> Range<Int> { offsets[conversation]..<offsets[conversation + 1] }

    /// `[T, auxLayerCount · hidden]` as float32.
    public func auxHiddenStates() throws -> Tensor { try file.loadFloat32("aux_hidden_states") }
    /// `[T, hidden]` as float32.
    public func lastHiddenStates() throws -> Tensor { try file.loadFloat32("last_hidden_states") }
}
