import Foundation
import Tensors

/// A llama-family GGUF presented as a Hugging Face checkpoint: transformers names (from `TensorNames`),
/// PyTorch shapes (`ne` reversed) and, for architectures whose converter permuted them, attn_q/attn_k rows
/// put back in Hugging Face order so rotate-half RoPE applies. Tensors the name table does not know keep
/// their GGUF names. `lm_head.weight` is absent when the model ties it to the embedding.
public final class GGUFHuggingFaceView: TensorSource {
    public let gguf: GGUFFile
    public let tensorNames: [String]
    /// Hugging Face name → GGUF name.
    private let sourceName: [String: String]
    /// Hugging Face name → head count, for the tensors whose rows must be un-permuted.
    private let permutedHeads: [String: Int]

    public init(_ gguf: GGUFFile) throws {
        self.gguf = gguf
        var sourceName: [String: String] = [:]
        for name in gguf.tensorNames {
            let mapped = TensorNames.huggingFaceName(forGGUF: name) ?? name
            if let clash = sourceName[mapped] {
                throw CheckpointError.corrupt(file: gguf.description, tensor: name,
                                              problem: "maps to '\(mapped)', which '\(clash)' already maps to")
            }
            sourceName[mapped] = name
        }
        var permutedHeads: [String: Int] = [:]
        if let architecture = gguf.architecture, TensorNames.permutedQKArchitectures.contains(architecture) {
            let heads = try gguf.int("\(architecture).attention.head_count")
            let kvHeads = gguf.ggufMetadata["\(architecture).attention.head_count_kv"] == nil
                ? heads : try gguf.int("\(architecture).attention.head_count_kv")
            for (hfName, ggufName) in sourceName {
                let stem = ggufName.split(separator: ".").dropFirst(2).first
                let count: Int
                switch stem {
                case "attn_q": count = heads
                case "attn_k": count = kvHeads
                default: continue
                }
                guard ggufName.hasPrefix("blk."), let info = gguf.info(ggufName) else { continue }
                let rows = info.shape.first ?? 0
                guard count > 0, rows % (2 * count) == 0 else {
                    throw CheckpointError.corrupt(file: gguf.description, tensor: ggufName,
                                                  problem: "\(rows) rows cannot be split into \(count) heads of even size to undo the RoPE permutation")
                }
                permutedHeads[hfName] = count
            }
        }
        self.sourceName = sourceName
        self.permutedHeads = permutedHeads
        tensorNames = sourceName.keys.sorted()
    }

    public var description: String { gguf.description }
    public var metadata: [String: String] { gguf.metadata }

    /// The GGUF name behind a Hugging Face name.
    public func ggufName(for name: String) -> String? { sourceName[name] }

    /// True when the tensor's rows are un-permuted on load.
    public func isPermuted(_ name: String) -> Bool { permutedHeads[name] != nil }

    public func info(_ name: String) -> TensorInfo? {
        guard let source = sourceName[name], let found = gguf.info(source) else { return nil }
        return TensorInfo(name: name, dataType: found.dataType, shape: found.shape)
    }

    public func loadFloat32(_ name: String) throws -> Tensor {
        let source = try ggufSource(name)
        guard let heads = permutedHeads[name], let info = gguf.info(source) else { return try gguf.loadFloat32(source) }
        let rows = info.shape.first ?? 0
        let order = GGUFHuggingFaceView.unpermute(rows: rows, heads: heads)
        guard info.shape.count == 1 else { return try gguf.loadFloat32(source, rowOrder: order) }
        // A bias is a single GGUF row whose elements are the rows to reorder.
        let stored = try gguf.loadFloat32(source)
        let result = Tensor(zeros: info.shape)
        for index in 0..<rows { result.base[order(index)] = stored.base[index] }
        return result
    }

    public func loadQuantized(_ name: String) throws -> QuantizedWeights? {
        let source = try ggufSource(name)
        guard let heads = permutedHeads[name], let info = gguf.info(source), info.shape.count == 2 else {
            return try gguf.loadQuantized(source)
        }
        return try gguf.loadQuantized(source, rowOrder: GGUFHuggingFaceView.unpermute(rows: info.shape[0], heads: heads))
    }

    public func loadInt64(_ name: String) throws -> [Int64] { try gguf.loadInt64(try ggufSource(name)) }

    public func loadBool(_ name: String) throws -> [Bool] { try gguf.loadBool(try ggufSource(name)) }

    private func ggufSource(_ name: String) throws -> String {
        guard let source = sourceName[name] else { throw CheckpointError.missingTensor(file: description, tensor: name) }
        return source
    }

    /// Where each stored row goes. llama.cpp's converter took Hugging Face rows indexed (head, j, i) with
    /// j ∈ {0, 1} the rotate-half and i < headDim/2, and stored them in (head, i, j) order (reshape to
    /// [heads, 2, half, cols], swap axes 1 and 2). So stored row head·hd + 2i + j goes back to head·hd + j·half + i.
    static func unpermute(rows: Int, heads: Int) -> @Sendable (Int) -> Int {
        let headDim = rows / heads
        let half = headDim / 2
        return { stored in
            let head = stored / headDim
            let within = stored % headDim
            return head * headDim + (within % 2) * half + within / 2
        }
    }
}

extension GGUFFile {
    /// This file with Hugging Face names and layouts (see `GGUFHuggingFaceView`).
    public func huggingFaceView() throws -> GGUFHuggingFaceView { try GGUFHuggingFaceView(self) }
}
