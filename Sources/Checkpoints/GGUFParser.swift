/// Reads the GGUF header, metadata key-values and tensor infos from a mapped file, checking every length
/// against the bytes that are actually there, so a truncated or corrupt file becomes an error, never a crash
/// or a giant allocation.
///
/// Layout (v2/v3, little-endian): "GGUF", u32 version, u64 tensor count, u64 key-value count, the key-values
/// (string key, u32 value type, value), the tensor infos (string name, u32 n_dims, u64 ne[n_dims] innermost
/// first, u32 ggml type, u64 offset into the data area), padding to `general.alignment`, the data area.
struct GGUFParser {
    let file: MappedFile
    private(set) var offset = 0
    /// How deep arrays of arrays may nest before we call the file corrupt.
    static let maxArrayDepth = 8

    init(file: MappedFile) { self.file = file }

    func corrupt(_ problem: String, tensor: String? = nil) -> CheckpointError {
        .corrupt(file: file.path, tensor: tensor, problem: problem)
    }

    mutating func need(_ count: Int, _ what: String) throws {
        guard count >= 0, count <= file.size - offset else {
            throw corrupt("truncated: \(what) at byte \(offset) needs \(count) bytes but the file ends at byte \(file.size)")
        }
    }

    mutating func read<T: FixedWidthInteger>(_ type: T.Type, _ what: String) throws -> T {
        try need(MemoryLayout<T>.size, what)
        let value = T(littleEndian: file.bytes.loadUnaligned(fromByteOffset: offset, as: T.self))
        offset += MemoryLayout<T>.size
        return value
    }

    /// A count that must fit in the remaining file at `minimumBytesEach` bytes per item.
    mutating func readCount(_ what: String, minimumBytesEach: Int) throws -> Int {
        let raw = try read(UInt64.self, what)
        let remaining = UInt64(file.size - offset)
        guard raw <= remaining / UInt64(max(minimumBytesEach, 1)) else {
            throw corrupt("\(what) is \(raw), more than the \(remaining) bytes left in the file can hold (truncated or corrupt)")
        }
        return Int(raw)
    }

    /// A GGUF string: u64 length then UTF-8 bytes. `strict` refuses invalid UTF-8 (keys, tensor names);
    /// otherwise invalid sequences are replaced, as a value is better shown damaged than not at all.
    mutating func readString(_ what: String, strict: Bool) throws -> String {
        let length = try readCount("length of \(what)", minimumBytesEach: 1)
        try need(length, what)
        let bytes = file.slice(offset, length)
        offset += length
        if strict {
            guard let text = String(validating: bytes, as: UTF8.self) else { throw corrupt("\(what) is not valid UTF-8") }
            return text
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    mutating func readValue(type: UInt32, key: String, depth: Int) throws -> GGUFValue {
        let what = "value of '\(key)'"
        switch type {
        case 0: return .uint8(try read(UInt8.self, what))
        case 1: return .int8(try read(Int8.self, what))
        case 2: return .uint16(try read(UInt16.self, what))
        case 3: return .int16(try read(Int16.self, what))
        case 4: return .uint32(try read(UInt32.self, what))
        case 5: return .int32(try read(Int32.self, what))
        case 6: return .float32(Float(bitPattern: try read(UInt32.self, what)))
        case 7:
            let byte = try read(UInt8.self, what)
            guard byte <= 1 else { throw corrupt("bool \(what) is byte \(byte), not 0 or 1") }
            return .bool(byte == 1)
        case 8: return .string(try readString(what, strict: false))
        case 9:
            guard depth < GGUFParser.maxArrayDepth else { throw corrupt("arrays in '\(key)' nest deeper than \(GGUFParser.maxArrayDepth)") }
            let elementType = try read(UInt32.self, "array type of '\(key)'")
            let minimum = GGUFParser.minimumSize(ofValueType: elementType)
            guard minimum > 0 else { throw corrupt("array '\(key)' has unknown element type \(elementType)") }
            let count = try readCount("array length of '\(key)'", minimumBytesEach: minimum)
            var elements: [GGUFValue] = []
            elements.reserveCapacity(count)
            for _ in 0..<count { elements.append(try readValue(type: elementType, key: key, depth: depth + 1)) }
            return .array(elements)
        case 10: return .uint64(try read(UInt64.self, what))
        case 11: return .int64(try read(Int64.self, what))
        case 12: return .float64(Double(bitPattern: try read(UInt64.self, what)))
        default: throw corrupt("metadata '\(key)' has unknown value type \(type)")
        }
    }

    /// The fewest bytes one value of a type can take; 0 for an unknown type.
    static func minimumSize(ofValueType type: UInt32) -> Int {
        switch type {
        case 0, 1, 7: return 1
        case 2, 3: return 2
        case 4, 5, 6: return 4
        case 8, 10, 11, 12: return 8
        case 9: return 12
        default: return 0
        }
    }
}
