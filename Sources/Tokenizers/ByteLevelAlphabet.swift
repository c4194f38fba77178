// The GPT-2 byte-to-character table that byte-level BPE vocabularies are written in.

/// Byte-level BPE spells every byte as one printable character so that vocabulary entries are valid text:
/// printable Latin-1 bytes stand for themselves and the other 68 bytes (controls, space, DEL, NBSP, soft hyphen)
/// are shifted to U+0100...U+0143 in byte order. `Ġ` (U+0120) is the space byte, `Ċ` (U+010A) the newline.
enum ByteLevelAlphabet {
    /// The character standing for each byte value.
    static let scalarForByte: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        var next: UInt32 = 256
        for byte in 0..<256 {
            let printable = (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte)
            if printable {
                table[byte] = Unicode.Scalar(UInt8(byte))
            } else {
                // U+0100...U+0143 are all valid scalars.
                table[byte] = Unicode.Scalar(next) ?? " "
                next += 1
            }
        }
        return table
    }()

    /// The byte each alphabet character stands for, indexed by scalar value (< 324); -1 for characters outside.
    static let byteForScalarValue: [Int16] = {
        var table = [Int16](repeating: -1, count: 324)
        for (byte, scalar) in scalarForByte.enumerated() { table[Int(scalar.value)] = Int16(byte) }
        return table
    }()

    /// The byte-level spelling of some raw bytes (what a vocabulary entry for them looks like).
    static func encode<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        var text = String.UnicodeScalarView()
        for byte in bytes { text.append(scalarForByte[Int(byte)]) }
        return String(text)
    }

    /// The raw bytes a vocabulary entry stands for, following the Hugging Face ByteLevel decoder: when every
    /// character belongs to the alphabet the entry becomes the bytes they stand for, otherwise (for example an
    /// added token such as "<|reserved special token|>" with a plain space) its own UTF-8 bytes are used.
    static func decode(_ token: String) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(token.utf8.count)
        for scalar in token.unicodeScalars {
            let value = Int(scalar.value)
            guard value < byteForScalarValue.count, byteForScalarValue[value] >= 0 else { return Array(token.utf8) }
            bytes.append(UInt8(byteForScalarValue[value]))
        }
        return bytes
    }
}
