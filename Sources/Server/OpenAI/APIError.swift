// Every non-2xx answer of the OpenAI-compatible API: a status plus the nested error body
// `{"error": {"message", "type", "param", "code"}}` that the OpenAI SDK and vLLM clients expect.

/// A request failure that becomes an HTTP error response (or, mid-stream, an SSE error event).
public struct APIError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The HTTP status code, repeated as the integer `code` in the body.
    public var status: Int
    /// Human-readable text; vLLM's wording where the spec gives it.
    public var message: String
    /// `BadRequestError`, `Bad Request` (schema errors), `NotFoundError`, `InternalServerError`, ...
    public var type: String
    /// The offending request field when known (`temperature`, `body.max_tokens`), else nil.
    public var param: String?
    /// vLLM's `--api-key` rejection uses a flat `{"error": "Unauthorized"}` body instead.
    private var flatBody = false

    public init(status: Int, message: String, type: String, param: String? = nil) {
        self.status = status
        self.message = message
        self.type = type
        self.param = param
    }

    public var description: String { "\(status) \(type): \(message)" }

    /// The response body: `{"error":{"message":...,"type":...,"param":...,"code":400}}`.
    public var jsonBody: String {
        var w = JSONWriter()
        w.beginObject()
        if flatBody {
            w.field("error", message)
        } else {
            w.key("error")
            w.beginObject()
            w.field("message", message)
            w.field("type", type)
            w.field("param", param)
            w.field("code", status)
            w.endObject()
        }
        w.endObject()
        return w.text
    }

    /// The same body as one SSE event, for failures after a stream's 200 header was sent.
    public var streamEvent: String { ServerSentEvents.event(jsonBody) }
}

extension APIError {
    /// A semantic 400 in vLLM's form: when `param` is set the message gets vLLM's suffix
    /// ` (parameter=<param>, value=<value>)` (the value part only when one is given).
    public static func badRequest(_ message: String, param: String? = nil, value: String? = nil) -> APIError {
        var text = message
        if let param {
            text += value.map { " (parameter=\(param), value=\($0))" } ?? " (parameter=\(param))"
        }
        return APIError(status: 400, message: text, type: "BadRequestError", param: param)
    }

    /// 404 for a `model` that is not served: ``The model `gpt-4` does not exist.``
    public static func modelNotFound(_ model: String) -> APIError {
        APIError(status: 404, message: "The model `\(model)` does not exist.", type: "NotFoundError")
    }

    /// 400 for a body that is not `Content-Type: application/json` (vLLM answers 400, not 415).
    public static let unsupportedMediaType = APIError(
        status: 400,
        message: "1 validation error:\n  Unsupported Media Type: Only 'application/json' is allowed",
        type: "Bad Request")

    /// 400 for a token prompt with no tokens, in the engine's wording.
    public static let emptyPrompt = APIError.badRequest("The decoder prompt cannot be empty")

    /// 400 for a token id at or beyond the vocabulary size.
    public static func tokenOutOfVocabulary(_ id: Int) -> APIError {
        .badRequest("Token id \(id) is out of vocabulary")
    }

    /// 500 for a failure inside generation.
    public static func internalError(_ message: String) -> APIError {
        APIError(status: 500, message: message, type: "InternalServerError")
    }

    /// 503 while the engine is not running (vLLM answers 500; the spec asks for 503).
    public static func serviceUnavailable(_ message: String = "The inference engine is not running.") -> APIError {
        APIError(status: 503, message: message, type: "ServiceUnavailableError")
    }

    /// 413 for a body over the configured size limit.
    public static func payloadTooLarge(limit: Int) -> APIError {
        APIError(status: 413, message: "Request body exceeds the limit of \(limit) bytes.", type: "Request Entity Too Large")
    }

    /// 404 for a path that has no route.
    public static let routeNotFound = APIError(status: 404, message: "Not Found", type: "Not Found")

    /// 405 for a known path used with the wrong method.
    public static let methodNotAllowed = APIError(status: 405, message: "Method Not Allowed", type: "Method Not Allowed")

    /// 401 with vLLM's flat body `{"error":"Unauthorized"}` (missing or wrong Bearer key).
    public static var unauthorized: APIError {
        var e = APIError(status: 401, message: "Unauthorized", type: "Unauthorized")
        e.flatBody = true
        return e
    }
}
