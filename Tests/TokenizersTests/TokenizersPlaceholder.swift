import Testing
import Tokenizers

@Suite struct TokenizersModuleLinks {
    @Test("The Tokenizers module builds and links") func links() { #expect(Bool(true)) }
}
