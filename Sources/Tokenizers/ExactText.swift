/// A String dictionary key compared by its exact UTF-8 bytes.
///
/// Swift's `String ==` and hashing follow canonical equivalence, so "\u{212B}" (ANGSTROM SIGN) and "\u{C5}"
/// (Å), or a CJK compatibility ideograph and its unified twin, are the same key. A tokenizer must keep them
/// apart: they are different bytes and different tokens.
struct ExactText: Hashable, Sendable {
    let text: String

    init(_ text: String) { self.text = text }

    static func == (lhs: ExactText, rhs: ExactText) -> Bool {
        lhs.text.utf8.elementsEqual(rhs.text.utf8)
    }

    func hash(into hasher: inout Hasher) {
        var text = text
        text.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
    }
}
