import Foundation
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
