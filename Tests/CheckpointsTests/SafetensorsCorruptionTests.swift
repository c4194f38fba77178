import Checkpoints
import Foundation
import Testing

/// Broken files made from the real fixtures: each must be refused with an error that names the file, the
/// tensor where there is one, and the problem.
@Suite("Safetensors reader refuses corrupt and truncated files")
struct SafetensorsCorruptionTests {
    let original: Data
    let folder: URL

    init() throws {
        original = try Fixtures.data("tiny-llama/model.safetensors")
        folder = try Fixtures.temporaryFolder()
    }

    /// Writes `data` to a scratch file and returns the error opening it raises.
    func openError(_ data: Data, _ label: String = #function) throws -> CheckpointError? {
        let url = folder.appendingPathComponent("\(label.filter { $0.isLetter }).safetensors")
        try data.write(to: url)
        return #expect(throws: CheckpointError.self) { _ = try openCheckpoint(url) }
    }

    func expectCorrupt(_ error: CheckpointError?, tensor: String?, mentioning words: [String],
                       sourceLocation: SourceLocation = #_sourceLocation) {
        guard case let .corrupt(file, foundTensor, problem) = error else {
            Issue.record("expected a corrupt-file error, got \(String(describing: error))", sourceLocation: sourceLocation)
            return
        }
        #expect(file.hasPrefix(folder.path), sourceLocation: sourceLocation)
        #expect(foundTensor == tensor, sourceLocation: sourceLocation)
        for word in words {
            #expect(problem.contains(word), "'\(problem)' should mention '\(word)'", sourceLocation: sourceLocation)
        }
        let text = error?.description ?? ""
        #expect(text.contains(file), sourceLocation: sourceLocation)
        if let tensor { #expect(text.contains(tensor), sourceLocation: sourceLocation) }
    }

    @Test("A file shorter than the 8-byte length prefix is refused")
    func tooShort() throws {
        expectCorrupt(try openError(original.prefix(5)), tensor: nil, mentioning: ["too short"])
        expectCorrupt(try openError(Data()), tensor: nil, mentioning: ["0 bytes"])
    }

    @Test("A JSON or GGUF file given where safetensors are expected says what it is, not that it is corrupt")
    func otherKinds() throws {
        let json = try openError(Data("{\n  \"architectures\": [\"LlamaForCausalLM\"]\n}\n".utf8))
        guard case let .unrecognised(_, problem)? = json else { Issue.record("got \(String(describing: json))"); return }
        #expect(problem.contains("JSON text"))
        let url = folder.appendingPathComponent("model.gguf.safetensors")
        try (Data("GGUF".utf8) + Data([3, 0, 0, 0]) + Data(repeating: 0xFF, count: 64)).write(to: url)
        #expect {
            _ = try SafetensorsFile(url: url)
        } throws: { error in
            guard case let .unrecognised(_, problem)? = error as? CheckpointError else { return false }
            return problem.contains("a GGUF file")
        }
        // A real header whose length starts with the byte of "{" (123) is still read as safetensors.
        var header = Data("{\"__metadata__\":{}}".utf8)
        header.append(Data(repeating: 0x20, count: 123 - header.count))
        let padded = Data([123, 0, 0, 0, 0, 0, 0, 0]) + header
        let real = folder.appendingPathComponent("brace.safetensors")
        try padded.write(to: real)
        #expect(try SafetensorsFile(url: real).tensorNames.isEmpty)
    }

    @Test("A header cut short is refused")
    func cutHeader() throws {
        expectCorrupt(try openError(original.prefix(8 + 100)), tensor: nil, mentioning: ["runs past the end"])
    }

    @Test("An absurd header length is refused before anything is allocated")
    func hugeHeaderLength() throws {
        var data = original
        data.replaceSubrange(0..<8, with: [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F])
        expectCorrupt(try openError(data), tensor: nil, mentioning: ["exceeds the limit"])
    }

