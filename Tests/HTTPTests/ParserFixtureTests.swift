import Foundation
import HTTP
import Testing

/// The parser against the hand-written goldens, over every way the input can be split into reads.
@Suite struct ParserFixtureTests {
    static let cases: [ParserCase] = {
        do {
            return try JSONDecoder().decode(ParserCaseFile.self, from: Fixtures.data("parser-cases.json")).cases
        } catch {
            Issue.record("cannot load Fixtures/parser-cases.json: \(error)")
            return []
        }
    }()

    @Test("The golden file has enough cases to mean something") func fileLoads() {
        #expect(Self.cases.count >= 100)
        #expect(Set(Self.cases.map(\.name)).count == Self.cases.count, "case names must be unique")
    }

    @Test("Each request, fed whole, byte by byte, and split at every boundary and every pair of boundaries, gives the golden events",
          arguments: cases)
    func everyChunking(_ golden: ParserCase) throws {
        let bytes = try golden.rawBytes()
        let expected = try golden.expectedEvents()
        let limits = golden.parserLimits()
        let n = bytes.count

        var chunkings: [[Int]] = [[], Array(1..<max(1, n))]
        for i in 1..<max(1, n) { chunkings.append([i]) }
        for i in 1..<max(1, n) { for j in (i + 1)..<max(i + 1, n) { chunkings.append([i, j]) } }

        for cuts in chunkings {
            let result = parse(bytes, cuts: cuts, limits: limits)
            if result.events != expected {
                Issue.record("cuts \(cuts.count > 8 ? "byte by byte" : cuts.description): got \(result.events), expected \(expected)")
                return
            }
            if let phase = golden.endPhase, result.phase.name != phase {
                Issue.record("cuts \(cuts.count > 8 ? "byte by byte" : cuts.description): ended in phase \(result.phase.name), expected \(phase)")
                return
            }
        }
    }
}
