/// The parsed and validated header of a safetensors file.
///
/// Layout: 8 bytes little-endian header length `n`, `n` bytes of UTF-8 JSON, then the data area. The JSON maps
/// each tensor name to `{"dtype", "shape", "data_offsets": [begin, end]}` (offsets relative to the data area)
/// plus an optional `"__metadata__"` object of strings. Validation follows the reference library: the tensors,
/// taken in offset order, must tile the data area exactly (no gaps, no overlaps), each range must hold
/// exactly shape × dtype bytes, and the data area must end at the end of the file.
struct SafetensorsHeader {
    struct Entry {
        let info: TensorInfo
        /// Byte range relative to the data area.
        let begin: Int
        let end: Int
    }

    /// The reference library refuses larger headers; so do we, before allocating anything.
    static let maxHeaderLength = 100_000_000

    let entries: [String: Entry]
    let metadata: [String: String]
    /// Absolute file offset of the data area (8 + header length).
    let dataStart: Int

    /// What a file that cannot be safetensors is, from its first bytes: a GGUF file, or JSON
    /// text (a `config.json` or `tokenizer.json` given where a checkpoint was meant).
    static func otherKind(_ file: MappedFile) -> String? {
        let first = file.bytes.load(as: UInt32.self)
        if first == 0x4655_4747 { return "a GGUF file" }  // "GGUF", little-endian
        var index = 0
        while index < min(file.size, 64), [0x20, 0x09, 0x0A, 0x0D].contains(file.bytes.load(fromByteOffset: index, as: UInt8.self)) {
            index += 1
        }
        guard index < file.size else { return nil }
        let byte = file.bytes.load(fromByteOffset: index, as: UInt8.self)
        return byte == UInt8(ascii: "{") || byte == UInt8(ascii: "[") ? "JSON text (give the folder that holds it, or the checkpoint file)" : nil
    }

    init(file: MappedFile) throws {
        let path = file.path
        guard file.size >= 8 else {
            throw CheckpointError.corrupt(file: path, tensor: nil,
                                          problem: "file is \(file.size) bytes, too short for the 8-byte header length")
        }
        let declared = file.bytes.loadUnaligned(as: UInt64.self)
        // A file of another kind given by mistake says what it is, rather than "corrupt" (only
        // when the header length is impossible: a real header may start with any byte).
        if declared > UInt64(SafetensorsHeader.maxHeaderLength) || 8 + Int(declared) > file.size, let kind = Self.otherKind(file) {
            throw CheckpointError.unrecognised(path: path, problem: "this is \(kind), not a safetensors file")
        }
        guard declared <= UInt64(SafetensorsHeader.maxHeaderLength) else {
            throw CheckpointError.corrupt(file: path, tensor: nil,
                                          problem: "header length \(declared) exceeds the limit of \(SafetensorsHeader.maxHeaderLength) bytes")
        }
        let length = Int(declared)
        guard 8 + length <= file.size else {
            throw CheckpointError.corrupt(file: path, tensor: nil,
                                          problem: "header length \(length) runs past the end of the file (\(file.size) bytes)")
        }
        let json: JSONValue
        do {
            json = try JSONValue.parse(file.slice(8, length))
        } catch {
            throw CheckpointError.corrupt(file: path, tensor: nil, problem: "header: \(error.message)")
        }
        guard case let .object(members) = json else {
            throw CheckpointError.corrupt(file: path, tensor: nil, problem: "header is \(json.typeName), not a JSON object")
        }
        var metadata: [String: String] = [:]
        var entries: [String: Entry] = [:]
        for (name, value) in members {
            if name == "__metadata__" {
                metadata = try SafetensorsHeader.parseMetadata(value, file: path)
            } else {
                entries[name] = try SafetensorsHeader.parseEntry(name: name, value, file: path)
            }
        }
        dataStart = 8 + length
        try SafetensorsHeader.checkLayout(entries, dataSize: file.size - dataStart, file: path)
        self.entries = entries
        self.metadata = metadata
    }

