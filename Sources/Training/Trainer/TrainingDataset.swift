import Foundation
import Checkpoints
import Tensors

/// Reads the data generator's folder (`index.json` + `shard-XXXXX.safetensors`), or several such
/// folders made with the same verifier and aux layers, one after the other (`--data A --data B`):
/// per shard `input_ids` I32 [T], `loss_mask` BOOL [T], `offsets` I64 [n+1],
/// `aux_hidden_states` [T, A·H] and `last_hidden_states` [T, H] (BF16, F16 or F32).
///
/// A folder in the Python speculators library's offline layout (an Arrow dataset of `input_ids`
/// and `loss_mask` plus `hidden_states/hs_<row>.safetensors` with `hidden_states [T, A+1, H]`) is
/// read as it is (`LibraryDataFolder`); it does not record its aux layer ids, so the caller gives them.
///
/// Token ids, masks and offsets are read up front (small); hidden states stay memory-mapped and
/// are converted to float32 only for the rows of the batch being built.
public final class TrainingDataset: @unchecked Sendable {
    public struct Conversation: Sendable {
        public let shard: Int
        /// Rows of the conversation inside its shard.
        public let rows: Range<Int>
        public var count: Int { rows.count }
    }

    /// The dataset folders, in the order their conversations are numbered (validation takes the
    /// last ones, so the last folder holds the held-out conversations).
    public let folders: [URL]
    public let hiddenSize: Int
    public let auxiliaryLayerIds: [Int]
    public let verifierLayers: Int
    /// The verifier the data was generated with, as `index.json` names it.
    public let verifier: String
    public let conversations: [Conversation]
    private let shards: [SafetensorsFile]
    /// How each shard keeps its hidden states.
    private let layouts: [ShardLayout]
    private let tokens: [[Int32]]
    private let masks: [[Bool]]

    enum ShardLayout {
        /// `aux_hidden_states [T, A·H]` and `last_hidden_states [T, H]` (datagen).
        case datagen
        /// `hidden_states [T, A+1, H]`, the last layer's state in the last slot (the library).
        case library(auxCount: Int)
    }

    public var featureWidth: Int { auxiliaryLayerIds.count * hiddenSize }
    public var totalTokens: Int { conversations.reduce(0) { $0 + $1.count } }

    public convenience init(folder: URL, libraryAuxLayerIds: [Int]? = nil) throws {
        try self.init(folders: [folder], libraryAuxLayerIds: libraryAuxLayerIds)
    }

    /// `libraryAuxLayerIds` (with `libraryVerifierLayers`) say which verifier layers the hidden
    /// states of folders in the library's layout come from; datagen folders record their own.
    public init(folders: [URL], libraryAuxLayerIds: [Int]? = nil, libraryVerifierLayers: Int = 0) throws {
        guard let firstFolder = folders.first else {
            throw TrainingError.invalidData(path: "", problem: "no dataset folder given")
        }
        self.folders = folders
        var files: [SafetensorsFile] = [], allTokens: [[Int32]] = [], allMasks: [[Bool]] = [], list: [Conversation] = []
        var shardLayouts: [ShardLayout] = []
        var shape: (hidden: Int, ids: [Int], layers: Int, verifier: String)?
        for folder in folders {
            if LibraryDataFolder.recognises(folder) {
                guard let ids = libraryAuxLayerIds, !ids.isEmpty else {
                    throw TrainingError.invalidData(path: folder.path, problem: "is in the Python library's layout, which does not record its aux layer ids; give them")
                }
                let library = try LibraryDataFolder(folder: folder, auxCount: ids.count)
                if let shape, shape.hidden != library.hiddenSize || shape.ids != ids {
                    throw TrainingError.invalidData(path: folder.path, problem: "holds hidden size \(library.hiddenSize) and aux layers \(ids); \(firstFolder.path) \(shape.hidden) and \(shape.ids): they cannot be trained together")
                }
                shape = shape ?? (library.hiddenSize, ids, libraryVerifierLayers, "python-library:\(folder.path)")
                for row in library.rows {
                    if row.tokens.count >= 2 { list.append(Conversation(shard: files.count, rows: 0..<row.tokens.count)) }
                    files.append(row.file)
                    allTokens.append(row.tokens)
                    allMasks.append(row.mask)
                    shardLayouts.append(.library(auxCount: ids.count))
                }
                continue
            }
            let index = try Self.readIndex(folder)
            // The verifier's name is a path or an id as each run spelled it; its shape must agree.
            if let shape, shape.hidden != index.hidden || shape.ids != index.ids || shape.layers != index.layers {
                throw TrainingError.invalidData(
                    path: folder.appendingPathComponent("index.json").path,
                    problem: "was made with a verifier of hidden size \(index.hidden) and \(index.layers) layers, aux layers \(index.ids); "
                        + "\(firstFolder.path) with \(shape.hidden), \(shape.layers) and \(shape.ids): they cannot be trained together")
            }
            shape = shape ?? (index.hidden, index.ids, index.layers, index.verifier)
            for name in index.shardFiles {
                let url = folder.appendingPathComponent(name)
                let (file, tokenIds, mask, offsets) = try Self.readShard(url, hidden: index.hidden, auxiliaryWidth: index.ids.count * index.hidden)
                for c in 0..<(offsets.count - 1) where offsets[c + 1] - offsets[c] >= 2 {
                    list.append(Conversation(shard: files.count, rows: offsets[c]..<offsets[c + 1]))
                }
                files.append(file)
                allTokens.append(tokenIds)
                allMasks.append(mask)
                shardLayouts.append(.datagen)
            }
        }
        guard let shape else { throw TrainingError.invalidData(path: firstFolder.path, problem: "no dataset folder given") }
        hiddenSize = shape.hidden
        auxiliaryLayerIds = shape.ids
        verifierLayers = shape.layers
        verifier = shape.verifier
        shards = files
        layouts = shardLayouts
        tokens = allTokens
        masks = allMasks
        conversations = list
        guard !list.isEmpty else {
            throw TrainingError.invalidData(path: folders.map(\.path).joined(separator: ", "), problem: "holds no conversation of 2 or more tokens")
        }
    }

