import Checkpoints
import Foundation
import Testing

/// Builds GGUF byte streams field by field, so a test can write exactly the broken file it wants.
struct GGUFBuilder {
    var bytes: [UInt8] = []

    mutating func u32(_ value: UInt32) { withUnsafeBytes(of: value.littleEndian) { bytes += $0 } }
    mutating func u64(_ value: UInt64) { withUnsafeBytes(of: value.littleEndian) { bytes += $0 } }
    mutating func string(_ text: String) { u64(UInt64(text.utf8.count)); bytes += Array(text.utf8) }
    mutating func header(version: UInt32 = 3, tensors: UInt64, keyValues: UInt64) {
        bytes += Array("GGUF".utf8)
        u32(version)
        u64(tensors)
        u64(keyValues)
    }
    mutating func tensorInfo(_ name: String, ne: [UInt64], type: UInt32, offset: UInt64) {
        string(name)
        u32(UInt32(ne.count))
        for dimension in ne { u64(dimension) }
        u32(type)
        u64(offset)
    }
    mutating func pad(to alignment: Int) { while bytes.count % alignment != 0 { bytes.append(0) } }

    /// A valid file: one uint32 key and one F32 tensor of `ne = [4, 2]`.
    static func valid() -> GGUFBuilder {
        var builder = GGUFBuilder()
        builder.header(tensors: 1, keyValues: 1)
        builder.string("general.architecture")
        builder.u32(8)
        builder.string("qwen3")
        builder.tensorInfo("t", ne: [4, 2], type: 0, offset: 0)
        builder.pad(to: 32)
        for index in 0..<8 { withUnsafeBytes(of: Float(index).bitPattern.littleEndian) { builder.bytes += $0 } }
        return builder
    }
}

@Suite("GGUF reader refuses corrupt and truncated files with errors naming the problem")
struct GGUFCorruptionTests {
    let folder: URL

    init() throws { folder = try Fixtures.temporaryFolder() }

    func open(_ bytes: [UInt8], _ label: String = #function) throws -> GGUFFile {
        let url = folder.appendingPathComponent("\(label.filter { $0.isLetter }).gguf")
        try Data(bytes).write(to: url)
        return try GGUFFile(url: url)
    }

    /// The problem text of the corrupt-file error opening `bytes` raises.
    func problem(_ bytes: [UInt8], tensor: String? = nil, _ label: String = #function,
                 sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        do {
            _ = try open(bytes, label)
        } catch let error as CheckpointError {
            switch error {
            case let .corrupt(file, foundTensor, problem):
                #expect(file.hasPrefix(folder.path), sourceLocation: sourceLocation)
                #expect(foundTensor == tensor, sourceLocation: sourceLocation)
                return problem
            case let .badMetadata(_, key, problem):
                return "\(key): \(problem)"
            default:
                Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
                return ""
            }
        }
        Issue.record("the file opened without error", sourceLocation: sourceLocation)
        return ""
    }

    @Test("The hand-built reference file is valid and reads back")
    func builderIsValid() throws {
        let file = try open(GGUFBuilder.valid().bytes)
        #expect(file.architecture == "qwen3")
        #expect(try file.loadFloat32("t").array == [0, 1, 2, 3, 4, 5, 6, 7])
        #expect(try file.huggingFaceView().tensorNames == ["t"])
    }

    @Test("Wrong magic, version 1, an unknown version and big-endian files are refused")
    func headerProblems() throws {
        var magic = GGUFBuilder.valid().bytes
        magic[0] = UInt8(ascii: "X")
        #expect(try problem(magic).contains("not a GGUF file"))
        var v1 = GGUFBuilder.valid().bytes
        v1[4] = 1
        #expect(try problem(v1).contains("version 1 is not supported"))
        var v9 = GGUFBuilder.valid().bytes
        v9[4] = 9
        #expect(try problem(v9).contains("unknown GGUF version 9"))
        var bigEndian = GGUFBuilder.valid().bytes
        bigEndian.replaceSubrange(4..<8, with: [0, 0, 0, 3])
        #expect(try problem(bigEndian).contains("big-endian"))
    }

    @Test("A file cut anywhere is refused as truncated, never a crash")
    func truncatedEverywhere() throws {
        let full = try Data(contentsOf: Fixtures.url("tiny-gguf.bin"))
        let file = try GGUFFile(url: Fixtures.url("tiny-gguf.bin"))
        // Every cut inside the header and metadata, then a sample of cuts inside the data area.
        let cuts = Array(0..<file.dataStart) + Array(stride(from: file.dataStart, to: full.count, by: 97))
        var failures = 0
        for cut in cuts {
            let url = folder.appendingPathComponent("cut.gguf")
            try full.prefix(cut).write(to: url)
            do {
                _ = try GGUFFile(url: url)
                failures += 1
            } catch let error as CheckpointError {
                guard case let .corrupt(_, _, problem) = error,
                      problem.contains("truncated") || problem.contains("not a GGUF file") else {
                    Issue.record("cut at \(cut): unexpected \(error)")
                    return
                }
            }
        }
        #expect(failures == 0)
    }

