import Testing
import Checkpoints

@Suite struct CheckpointsModuleLinks {
    @Test("The Checkpoints module builds and links") func links() { #expect(Bool(true)) }
}