    @Test("Header text that is not JSON is refused with the byte position")
    func badJSON() throws {
        var data = original
        #expect(data[8 + 15] == UInt8(ascii: ":"))  // {"__metadata__":{...
        data[8 + 15] = UInt8(ascii: "}")
        expectCorrupt(try openError(data), tensor: nil, mentioning: ["invalid JSON", "byte"])
        var notObject = original
        notObject[8] = UInt8(ascii: "[")
        expectCorrupt(try openError(notObject), tensor: nil, mentioning: ["invalid JSON"])
    }

    @Test("Header JSON that is valid but not an object of entries is refused")
    func wrongJSONShape() throws {
        let body = HeaderSurgery.split(original).body
        var list = try JSONSerialization.data(withJSONObject: [1, 2])
        while list.count % 8 != 0 { list.append(0x20) }
        var data = Data()
        withUnsafeBytes(of: UInt64(list.count).littleEndian) { data.append(contentsOf: $0) }
        expectCorrupt(try openError(data + list + body), tensor: nil, mentioning: ["not a JSON object"])

        let entry = try HeaderSurgery.edited(original) { $0["lm_head.weight"] = "oops" }
        expectCorrupt(try openError(entry), tensor: "lm_head.weight", mentioning: ["not an object"])
        let noDtype = try HeaderSurgery.edited(original) { header in
            var item = header["lm_head.weight"] as? [String: Any] ?? [:]
            item["dtype"] = nil
            header["lm_head.weight"] = item
        }
        expectCorrupt(try openError(noDtype), tensor: "lm_head.weight", mentioning: ["missing \"dtype\""])
        let badMetadata = try HeaderSurgery.edited(original) { $0["__metadata__"] = ["format": 3] }
        expectCorrupt(try openError(badMetadata), tensor: nil, mentioning: ["__metadata__.format", "not a string"])
    }

    @Test("An unknown dtype is refused naming it")
    func unknownDtype() throws {
        let data = try HeaderSurgery.edited(original) { header in
            var item = header["model.norm.weight"] as? [String: Any] ?? [:]
            item["dtype"] = "F8_E4M3"
            header["model.norm.weight"] = item
        }
        expectCorrupt(try openError(data), tensor: "model.norm.weight", mentioning: ["F8_E4M3"])
    }

    @Test("A truncated data area is refused naming the tensor that runs past the end")
    func truncatedData() throws {
        let last = try #require(HeaderSurgery.layout(HeaderSurgery.split(original).header).last)
        expectCorrupt(try openError(original.prefix(original.count - 4)), tensor: last.name,
                      mentioning: ["run past the end", "truncated"])
    }

    @Test("Offsets pointing past the end of the file are refused")
    func offsetsPastTheEnd() throws {
        let layout = HeaderSurgery.layout(HeaderSurgery.split(original).header)
        let last = try #require(layout.last)
        let data = try HeaderSurgery.edited(original) { header in
            var item = header[last.name] as? [String: Any] ?? [:]
            item["data_offsets"] = [last.begin, last.end + 4096]
            item["shape"] = [(last.end + 4096 - last.begin) / 4]
            header[last.name] = item
        }
        expectCorrupt(try openError(data), tensor: last.name, mentioning: ["run past the end"])
    }

    @Test("Overlapping byte ranges are refused naming both tensors")
    func overlappingRanges() throws {
        let layout = HeaderSurgery.layout(HeaderSurgery.split(original).header)
        // Two neighbours of equal size: give the second the first one's range.
        let pair = try #require(zip(layout, layout.dropFirst()).first { $0.end - $0.begin == $1.end - $1.begin })
        let data = try HeaderSurgery.edited(original) { header in
            var item = header[pair.1.name] as? [String: Any] ?? [:]
            item["data_offsets"] = [pair.0.begin, pair.0.end]
            header[pair.1.name] = item
        }
        guard case let .corrupt(_, tensor?, problem) = try openError(data) else {
            Issue.record("expected a corrupt-file error")
            return
        }
        #expect([pair.0.name, pair.1.name].contains(tensor))
        #expect(problem.contains("overlap"))
        #expect(problem.contains(pair.0.name) || problem.contains(pair.1.name))
    }

