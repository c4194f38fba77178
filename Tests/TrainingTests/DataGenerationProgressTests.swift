import Foundation
import Testing
import Training

@Suite("Datagen progress lines") struct DataGenerationProgressTests {
    final class Lines: @unchecked Sendable { var all: [String] = [] }

    @Test("A progress line gives the count, share, rates, elapsed time and ETA")
    func line() {
        let lines = Lines()
        var meter = ProgressMeter(label: "datagen conversations", total: 10, interval: 3600, tokenUnit: "generated tokens") {
            lines.all.append($0)
        }
        meter.update(done: 1, tokens: 10)  // within the interval: no line
        #expect(lines.all.isEmpty)
        meter.update(done: 3, tokens: 300, force: true)
        let text = lines.all.last ?? ""
        #expect(text.hasPrefix("datagen conversations: 3/10 (30.0%), "))
        #expect(text.contains("generated tokens/s"))
        #expect(text.contains("elapsed ") && text.contains("ETA "))
    }

    @Test("Durations read as hours and minutes, minutes and seconds, or seconds")
    func durations() {
        #expect(ProgressMeter.duration(42) == "42s")
        #expect(ProgressMeter.duration(185) == "3m05s")
        #expect(ProgressMeter.duration(3720) == "1h02m")
        #expect(ProgressMeter.duration(.infinity) == "?")
    }
}
