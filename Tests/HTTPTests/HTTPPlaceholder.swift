import Testing
import HTTP

@Suite struct HTTPModuleLinks {
    @Test("The HTTP module builds and links") func links() { #expect(Bool(true)) }
}
