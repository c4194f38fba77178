import Testing
import Engine

@Suite struct EngineModuleLinks {
    @Test("The Engine module builds and links") func links() { #expect(Bool(true)) }
}
