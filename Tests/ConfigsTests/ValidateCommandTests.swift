import Foundation
import Testing
import Configs

/// The library functions behind `speculators validate`: files and folders, exit codes, text and
/// JSON output.
@Suite struct ValidateCommandTests {
    /// A temporary folder holding a valid speculator folder, a valid file and an invalid file.
    struct Workspace {
        let root: URL
        var folder: String { root.appendingPathComponent("speculator").path }
        var valid: String { root.appendingPathComponent("valid.json").path }
        var invalid: String { root.appendingPathComponent("invalid.json").path }

        init() throws {
            root = FileManager.default.temporaryDirectory.appendingPathComponent("configs-cli-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
            let config = try SpeculatorModelConfig.fromDict(try Fixtures.baseConfig())
            try config.save(toFolder: root.appendingPathComponent("speculator").path)
            try Fixtures.data("valid", "smollm2-aux-ids-unset.json").write(to: URL(fileURLWithPath: valid))
            try Fixtures.data("invalid", "speculative-tokens-0.json").write(to: URL(fileURLWithPath: invalid))
        }

        func remove() { try? FileManager.default.removeItem(at: root) }
    }

    @Test("All valid configs exit 0; a folder means its config.json")
    func allValid() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        let summary = SpeculatorConfigValidator.validate(paths: [workspace.folder, workspace.valid])
        #expect(summary.exitCode == 0)
        #expect(summary.reports.map(\.source) == [workspace.folder + "/config.json", workspace.valid])
        #expect(summary.text.contains("valid (eagle3, Eagle3SpeculatorConfig)"))
        #expect(summary.text.contains("warning: eagle_aux_hidden_state_layer_ids"))
        #expect(summary.text.hasSuffix("2 of 2 configs valid\n"))
    }

    @Test("Any invalid or missing config exits 1 and is reported with path, value and rule")
    func someInvalid() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        let summary = SpeculatorConfigValidator.validate(paths: [workspace.valid, workspace.invalid, workspace.root.appendingPathComponent("nothing").path])
        #expect(summary.exitCode == 1)
        #expect(summary.reports.map(\.isValid) == [true, false, false])
        #expect(summary.text.contains("INVALID, 1 error"))
        #expect(summary.text.contains("error: speculators_config.proposal_methods[0].speculative_tokens: must be greater than or equal to 1; got 0 [minimum]"))
        #expect(summary.reports[2].errors.map(\.rule) == [.fileAccess])
        #expect(summary.text.hasSuffix("1 of 3 configs valid\n"))
    }

    @Test("The verifier layer count turns on the load-time checks")
    func verifierLayers() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        #expect(SpeculatorConfigValidator.validate(paths: [workspace.valid], verifierLayerCount: 30).exitCode == 0)
        let tooShallow = SpeculatorConfigValidator.validate(paths: [workspace.valid], verifierLayerCount: 4)
        #expect(tooShallow.exitCode == 1)
        #expect(tooShallow.reports[0].errors.map(\.rule) == [.auxLayerIds])
    }

    @Test("The JSON report has a stable shape: all_valid, and per config valid/source/type/class/errors/warnings/config")
    func jsonOutput() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        let summary = SpeculatorConfigValidator.validate(paths: [workspace.valid, workspace.invalid])
        let parsed = try JSONParser.parse(summary.jsonText)
        #expect(parsed["all_valid"] == false)
        let reports = try #require(parsed["reports"]?.arrayValue)
        #expect(reports.count == 2)
        let keys = ["config", "config_class", "errors", "source", "speculators_model_type", "valid", "warnings"]
        #expect(reports.allSatisfy { $0.objectValue?.keys.sorted() == keys })
        #expect(reports[0]["config"]?.objectValue?["draft_vocab_size"] == 8192)
        #expect(reports[1]["config"] == .null)
        let error = try #require(reports[1]["errors"]?.arrayValue?.first)
        #expect(error == [
            "message": "must be greater than or equal to 1; got 0",
            "path": "speculators_config.proposal_methods[0].speculative_tokens",
            "rule": "minimum",
            "severity": "error",
            "value": 0,
        ])
        #expect(reports[0]["warnings"]?.arrayValue?.first?["rule"] == "aux_layer_ids_unset")
        #expect(summary.jsonText == SpeculatorConfigValidator.validate(paths: [workspace.valid, workspace.invalid]).jsonText)
    }

    @Test("Bytes that are not JSON, or not an object, are reported, not thrown")
    func badBytes() {
        let notJSON = SpeculatorConfigValidator.validate(data: Data("{\"a\": [1,}".utf8))
        #expect(notJSON.errors.map(\.rule) == [.invalidJSON])
        #expect(notJSON.errors.first?.message.contains("line 1, column 10") == true)
        #expect(SpeculatorConfigValidator.validate(data: Data("42".utf8)).errors.map(\.rule) == [.notAnObject])
        #expect(SpeculatorConfigValidator.validate(data: Data([0xff, 0xfe])).errors.map(\.rule) == [.invalidJSON])
    }

    @Test("Loading as a specific type accepts that type and names the mismatch otherwise")
    func typedLoad() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        let eagle = try Eagle3SpeculatorConfig.load(from: workspace.folder)
        #expect(eagle.draftVocabSize == 96)
        #expect {
            try DFlashSpeculatorConfig.load(from: workspace.folder)
        } throws: { error in
            (error as? ConfigError)?.issues.first?.message == "expected a 'dflash' config, found 'eagle3'"
        }
        let report = SpeculatorConfigValidator.validate(path: workspace.folder)
        #expect(try JSONParser.parse(report.jsonData) == report.jsonValue)
    }

    @Test("Loading a folder without a speculators config explains that it is not one")
    func notASpeculator() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("configs-plain-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        try Data(#"{"model_type": "llama", "hidden_size": 64}"#.utf8).write(to: root.appendingPathComponent("config.json"))
        #expect {
            try SpeculatorModelConfig.load(from: root.path)
        } throws: { error in
            (error as? ConfigError)?.issues.map(\.rule) == [.missingSpeculatorsModelType]
        }
        #expect(throws: ConfigError.self) { try SpeculatorModelConfig.load(from: root.appendingPathComponent("missing").path) }
    }
}