    @Test("Random byte flips in the header give a file or a clear error, never a crash")
    func byteFlips() throws {
        let full = Array(try Data(contentsOf: Fixtures.url("tiny-gguf.bin")))
        let headerEnd = try GGUFFile(url: Fixtures.url("tiny-gguf.bin")).dataStart
        var generator = SplitMix(seed: 42)
        var opened = 0, refused = 0
        for _ in 0..<400 {
            var bytes = full
            let position = Int(generator.next() % UInt64(headerEnd))
            bytes[position] ^= UInt8(truncatingIfNeeded: generator.next() | 1)
            let url = folder.appendingPathComponent("flip.gguf")
            try Data(bytes).write(to: url)
            let file: GGUFFile
            do {
                file = try GGUFFile(url: url)
            } catch is CheckpointError {
                refused += 1
                continue
            }
            opened += 1
            for name in file.tensorNames {
                do { _ = try file.loadFloat32(name) } catch is CheckpointError {}
            }
        }
        // Both outcomes occur: flips inside string bytes are harmless, flips in lengths and types are caught.
        #expect(opened > 0)
        #expect(refused > 0)
    }

    @Test("Unknown value types, bad bools, absurd array lengths and duplicate keys are refused")
    func metadataProblems() throws {
        var unknownType = GGUFBuilder()
        unknownType.header(tensors: 0, keyValues: 1)
        unknownType.string("k")
        unknownType.u32(13)
        #expect(try problem(unknownType.bytes).contains("unknown value type 13"))

        var badBool = GGUFBuilder()
        badBool.header(tensors: 0, keyValues: 1)
        badBool.string("flag")
        badBool.u32(7)
        badBool.bytes.append(2)
        #expect(try problem(badBool.bytes).contains("not 0 or 1"))

        var hugeArray = GGUFBuilder()
        hugeArray.header(tensors: 0, keyValues: 1)
        hugeArray.string("list")
        hugeArray.u32(9)
        hugeArray.u32(4)
        hugeArray.u64(1 << 60)
        #expect(try problem(hugeArray.bytes).contains("array length of 'list'"))

        var hugeCount = GGUFBuilder()
        hugeCount.header(tensors: 1 << 40, keyValues: 0)
        #expect(try problem(hugeCount.bytes).contains("tensor count"))

        var duplicate = GGUFBuilder()
        duplicate.header(tensors: 0, keyValues: 2)
        for _ in 0..<2 { duplicate.string("k"); duplicate.u32(4); duplicate.u32(1) }
        #expect(try problem(duplicate.bytes).contains("appears twice"))

        var badAlignment = GGUFBuilder()
        badAlignment.header(tensors: 0, keyValues: 1)
        badAlignment.string("general.alignment")
        badAlignment.u32(4)
        badAlignment.u32(24)
        #expect(try problem(badAlignment.bytes).contains("general.alignment: must be a uint32 power of two"))

        var deep = GGUFBuilder()
        deep.header(tensors: 0, keyValues: 1)
        deep.string("deep")
        deep.u32(9)
        for _ in 0..<20 { deep.u32(9); deep.u64(1) }
        #expect(try problem(deep.bytes).contains("nest deeper"))
    }

