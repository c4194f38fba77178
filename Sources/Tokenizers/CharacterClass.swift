// Unicode character classes used by the pre-tokenizer scanners and added-token rules.

/// The classes that the GPT-2 / Llama-3 split patterns distinguish: `\p{L}`, `\p{N}`, `\s` (the Unicode
/// White_Space property, as Oniguruma and the Rust regex crate define `\s`), and everything else.
enum CharacterClass: UInt8 {
    case letter, number, whitespace, other

    /// Classes of the 128 ASCII characters, so the common case needs no Unicode property lookup.
    private static let ascii: [CharacterClass] = (0..<128).map { value in
        switch value {
        case 0x09...0x0D, 0x20: return .whitespace
        case 0x30...0x39: return .number
        case 0x41...0x5A, 0x61...0x7A: return .letter
        default: return .other
        }
    }

    /// The class as the reference implementation sees it. The Hugging Face library (Oniguruma, Rust std)
    /// has Unicode 16.0 tables while the Swift runtime may be newer (6.3 has 17.0), so characters assigned
    /// after 16.0 (CJK Extension J, ...) are unassigned there and count as "other". Checked against the
    /// library on thousands of random code points.
    @inline(__always)
    static func of(_ value: UInt32) -> CharacterClass {
        if value < 128 { return ascii[Int(value)] }
        guard let scalar = Unicode.Scalar(value) else { return .other }
        let properties = scalar.properties
        if properties.isWhitespace { return .whitespace }
        if let age = properties.age, age.major > 16 || (age.major == 16 && age.minor > 0) { return .other }
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return .letter
        case .decimalNumber, .letterNumber, .otherNumber: return .number
        default: return .other
        }
    }
}

enum UnicodeRules {
    /// Rust's `char::is_numeric` (categories Nd, Nl, No), used by the Digits pre-tokenizer. Unlike
    /// the regex classes it follows the Swift runtime's own tables: Rust's standard library in the
    /// reference build is at Unicode 17 too, and splits the digits 17.0 added (U+11DE0...U+11DE9,
    /// U+16FF4...U+16FF6) one by one where the regex still sees unassigned characters.
    @inline(__always)
    static func isNumeric(_ value: UInt32) -> Bool {
        if value < 128 { return CharacterClass.of(value) == .number }
        guard let scalar = Unicode.Scalar(value) else { return false }
        switch scalar.properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: return true
        default: return false
        }
    }

    /// The Unicode White_Space property (`\s` of the regex engines, Rust's `char::is_whitespace`).
    @inline(__always)
    static func isWhitespace(_ value: UInt32) -> Bool { CharacterClass.of(value) == .whitespace }

    /// `\w` of the Rust regex crate: Alphabetic, marks, decimal digits, connector punctuation, join controls.
    /// Added tokens flagged `single_word` use it to tell whether they touch a word.
    static func isWordCharacter(_ value: UInt32) -> Bool {
        if value < 128 {
            return (0x30...0x39).contains(value) || (0x41...0x5A).contains(value)
                || (0x61...0x7A).contains(value) || value == 0x5F
        }
        guard let scalar = Unicode.Scalar(value) else { return false }
        let properties = scalar.properties
        if properties.isAlphabetic || properties.isJoinControl { return true }
        switch properties.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation: return true
        default: return false
        }
    }

    /// Python's `str.isspace`, which Jinja's `trim` filter (Python `str.strip`) uses: White_Space plus the
    /// information separators U+001C...U+001F.
    static func isPythonWhitespace(_ scalar: Unicode.Scalar) -> Bool {
        (0x1C...0x1F).contains(scalar.value) || scalar.properties.isWhitespace
    }
}

/// Decodes one scalar from well-formed UTF-8 (the bytes of a Swift String) at `index`.
/// Returns the scalar value and its length in bytes.
@inline(__always)
func decodeScalar(_ bytes: UnsafeBufferPointer<UInt8>, at index: Int) -> (value: UInt32, length: Int) {
    let lead = UInt32(bytes[index])
    if lead < 0x80 { return (lead, 1) }
    if lead < 0xE0 {
        return (((lead & 0x1F) << 6) | (UInt32(bytes[index + 1]) & 0x3F), 2)
    }
    if lead < 0xF0 {
        return (((lead & 0x0F) << 12) | ((UInt32(bytes[index + 1]) & 0x3F) << 6) | (UInt32(bytes[index + 2]) & 0x3F), 3)
    }
    return (((lead & 0x07) << 18) | ((UInt32(bytes[index + 1]) & 0x3F) << 12)
            | ((UInt32(bytes[index + 2]) & 0x3F) << 6) | (UInt32(bytes[index + 3]) & 0x3F), 4)
}

/// The scalars of one stretch of text with their classes and byte offsets, decoded once so that the
/// scanners can look ahead cheaply. Reused between pieces to avoid allocating per word.
struct ScalarBuffer {
    var values: [UInt32] = []
    var classes: [CharacterClass] = []
    /// Byte offset (into the text buffer) of each scalar, plus one final entry: the end offset.
    var offsets: [Int] = []

    var count: Int { values.count }

    mutating func load(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) {
        values.removeAll(keepingCapacity: true)
        classes.removeAll(keepingCapacity: true)
        offsets.removeAll(keepingCapacity: true)
        var index = range.lowerBound
        while index < range.upperBound {
            let (value, length) = decodeScalar(bytes, at: index)
            values.append(value)
            classes.append(CharacterClass.of(value))
            offsets.append(index)
            index += length
        }
        offsets.append(range.upperBound)
    }
}
