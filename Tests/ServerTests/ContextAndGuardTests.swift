import Testing
import Server

@Suite("Context-length checks, media type and API key guards")
struct ContextAndGuardTests {
    @Test("The output budget is min(requested, L - P, cap)")
    func budget() throws {
        #expect(try ContextWindow.effectiveMaxTokens(requested: 16, promptTokens: 6, maxModelLen: 128) == 16)
        #expect(try ContextWindow.effectiveMaxTokens(requested: 16, promptTokens: 112, maxModelLen: 128) == 16)
        #expect(try ContextWindow.effectiveMaxTokens(requested: nil, promptTokens: 100, maxModelLen: 128) == 28)
        #expect(try ContextWindow.effectiveMaxTokens(requested: nil, promptTokens: 100, maxModelLen: 128, cap: 10) == 10)
        #expect(try ContextWindow.effectiveMaxTokens(requested: 0, promptTokens: 128, maxModelLen: 128) == 0)
    }

    @Test("A prompt that leaves too little room gets the 'maximum context length' 400 of the spec")
    func tooLong() throws {
        let template = try Fixtures.golden("context_length_message")
        let expected = template.replacing("<L>", with: "128").replacing("<m>", with: "16")
            .replacing("<P+m>", with: "129").replacing("<P>", with: "113")
        let e = #expect(throws: APIError.self) {
            try ContextWindow.effectiveMaxTokens(requested: 16, promptTokens: 113, maxModelLen: 128)
        }
        #expect(e?.message == expected)
        #expect(e?.status == 400 && e?.type == "BadRequestError" && e?.param == "input_tokens")
        #expect(throws: APIError.self) {
            try ContextWindow.effectiveMaxTokens(requested: nil, promptTokens: 128, maxModelLen: 128)
        }
        #expect(throws: APIError.self) { try ContextWindow.checkPromptLength(promptTokens: 129, maxModelLen: 128) }
        try ContextWindow.checkPromptLength(promptTokens: 128, maxModelLen: 128)
    }

    @Test("Only application/json bodies are accepted, any case, with parameters; else vLLM's 400")
    func mediaType() throws {
        for ok in ["application/json", "Application/JSON; charset=utf-8", "application/json;charset=UTF-8"] {
            try RequestGuards.requireJSON(contentType: ok)
        }
        for bad in [nil, "", "text/plain", "application/jsonx", "multipart/form-data; boundary=x"] {
            let e = #expect(throws: APIError.self) { try RequestGuards.requireJSON(contentType: bad) }
            #expect(e == APIError.unsupportedMediaType)
        }
        #expect(APIError.unsupportedMediaType.status == 400)
        #expect(APIError.unsupportedMediaType.message.hasSuffix("Unsupported Media Type: Only 'application/json' is allowed"))
    }

    @Test("An API key protects /v1 paths only; an empty key disables the check")
    func apiKey() throws {
        try RequestGuards.authorize(path: "/v1/completions", authorization: nil, apiKey: "")
        try RequestGuards.authorize(path: "/v1/completions", authorization: "Bearer k3y", apiKey: "k3y")
        // The scheme is case-insensitive (RFC 7235; vLLM compares it lowercased), the key is not.
        try RequestGuards.authorize(path: "/v1/completions", authorization: "bearer k3y", apiKey: "k3y")
        try RequestGuards.authorize(path: "/v1/completions", authorization: "BEARER k3y", apiKey: "k3y")
        try RequestGuards.authorize(path: "/health", authorization: nil, apiKey: "k3y")
        try RequestGuards.authorize(path: "/metrics", authorization: nil, apiKey: "k3y")
        for bad in [nil, "Bearer k3", "Bearer k3yy", "Bearer K3Y", "Bearer  k3y", "Basic k3y", "Bearerk3y", "k3y", ""] {
            #expect(throws: APIError.unauthorized) {
                try RequestGuards.authorize(path: "/v1/models", authorization: bad, apiKey: "k3y")
            }
        }
    }
}

@Suite("Error helpers for the HTTP layer")
struct ErrorHelperTests {
    @Test("Status codes and types of the transport-level errors")
    func transportErrors() {
        #expect(APIError.payloadTooLarge(limit: 1024).status == 413)
        #expect(APIError.payloadTooLarge(limit: 1024).message == "Request body exceeds the limit of 1024 bytes.")
        #expect(APIError.routeNotFound.jsonBody == #"{"error":{"message":"Not Found","type":"Not Found","param":null,"code":404}}"#)
        #expect(APIError.methodNotAllowed.status == 405)
        #expect(APIError.serviceUnavailable().jsonBody
                == #"{"error":{"message":"The inference engine is not running.","type":"ServiceUnavailableError","param":null,"code":503}}"#)
        #expect(APIError.emptyPrompt == APIError(status: 400, message: "The decoder prompt cannot be empty", type: "BadRequestError"))
        #expect(APIError.badRequest("x", param: "p").message == "x (parameter=p)")
        #expect(APIError.badRequest("x").param == nil)
        #expect(ServerSentEvents.contentType == "text/event-stream; charset=utf-8")
    }
}
