// SSE framing of streamed responses: every event is exactly `data: <one-line JSON>\n\n`, no
// `event:`/`id:`/comment lines, and the stream ends with `data: [DONE]\n\n`.

/// Server-sent-event framing.
public enum ServerSentEvents {
    /// The response content type (Starlette adds the charset).
    public static let contentType = "text/event-stream; charset=utf-8"

    /// The terminating event.
    public static let done = "data: [DONE]\n\n"

    /// One event around a single-line JSON payload.
    public static func event(_ json: String) -> String { "data: " + json + "\n\n" }
}
