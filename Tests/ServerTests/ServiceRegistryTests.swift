import Foundation
import Server
import Testing

/// /v1/speculators: listing, reading one config, validation and the schema; names cannot escape
/// the registry folder.
@Suite("Service: speculator registry", .serialized)
struct ServiceRegistryTests {
    @Test("the registry lists the loaded draft and serves its config.json")
    func listAndRead() async throws {
        let server = try TestServer()
        let list = try server.get("/v1/speculators").json()
        let config = try server.get("/v1/speculators/tiny-eagle3")
        await server.stop()
        #expect(list["loaded"] as? String == "tiny-eagle3")
        let entries = try #require(list["data"] as? [[String: Any]])
        let entry = try #require(entries.first { $0["name"] as? String == "tiny-eagle3" })
        #expect(entry["speculators_model_type"] as? String == "eagle3")
        #expect(entry["valid"] as? Bool == true)
        let onDisk = try Data(contentsOf: TestServer.fixtures.appendingPathComponent("tiny-eagle3/config.json"))
        #expect(config.status == 200)
        #expect(Data(config.body) == onDisk)
    }

    @Test("a registry folder whose config.json is not a speculator is listed as invalid")
    func nonSpeculatorListed() async throws {
        let server = try TestServer()
        let list = try server.get("/v1/speculators").json()
        await server.stop()
        let entries = try #require(list["data"] as? [[String: Any]])
        let entry = try #require(entries.first { $0["name"] as? String == "tiny-llama" })
        #expect(entry["valid"] as? Bool == false)
    }

    @Test("names that are not registry folders, or try to leave the folder, are 404s", arguments: [
        "..%2F..%2Fetc%2Fpasswd", "%2Fetc%2Fpasswd", "..", "nothing", "tiny-eagle3%00", ".hidden",
    ])
    func traversal(name: String) async throws {
        let server = try TestServer()
        let response = try server.get("/v1/speculators/" + name)
        await server.stop()
        #expect(response.status == 404, "\(name): \(response.text.prefix(200))")
    }

    @Test("validate reports errors with JSON paths and the resolved type; schema is JSON Schema")
    func validateAndSchema() async throws {
        let server = try TestServer()
        let good = try Data(contentsOf: TestServer.fixtures.appendingPathComponent("tiny-eagle3/config.json"))
        let valid = try server.post("/v1/speculators/validate", json: String(decoding: good, as: UTF8.self)).json()
        let invalid = try server.post("/v1/speculators/validate", json: body(["speculators_model_type": "eagle3",
                                                                              "draft_vocab_size": "big"])).json()
        let schema = try server.get("/v1/speculators/schema").json()
        await server.stop()
        #expect(valid["valid"] as? Bool == true)
        #expect(valid["speculators_model_type"] as? String == "eagle3")
        #expect(invalid["valid"] as? Bool == false)
        let errors = try #require(invalid["errors"] as? [[String: Any]])
        #expect(errors.contains { ($0["path"] as? String)?.contains("draft_vocab_size") == true })
        #expect(schema["$schema"] is String)
    }
}

/// Serving a speculator checkpoint as the model swaps in its verifier (vLLM's behaviour).
@Suite("Service: speculator checkpoint as the model")
struct SpeculatorCheckpointModelTests {
    @Test("a checkpoint whose verifier is a hub id is refused with a message naming it")
    func hubVerifier() throws {
        var configuration = ServerConfiguration()
        configuration.model = TestServer.fixtures.appendingPathComponent("tiny-eagle3").path
        configuration.speculator = nil
        let error = #expect(throws: ConfigurationError.self) {
            _ = try InferenceServer.resolvingSpeculatorCheckpoint(configuration)
        }
        #expect(error?.description.contains("not a local file or folder") == true)
    }

    @Test("a checkpoint whose verifier is a local folder becomes verifier + speculator")
    func localVerifier() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("spec-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let verifier = TestServer.fixtures.appendingPathComponent("tiny-llama").path
        var config = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf:
            TestServer.fixtures.appendingPathComponent("tiny-eagle3/config.json"))) as? [String: Any])
        var speculators = try #require(config["speculators_config"] as? [String: Any])
        speculators["verifier"] = ["name_or_path": verifier, "architectures": ["LlamaForCausalLM"]]
        config["speculators_config"] = speculators
        try JSONSerialization.data(withJSONObject: config).write(to: folder.appendingPathComponent("config.json"))
        var configuration = ServerConfiguration()
        configuration.model = folder.path
        configuration.speculator = nil
        configuration.servedModelName = nil
        let resolved = try InferenceServer.resolvingSpeculatorCheckpoint(configuration)
        #expect(resolved.model == verifier)
        #expect(resolved.speculator == folder.path)
        #expect(resolved.effectiveServedModelName == "tiny-llama")
        let plain = try InferenceServer.resolvingSpeculatorCheckpoint(resolved)
        #expect(plain == resolved)
    }
}
