import Testing
import Training

@Suite struct TrainingModuleLinks {
    @Test("The Training module builds and links") func links() { #expect(Bool(true)) }
}
