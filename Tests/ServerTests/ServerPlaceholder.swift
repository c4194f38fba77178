import Testing
import Server

@Suite struct ServerModuleLinks {
    @Test("The Server module builds and links") func links() { #expect(Bool(true)) }
}
