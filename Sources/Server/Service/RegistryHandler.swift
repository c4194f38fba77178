import Configs
import Foundation
import HTTP
import Models

// The speculator registry: GET /v1/speculators lists the loaded speculator and every checkpoint
// folder (one with a config.json) directly inside the registry folder; GET /v1/speculators/{name}
// returns one folder's config.json; POST /v1/speculators/validate checks a posted config; GET
// /v1/speculators/schema is the JSON Schema. Names are looked up in the listing, never joined
// onto a path, so no request can read outside the registry folder.

extension InferenceService {
    /// One registry entry.
    struct RegistryEntry {
        let name: String
        let configFile: URL
    }

    /// The checkpoint folders of the registry (sorted by name), plus the loaded speculator when it
    /// lives elsewhere.
    func registryEntries() -> [RegistryEntry] {
        var entries: [RegistryEntry] = []
        let folder = options.registryFolder
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        for name in names.sorted() where Self.isValidRegistryName(name) {
            let config = folder.appendingPathComponent(name).appendingPathComponent("config.json")
            if FileManager.default.fileExists(atPath: config.path) { entries.append(RegistryEntry(name: name, configFile: config)) }
        }
        if let path = model.speculatorPath, let name = model.speculatorName, !entries.contains(where: { $0.name == name }) {
            entries.append(RegistryEntry(name: name, configFile: URL(fileURLWithPath: path).appendingPathComponent("config.json")))
        }
        return entries
    }

    /// Folder names the registry serves: letters, digits, `.`, `_`, `-`, not starting with a dot.
    static func isValidRegistryName(_ name: String) -> Bool {
        guard !name.isEmpty, name.count <= 200, !name.hasPrefix(".") else { return false }
        return name.unicodeScalars.allSatisfy { scalar in
            scalar.isASCII && (CharacterSet.alphanumerics.contains(scalar) || "._-".unicodeScalars.contains(scalar))
        }
    }

    func listSpeculators(_ request: HTTPRequest, _ responder: HTTPResponder) {
        var w = JSONWriter(reservingCapacity: 512)
        w.beginObject()
        w.field("object", "list")
        w.field("loaded", model.speculatorName)
        w.field("num_speculative_tokens", model.maxSpeculativeTokens)
        w.key("data")
        w.beginArray()
        for entry in registryEntries() {
            var report = SpeculatorConfigValidator.validate(path: entry.configFile.path,
                                                            verifier: model.verifierShape)
            // A valid config over a broken checkpoint is not a servable speculator.
            if let config = report.config,
               let problem = SpeculatorModelRegistry.checkpointProblem(folder: entry.configFile.deletingLastPathComponent(),
                                                                       config: config,
                                                                       verifierLayerCount: model.verifierShape.layerCount) {
                report.add(.error(.checkpoint, at: .root, value: nil, problem))
            }
            w.beginObject()
            w.field("name", entry.name)
            w.field("object", "speculator")
            w.field("loaded", entry.name == model.speculatorName)
            w.field("speculators_model_type", report.speculatorsModelType)
            w.field("valid", report.isValid)
            w.field("errors", report.errors.count)
            w.field("warnings", report.warnings.count)
            w.endObject()
        }
        w.endArray()
        w.endObject()
        sendJSON(w.text, to: responder)
    }

    func speculatorConfig(_ request: HTTPRequest, _ responder: HTTPResponder) {
        let name = request.pathParameters["name"] ?? ""
        guard Self.isValidRegistryName(name), let entry = registryEntries().first(where: { $0.name == name }) else {
            send(APIError(status: 404, message: "No speculator named \(jsonQuoted(String(name.prefix(100)))) in the registry.",
                          type: "NotFoundError", param: "name"), to: responder)
            return
        }
        guard let data = FileManager.default.contents(atPath: entry.configFile.path) else {
            send(.internalError("The config.json of speculator \(name) cannot be read."), to: responder)
            return
        }
        responder.send(.json(Array(data)))
    }

    func validateSpeculator(_ request: HTTPRequest, _ responder: HTTPResponder) {
        do throws(APIError) {
            try checkBody(request)
        } catch {
            send(error, to: responder)
            return
        }
        let report = SpeculatorConfigValidator.validate(data: Data(request.body), source: nil,
                                                        verifier: model.verifierShape)
        responder.send(.json(Array(report.jsonText.utf8)))
    }

    func speculatorSchema(_ request: HTTPRequest, _ responder: HTTPResponder) {
        responder.send(HTTPResponse(status: .ok, headers: ["Content-Type": "application/schema+json"],
                                    body: Array(SpeculatorJSONSchema.text.utf8)))
    }
}
