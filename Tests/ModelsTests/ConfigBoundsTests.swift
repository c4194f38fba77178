import Checkpoints
import Foundation
import Models
import Testing

/// A corrupt config must get an error naming the key, not an allocation or an overflowing
/// product that ends the process. The GGUF fuzzer (`make fuzz`) found the first case: a
/// `block_count` of 352,327,425 made the loader reserve 124 GB for the layer list.
struct ConfigBoundsTests {
    /// The tiny Llama GGUF with the UINT32 metadata value of `key` replaced by `value`.
    static func patched(_ key: String, to value: UInt32) throws -> URL {
        var bytes = [UInt8](try Data(contentsOf: Fixtures.root.appendingPathComponent("tiny-llama-mixed-gguf.bin")))
        let needle = Array(key.utf8)
        let start = try #require((0...(bytes.count - needle.count)).first { bytes[$0..<($0 + needle.count)].elementsEqual(needle) })
        let typeOffset = start + needle.count
        #expect(bytes[typeOffset..<(typeOffset + 4)].elementsEqual([4, 0, 0, 0]), "\(key) is stored as UINT32")
        withUnsafeBytes(of: value.littleEndian) { bytes.replaceSubrange((typeOffset + 4)..<(typeOffset + 8), with: $0) }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("bounds-\(key)-\(value).gguf")
        try Data(bytes).write(to: url)
        return url
    }

    @Test("An absurd layer count, dimension or context length in a GGUF is an error that names the key",
          arguments: [("llama.block_count", UInt32(352_327_425), "num_hidden_layers"),
                      ("llama.embedding_length", UInt32(1 << 21), "hidden_size"),
                      ("llama.context_length", UInt32.max, "max_position_embeddings")])
    func absurdValues(key: String, value: UInt32, reported: String) throws {
        let url = try Self.patched(key, to: value)
        defer { try? FileManager.default.removeItem(at: url) }
        do {
            _ = try TransformerModel.load(gguf: GGUFFile(url: url))
            Issue.record("\(key) = \(value) was accepted")
        } catch let error as ModelConfigError {
            guard case let .invalid(_, errorKey, problem) = error else {
                Issue.record("unexpected error: \(error)")
                return
            }
            #expect(errorKey == reported, "\(error)")
            #expect(problem.contains(String(value)), "\(error)")
        }
    }

    @Test("Real context lengths stay well inside the bound: 1 M positions at head_dim 128")
    func realContextsFit() {
        #expect(1_010_000 * 64 <= ModelConfig.maxRotaryTableEntries)
        #expect(262_144 <= ModelConfig.maxDimension)
    }
}
