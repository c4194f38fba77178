import Testing
import Tensors

@Suite struct TensorsModuleLinks {
    @Test("The Tensors module builds and links") func links() { #expect(Bool(true)) }
}
