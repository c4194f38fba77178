import Testing
import Conversion

@Suite struct ConversionModuleLinks {
    @Test("The Conversion module builds and links") func links() { #expect(Bool(true)) }
}
