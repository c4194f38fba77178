import Testing
import Models

@Suite struct ModelsModuleLinks {
    @Test("The Models module builds and links") func links() { #expect(Bool(true)) }
}
