import Foundation
import Testing
import Server

/// One case of Fixtures/request-validation.json.
struct ValidationCase: Sendable, CustomTestStringConvertible {
    var name: String
    var endpoint: String
    var body: String
    var status: Int
    var type: String?
    var param: String?
    var message: String?
    var messagePrefix: String?
    var maxSpeculativeTokensOverride: Int??

    var testDescription: String { "\(endpoint): \(name)" }

    static let all: [ValidationCase] = (try? load()) ?? []

    static func load() throws -> [ValidationCase] {
        let doc = try Fixtures.object("request-validation.json")
        guard let cases = doc["cases"] as? [[String: Any]] else { throw FixtureError(message: "no cases") }
        return cases.map { c in
            var override: Int?? = nil
            if let context = c["context"] as? [String: Any], context.keys.contains("max_speculative_tokens") {
                override = .some(context["max_speculative_tokens"] as? Int)
            }
            return ValidationCase(
                name: c["name"] as? String ?? "?", endpoint: c["endpoint"] as? String ?? "?",
                body: c["body"] as? String ?? "", status: c["status"] as? Int ?? 0, type: c["type"] as? String,
                param: c["param"] as? String, message: c["message"] as? String,
                messagePrefix: c["message_prefix"] as? String, maxSpeculativeTokensOverride: override)
        }
    }

    /// The fixture's shared context: served "m" (alias "alias"), L = 128, vocabulary 384.
    var context: ValidationContext {
        var context = ValidationContext(servedModelNames: ["m", "alias"], maxModelLen: 128, vocabularySize: 384,
                                        maxLogprobs: 20, maxPromptsPerRequest: 4, maxChoices: 8,
                                        maxSpeculativeTokens: 3)
        if let override = maxSpeculativeTokensOverride { context.maxSpeculativeTokens = override }
        return context
    }

    /// Decodes the body with the endpoint's decoder; nil error means it decoded.
    func run() -> APIError? {
        let bytes = body.bytes
        do {
            switch endpoint {
            case "completions": _ = try CompletionRequest.decode(bytes, context: context)
            case "chat": _ = try ChatCompletionRequest.decode(bytes, context: context)
            case "tokenize": _ = try TokenizeRequest.decode(bytes, context: context)
            case "detokenize": _ = try DetokenizeRequest.decode(bytes, context: context)
            default: return APIError(status: -1, message: "unknown endpoint \(endpoint)", type: "test")
            }
            return nil
        } catch {
            return error
        }
    }
}

@Suite("Request validation against the spec's rules and vLLM's messages")
struct RequestValidationTests {
    @Test("The validation fixture loads all its cases")
    func fixtureLoads() throws {
        #expect(try ValidationCase.load().count == 108)
    }

    @Test("Each request answers the status, type, param and message the spec gives", arguments: ValidationCase.all)
    func validation(_ c: ValidationCase) throws {
        let error = c.run()
        if c.status == 200 {
            #expect(error == nil, "expected success, got \(String(describing: error))")
            return
        }
        let e = try #require(error, "expected an error \(c.status)")
        #expect(e.status == c.status)
        #expect(e.type == c.type)
        #expect(e.param == c.param)
        if let message = c.message { #expect(e.message == message) }
        if let prefix = c.messagePrefix { #expect(e.message.hasPrefix(prefix), "message: \(e.message)") }
    }
}