    private static func parseMetadata(_ value: JSONValue, file: String) throws -> [String: String] {
        guard case let .object(members) = value else {
            throw CheckpointError.corrupt(file: file, tensor: nil, problem: "__metadata__ is \(value.typeName), not an object")
        }
        var result: [String: String] = [:]
        for (key, item) in members {
            guard case let .string(text) = item else {
                throw CheckpointError.corrupt(file: file, tensor: nil,
                                              problem: "__metadata__.\(key) is \(item.typeName), not a string")
            }
            result[key] = text
        }
        return result
    }

    private static func parseEntry(name: String, _ value: JSONValue, file: String) throws -> Entry {
        func bad(_ problem: String) -> CheckpointError { .corrupt(file: file, tensor: name, problem: problem) }
        guard case let .object(fields) = value else { throw bad("entry is \(value.typeName), not an object") }
        func field(_ key: String) throws -> JSONValue {
            guard let found = fields.first(where: { $0.key == key }) else { throw bad("missing \"\(key)\"") }
            return found.value
        }
        func naturals(_ key: String) throws -> [Int] {
            guard case let .array(items) = try field(key) else { throw bad("\"\(key)\" is not an array") }
            return try items.map { item in
                guard case let .integer(number) = item, number >= 0 else {
                    throw bad("\"\(key)\" holds \(item.serialized()), not a non-negative integer")
                }
                return number
            }
        }
        guard case let .string(dtypeText) = try field("dtype") else { throw bad("\"dtype\" is not a string") }
        guard let dataType = TensorDataType(rawValue: dtypeText), let elementSize = ElementReader.elementSize(dataType)
        else { throw bad("unsupported dtype \"\(dtypeText)\"") }
        let shape = try naturals("shape")
        let offsets = try naturals("data_offsets")
        guard offsets.count == 2 else { throw bad("\"data_offsets\" has \(offsets.count) numbers, not 2") }
        guard offsets[0] <= offsets[1] else {
            throw bad("data_offsets [\(offsets[0]), \(offsets[1])] end before they begin")
        }
        var byteCount = elementSize
        for dimension in shape {
            let (product, overflow) = byteCount.multipliedReportingOverflow(by: dimension)
            guard !overflow else { throw bad("shape \(shape) is too large") }
            byteCount = product
        }
        guard offsets[1] - offsets[0] == byteCount else {
            throw bad("dtype \(dtypeText) and shape \(shape) need \(byteCount) bytes but data_offsets [\(offsets[0]), \(offsets[1])] hold \(offsets[1] - offsets[0])")
        }
        return Entry(info: TensorInfo(name: name, dataType: dataType, shape: shape), begin: offsets[0], end: offsets[1])
    }

    /// The tensors must tile `[0, dataSize)` exactly, as the reference library requires.
    private static func checkLayout(_ entries: [String: Entry], dataSize: Int, file: String) throws {
        let ordered = entries.values.sorted { ($0.begin, $0.end, $0.info.name) < ($1.begin, $1.end, $1.info.name) }
        var position = 0
        var previous: Entry?
        for entry in ordered {
            if entry.begin < position, let previous {
                throw CheckpointError.corrupt(file: file, tensor: entry.info.name,
                                              problem: "data_offsets [\(entry.begin), \(entry.end)] overlap tensor '\(previous.info.name)' at [\(previous.begin), \(previous.end)]")
            }
            if entry.begin > position {
                throw CheckpointError.corrupt(file: file, tensor: entry.info.name,
                                              problem: "data_offsets [\(entry.begin), \(entry.end)] leave a gap: the previous tensor ends at \(position)")
            }
            if entry.end > dataSize {
                throw CheckpointError.corrupt(file: file, tensor: entry.info.name,
                                              problem: "data_offsets [\(entry.begin), \(entry.end)] run past the end of the data (\(dataSize) bytes after the header): the file is truncated")
            }
            position = entry.end
            previous = entry
        }
        guard position == dataSize else {
            throw CheckpointError.corrupt(file: file, tensor: nil,
                                          problem: "\(dataSize - position) bytes after the last tensor are not covered by any tensor")
        }
    }
}
