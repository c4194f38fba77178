import Server

/// Decodes the input as each endpoint's JSON body against a context like the default server's.
/// Oracle: decoding returns or throws an `APIError` whose status is a client error, and the
/// error's body encodes; it never traps.
enum RequestHarness {
    static let context = ValidationContext(servedModelNames: ["tiny", "alias"], maxModelLen: 256, vocabularySize: 384,
                                           maxLogprobs: 20, maxPromptsPerRequest: 8, maxChoices: 4,
                                           samplingDefaults: SamplingDefaults(), maxSpeculativeTokens: 3)

    static func run(_ input: [UInt8]) {
        check(input) { body throws(APIError) in _ = try CompletionRequest.decode(body, context: context) }
        check(input) { body throws(APIError) in _ = try ChatCompletionRequest.decode(body, context: context) }
        check(input) { body throws(APIError) in _ = try TokenizeRequest.decode(body, context: context) }
        check(input) { body throws(APIError) in _ = try DetokenizeRequest.decode(body, context: context) }
    }

    static func check(_ input: [UInt8], _ decode: ([UInt8]) throws(APIError) -> Void) {
        do throws(APIError) {
            try decode(input)
        } catch {
            let status = error.status
            if !(400..<500).contains(status) { oracleFailure("request decoding answered \(status): \(error)", input: input) }
            _ = error.jsonBody
        }
    }
}
