import Testing
import Configs

@Suite struct ConfigsModuleLinks {
    @Test("The Configs module builds and links") func links() { #expect(Bool(true)) }
}