    @Test("Bad tensor records are refused naming the tensor")
    func tensorProblems() throws {
        func file(_ info: (inout GGUFBuilder) -> Void, dataBytes: Int = 64) -> [UInt8] {
            var builder = GGUFBuilder()
            builder.header(tensors: 1, keyValues: 0)
            info(&builder)
            builder.pad(to: 32)
            builder.bytes += [UInt8](repeating: 0, count: dataBytes)
            return builder.bytes
        }
        #expect(try problem(file { $0.tensorInfo("w", ne: [4, 2], type: 99, offset: 0) }, tensor: "w").contains("unknown ggml type id 99"))
        #expect(try problem(file { $0.tensorInfo("w", ne: [], type: 0, offset: 0) }, tensor: "w").contains("0 dimensions"))
        #expect(try problem(file { $0.tensorInfo("w", ne: [48, 1], type: 2, offset: 0) }, tensor: "w")
            .contains("not a multiple of the Q4_0 block size 32"))
        #expect(try problem(file { $0.tensorInfo("w", ne: [4, 2], type: 0, offset: 8) }, tensor: "w").contains("alignment"))
        #expect(try problem(file({ $0.tensorInfo("w", ne: [4, 2], type: 0, offset: 0) }, dataBytes: 16), tensor: "w")
            .contains("truncated"))
        #expect(try problem(file { $0.tensorInfo("w", ne: [1 << 40, 1 << 40], type: 0, offset: 0) }, tensor: "w")
            .contains("absurd"))

        var overlap = GGUFBuilder()
        overlap.header(tensors: 2, keyValues: 0)
        overlap.tensorInfo("a", ne: [16], type: 0, offset: 0)
        overlap.tensorInfo("b", ne: [16], type: 0, offset: 32)
        overlap.pad(to: 32)
        overlap.bytes += [UInt8](repeating: 0, count: 128)
        let text = try problem(overlap.bytes, tensor: "b")
        #expect(text.contains("overlaps tensor 'a'"))

        var twice = GGUFBuilder()
        twice.header(tensors: 2, keyValues: 0)
        twice.tensorInfo("a", ne: [8], type: 0, offset: 0)
        twice.tensorInfo("a", ne: [8], type: 0, offset: 32)
        twice.pad(to: 32)
        twice.bytes += [UInt8](repeating: 0, count: 64)
        #expect(try problem(twice.bytes, tensor: "a").contains("appears twice"))
    }

    @Test("A llama q bias is un-permuted element by element, like the weight's rows")
    func biasIsUnpermuted() throws {
        var builder = GGUFBuilder()
        builder.header(tensors: 1, keyValues: 2)
        builder.string("general.architecture"); builder.u32(8); builder.string("llama")
        builder.string("llama.attention.head_count"); builder.u32(4); builder.u32(2)
        builder.tensorInfo("blk.0.attn_q.bias", ne: [8], type: 0, offset: 0)
        builder.pad(to: 32)
        for index in 0..<8 { withUnsafeBytes(of: Float(index).bitPattern.littleEndian) { builder.bytes += $0 } }
        let view = try open(builder.bytes).huggingFaceView()
        #expect(view.isPermuted("model.layers.0.self_attn.q_proj.bias"))
        // Stored element h·4 + 2i + j holds Hugging Face element h·4 + 2j + i (2 heads of 4, halves of 2).
        #expect(try view.loadFloat32("model.layers.0.self_attn.q_proj.bias").array == [0, 2, 1, 3, 4, 6, 5, 7])
    }

    @Test("qwen3 q/k rows are not permuted by the converter, so the Hugging Face view leaves them alone")
    func qwenIsNotPermuted() throws {
        var builder = GGUFBuilder()
        builder.header(tensors: 1, keyValues: 2)
        builder.string("general.architecture"); builder.u32(8); builder.string("qwen3")
        builder.string("qwen3.attention.head_count"); builder.u32(4); builder.u32(2)
        builder.tensorInfo("blk.0.attn_q.weight", ne: [2, 8], type: 0, offset: 0)
        builder.pad(to: 32)
        for index in 0..<16 { withUnsafeBytes(of: Float(index).bitPattern.littleEndian) { builder.bytes += $0 } }
        let view = try open(builder.bytes).huggingFaceView()
        #expect(!view.isPermuted("model.layers.0.self_attn.q_proj.weight"))
        let values = try view.loadFloat32("model.layers.0.self_attn.q_proj.weight", expectedShape: [8, 2]).array
        #expect(values == (0..<16).map(Float.init))
    }

    @Test("A llama file whose q rows cannot be split into heads is refused by the Hugging Face view")
    func badHeadCount() throws {
        var builder = GGUFBuilder()
        builder.header(tensors: 1, keyValues: 2)
        builder.string("general.architecture"); builder.u32(8); builder.string("llama")
        builder.string("llama.attention.head_count"); builder.u32(4); builder.u32(3)
        builder.tensorInfo("blk.0.attn_q.weight", ne: [4, 8], type: 0, offset: 0)
        builder.pad(to: 32)
        builder.bytes += [UInt8](repeating: 0, count: 128)
        let file = try open(builder.bytes)
        let error = #expect(throws: CheckpointError.self) { try file.huggingFaceView() }
        guard case let .corrupt(_, tensor, problem) = error else {
            Issue.record("expected corrupt, got \(String(describing: error))")
            return
        }
        #expect(tensor == "blk.0.attn_q.weight")
        #expect(problem.contains("3 heads"))
    }
}

/// A small deterministic random number generator for reproducible fuzzing.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