    @Test("A gap between tensors is refused")
    func gap() throws {
        let data = try HeaderSurgery.edited(original) { header in
            for (name, value) in header {
                guard var item = value as? [String: Any], let offsets = item["data_offsets"] as? [Int] else { continue }
                item["data_offsets"] = [offsets[0] + 8, offsets[1] + 8]
                header[name] = item
            }
        }
        var padded = data
        padded.append(Data(repeating: 0, count: 8))
        guard case let .corrupt(_, tensor?, problem) = try openError(padded) else {
            Issue.record("expected a corrupt-file error")
            return
        }
        #expect(tensor == HeaderSurgery.layout(HeaderSurgery.split(original).header).first?.name)
        #expect(problem.contains("gap"))
    }

    @Test("A dtype and shape that disagree with the byte range are refused naming the sizes")
    func sizeMismatch() throws {
        let data = try HeaderSurgery.edited(original) { header in
            var item = header["model.layers.1.self_attn.v_proj.weight"] as? [String: Any] ?? [:]
            item["shape"] = [32, 63]
            header["model.layers.1.self_attn.v_proj.weight"] = item
        }
        expectCorrupt(try openError(data), tensor: "model.layers.1.self_attn.v_proj.weight",
                      mentioning: ["[32, 63]", "8064 bytes", "8192"])
        let asHalf = try HeaderSurgery.edited(original) { header in
            var item = header["model.norm.weight"] as? [String: Any] ?? [:]
            item["dtype"] = "BF16"
            header["model.norm.weight"] = item
        }
        expectCorrupt(try openError(asHalf), tensor: "model.norm.weight", mentioning: ["BF16", "128 bytes"])
        let negative = try HeaderSurgery.edited(original) { header in
            var item = header["model.norm.weight"] as? [String: Any] ?? [:]
            item["shape"] = [-64]
            header["model.norm.weight"] = item
        }
        expectCorrupt(try openError(negative), tensor: "model.norm.weight", mentioning: ["non-negative integer"])
    }

    @Test("Bytes after the last tensor are refused, as the reference library does")
    func trailingBytes() throws {
        expectCorrupt(try openError(original + Data(repeating: 0, count: 16)), tensor: nil, mentioning: ["16 bytes"])
    }

    @Test("A BOOL byte other than 0 or 1 is refused when loaded")
    func badBool() throws {
        var data = try Fixtures.data("tiny-eagle3/model.safetensors")
        let (header, _) = HeaderSurgery.split(data)
        let headerLength = Int(data.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        let t2d = try #require(HeaderSurgery.layout(header).first { $0.name == "t2d" })
        data[8 + headerLength + t2d.begin + 5] = 7
        let url = folder.appendingPathComponent("bad-bool.safetensors")
        try data.write(to: url)
        let source = try SafetensorsFile(url: url)
        let error = #expect(throws: CheckpointError.self) { try source.loadBool("t2d") }
        #expect(error == .corrupt(file: url.path, tensor: "t2d", problem: "BOOL element 5 is byte 7, not 0 or 1"))
    }

    @Test("Paths that are not checkpoints give clear errors")
    func notCheckpoints() throws {
        let missing = folder.appendingPathComponent("nothing-here")
        #expect(throws: CheckpointError.unreadable(file: missing.path, problem: "no such file or folder")) {
            try openCheckpoint(missing)
        }
        let empty = folder.appendingPathComponent("empty-folder")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        let error = #expect(throws: CheckpointError.self) { try openCheckpoint(empty) }
        guard case .unrecognised(let path, _) = error else {
            Issue.record("expected unrecognised, got \(String(describing: error))")
            return
        }
        #expect(path == empty.path)
    }
}