    /// The fields of a folder's `index.json` that training needs.
    private static func readIndex(_ folder: URL) throws -> (hidden: Int, ids: [Int], layers: Int, verifier: String, shardFiles: [String]) {
        let path = folder.appendingPathComponent("index.json").path
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TrainingError.invalidData(path: path, problem: "cannot read the data index (is this a `speculators datagen` output folder?)")
        }
        guard let index = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw TrainingError.invalidData(path: path, problem: "is not a JSON object")
        }
        guard index["format"] as? String == "speculators-swift-datagen" else {
            throw TrainingError.invalidData(path: path, problem: "'format' must be \"speculators-swift-datagen\"")
        }
        guard let hidden = index["hidden_size"] as? Int, hidden > 0 else {
            throw TrainingError.invalidData(path: path, problem: "'hidden_size' must be a positive integer")
        }
        guard let ids = index["aux_layer_ids"] as? [Int], !ids.isEmpty else {
            throw TrainingError.invalidData(path: path, problem: "'aux_layer_ids' must be a non-empty list of integers")
        }
        guard let shardList = index["shards"] as? [[String: Any]] else {
            throw TrainingError.invalidData(path: path, problem: "'shards' must be a list of objects")
        }
        var names: [String] = []
        for (shardIndex, entry) in shardList.enumerated() {
            guard let name = entry["file"] as? String, !name.contains("/") else {
                throw TrainingError.invalidData(path: path, problem: "shard \(shardIndex) has no plain 'file' name")
            }
            names.append(name)
        }
        return (hidden, ids, index["verifier_layers"] as? Int ?? 0, index["verifier"] as? String ?? "", names)
    }

    /// One shard's file, token ids, loss mask and conversation offsets, checked against the index.
    private static func readShard(_ url: URL, hidden: Int, auxiliaryWidth: Int) throws
        -> (SafetensorsFile, [Int32], [Bool], [Int]) {
        let file = try SafetensorsFile(url: url)
        let shardPath = url.path
        let tokenIds = try file.loadInt64("input_ids").map { Int32(truncatingIfNeeded: $0) }
        let mask = try file.loadBool("loss_mask")
        let offsets = try file.loadInt64("offsets").map(Int.init)
        let t = tokenIds.count
        guard mask.count == t else {
            throw TrainingError.invalidData(path: shardPath, problem: "loss_mask has \(mask.count) entries for \(t) tokens")
        }
        guard let first = offsets.first, first == 0, offsets.last == t, zip(offsets, offsets.dropFirst()).allSatisfy({ $0 <= $1 }) else {
            throw TrainingError.invalidData(path: shardPath, problem: "offsets must rise from 0 to the token count \(t)")
        }
        for (tensor, width) in [("aux_hidden_states", auxiliaryWidth), ("last_hidden_states", hidden)] {
            let info = try file.requireInfo(tensor)
            guard info.shape == [t, width] else {
                throw CheckpointError.shapeMismatch(file: shardPath, tensor: tensor, expected: [t, width], actual: info.shape)
            }
            guard [.bf16, .f16, .f32].contains(info.dataType) else {
                throw TrainingError.invalidData(path: shardPath, problem: "\(tensor) is \(info.dataType.rawValue); expected BF16, F16 or F32")
            }
        }
        return (file, tokenIds, mask, offsets)
    }

    /// Packs conversations (by index into `conversations`) after the EAGLE-3 shift, clipping each
    /// to `maxRows` shifted rows.
    public func batch(_ indices: [Int], maxRows: Int) throws -> TrainingBatch {
        let h = hiddenSize, width = featureWidth
        var lengths: [Int] = []
        for i in indices { lengths.append(min(conversations[i].count - 1, maxRows)) }
        let rows = lengths.reduce(0, +)
        let features = FloatBuffer(count: rows * width)
        let last = FloatBuffer(count: rows * h)
        var ids: [Int] = [], mask: [Bool] = [], positions: [Int] = [], documents: [Range<Int>] = []
        ids.reserveCapacity(rows)
        var row = 0
        for (i, n) in zip(indices, lengths) where n > 0 {
            let c = conversations[i]
            let s = c.rows.lowerBound
            documents.append(row..<(row + n))
            for t in 0..<n {
                ids.append(Int(tokens[c.shard][s + t + 1]))
                mask.append(masks[c.shard][s + t + 1])
                positions.append(t + 1)
            }
            switch layouts[c.shard] {
            case .datagen:
                try copyRows(shard: c.shard, tensor: "aux_hidden_states", from: s, count: n, rowWidth: width, column: 0, width: width,
                             into: features.base + row * width)
                try copyRows(shard: c.shard, tensor: "last_hidden_states", from: s + 1, count: n, rowWidth: h, column: 0, width: h,
                             into: last.base + row * h)
            case .library(let auxCount):
                let rowWidth = (auxCount + 1) * h
                try copyRows(shard: c.shard, tensor: "hidden_states", from: s, count: n, rowWidth: rowWidth, column: 0, width: width,
                             into: features.base + row * width)
                try copyRows(shard: c.shard, tensor: "hidden_states", from: s + 1, count: n, rowWidth: rowWidth, column: auxCount * h,
                             width: h, into: last.base + row * h)
            }
            row += n
        }
        return try TrainingBatch(tokens: ids, features: features, lastHidden: last, lossMask: mask, documents: documents,
                                 positions: positions, featureWidth: width, hiddenSize: h)
    }

    /// `count` rows from row `start` of a tensor of `rowWidth` elements a row, elements
    /// `column ..< column + width` of each, as float32 into `out` (`width` apart).
    private func copyRows(shard: Int, tensor: String, from start: Int, count: Int, rowWidth: Int, column: Int, width: Int,
                          into out: UnsafeMutablePointer<Float>) throws {
        let file = shards[shard]
        let type = try file.requireInfo(tensor).dataType
        try file.withRawBytes(tensor) { bytes in
            guard let base = bytes.baseAddress else { return }
            let size = type == .f32 ? 4 : 2
            for r in 0..<count {
                let source = base + ((start + r) * rowWidth + column) * size
                let target = out + r * width
                switch type {
                case .f32:
                    for i in 0..<width { target[i] = Float(bitPattern: UInt32(littleEndian: source.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) }
                case .f16:
                    for i in 0..<width { target[i] = Float(Float16(bitPattern: UInt16(littleEndian: source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))) }
                default:
                    for i in 0..<width { target[i] = BFloat16.widen(UInt16(littleEndian: source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
                }
            }
        }
    }
}

/// Splits and packs conversations for an epoch.
public struct BatchPlan: Sendable {
    /// Conversation indices of the training and validation sets (validation = the last
    /// `fraction` of the data in file order, as the library's `train_data_ratio` split).
    public static func split(count: Int, validationFraction: Double) -> (train: [Int], validation: [Int]) {
        let trainCount = validationFraction > 0 ? max(1, min(count, Int(Double(count) * (1 - validationFraction)))) : count
        return (Array(0..<trainCount), Array(trainCount..<count))
    }

    /// Shuffles `indices` with `seed` and packs them in that order into batches of at most
    /// `maxRows` shifted rows (a conversation longer than that gets a batch of its own, clipped).
    public static func batches(_ indices: [Int], lengths: (Int) -> Int, maxRows: Int, seed: UInt64?) -> [[Int]] {
        var order = indices
        if let seed {
            var random = TrainingRandom(seed: seed)
            order = random.shuffled(order)
        }
        var result: [[Int]] = [], current: [Int] = [], used = 0
        for index in order {
            let rows = min(max(lengths(index) - 1, 0), maxRows)
            if used + rows > maxRows, !current.isEmpty {
                result.append(current)
                current = []
                used = 0
            }
            current.append(index)
            used += rows
        }
        if !current.isEmpty { result.append(current) }
        return result
    }
}
