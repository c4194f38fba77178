import Foundation
import Testing
import Configs

/// Every invalid reference config is rejected at the place and for the reason the library gives.
@Suite struct InvalidFixtureTests {
    struct LibraryError {
        var stage: String
        var errorType: String
        var text: String
        /// The pydantic location line turned into a JSON path (nil when the text has none).
        var location: JSONPath?
        /// The pydantic `[type=...]` code, when present.
        var pydanticType: String?
        /// "N validation error(s)" from the first line, when present.
        var count: Int?
        var isLoadTime: Bool { stage.hasPrefix("Eagle3DraftModel") }
    }

    static func libraryError(_ name: String) throws -> LibraryError {
        let entry = try #require(try Fixtures.json("invalid", "expected.json").objectValue?[name]?.objectValue)
        let text = try #require(entry["error"]?.stringValue)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var location: JSONPath?
        var count: Int?
        if let first = lines.first, first.contains("validation error") {
            count = Int(first.prefix { $0.isNumber })
            location = lines.count > 1 && !lines[1].hasPrefix(" ") ? pydanticPath(lines[1]) : .root
        }
        var pydanticType: String?
        if let range = text.range(of: "[type=") {
            pydanticType = String(text[range.upperBound...].prefix { $0 != "," && $0 != "]" })
        }
        return LibraryError(stage: try #require(entry["stage"]?.stringValue), errorType: try #require(entry["error_type"]?.stringValue),
                            text: text, location: location, pydanticType: pydanticType, count: count)
    }

    /// `eagle3.speculators_config.proposal_methods.0.greedy.speculative_tokens` →
    /// `speculators_config.proposal_methods[0].speculative_tokens`: drop the union tags pydantic
    /// inserts (the model type first, the proposal type after a list index).
    static func pydanticPath(_ line: String) -> JSONPath {
        var components: [JSONPath.Component] = []
        var previousWasIndex = false
        for (i, part) in line.split(separator: ".").enumerated() {
            if i == 0 && SpeculatorRegistry.names.contains(String(part)) { continue }
            if previousWasIndex && ProposalRegistry.names.contains(String(part)) {
                previousWasIndex = false
                continue
            }
            if let index = Int(part) {
                components.append(.index(index))
                previousWasIndex = true
            } else {
                components.append(.key(String(part)))
                previousWasIndex = false
            }
        }
        return JSONPath(components)
    }

    /// Our rules that correspond to a pydantic error type (pydantic uses two codes for some).
    static func matches(_ rule: ValidationRule, _ library: LibraryError) -> Bool {
        let code = library.pydanticType ?? library.errorType
        switch (rule, code) {
        case (.expectedObject, "dataclass_type"), (.expectedObject, "model_type"): return true
        default: return rule.libraryErrorType == code
        }
    }

    @Test("The fixture set has 32 invalid configs, 28 rejected when parsed and 4 only when a model is loaded")
    func fixtureCounts() throws {
        #expect(Fixtures.invalidNames.count == 32)
        let loadTime = try Fixtures.invalidNames.filter { try Self.libraryError($0).isLoadTime }
        #expect(loadTime.count == 4)
    }

    @Test("Parse-time invalid fixtures give the library's error count, at its location, of its type",
          arguments: Fixtures.invalidNames)
    func rejected(name: String) throws {
        let library = try Self.libraryError(name)
        guard !library.isLoadTime else { return }
        let report = SpeculatorConfigValidator.validate(data: try Fixtures.data("invalid", name), source: name)
        #expect(!report.isValid)
        #expect(report.config == nil)
        #expect(report.errors.count == (library.count ?? 1), "\(report.errors)")
        let error = try #require(report.errors.first)
        #expect(Self.matches(error.rule, library), "\(error.rule) vs \(library.pydanticType ?? library.errorType)")
        let location = library.location ?? .root
        // Our path is the library's location or more precise (a key below it).
        #expect(error.path.components.starts(with: location.components), "\(error.path) is not at or below \(location)")
        #expect(!error.message.isEmpty)
    }

    @Test("Load-time invalid fixtures parse, then fail the load-time checks against a 4-layer verifier with the library's message",
          arguments: Fixtures.invalidNames)
    func rejectedAtLoad(name: String) throws {
        let library = try Self.libraryError(name)
        guard library.isLoadTime else { return }
        let report = SpeculatorConfigValidator.validate(data: try Fixtures.data("invalid", name), source: name)
        #expect(report.isValid, "\(report.errors)")
        let config = try #require(report.config)
        let issues = SpeculatorConfigValidator.loadTimeIssues(for: config, verifierLayerCount: 4)
        #expect(issues.count == 1)
        let issue = try #require(issues.first)
        #expect(issue.severity == .error)
        #expect(issue.rule.libraryErrorType == library.errorType)
        #expect(issue.message.contains(library.text), "\(issue.message)")
        // The same check is available while validating, given the verifier's layer count.
        let withVerifier = SpeculatorConfigValidator.validate(data: try Fixtures.data("invalid", name), verifierLayerCount: 4)
        #expect(!withVerifier.isValid)
        #expect(withVerifier.errors.map(\.rule) == [issue.rule])
    }

    @Test("Load-time fixtures whose problem needs no verifier (missing block, empty or repeated ids) already warn at config level",
          arguments: ["missing-speculators-config.json", "aux-layer-ids-duplicate.json", "aux-layer-ids-empty.json"])
    func warnedBeforeLoad(name: String) throws {
        let report = SpeculatorConfigValidator.validate(data: try Fixtures.data("invalid", name))
        let rules = Set(report.warnings.map(\.rule))
        #expect(rules.contains(.auxLayerIds) || rules.contains(.missingSpeculatorsConfig), "\(report.warnings)")
    }
}
