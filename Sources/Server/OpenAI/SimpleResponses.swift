// Small bodies: /version, /tokenize, /detokenize, /load. (/health and /ping have empty bodies:
// 200 when the engine runs, 503 when it does not.)

/// Bodies of the small service endpoints.
public enum ServiceResponses {
    /// The version this server reports.
    public static let version = "0.1.0"

    /// `{"version":"0.1.0"}`.
    public static func versionBody(_ version: String = ServiceResponses.version) -> String {
        var w = JSONWriter()
        w.beginObject(); w.field("version", version); w.endObject()
        return w.text
    }

    /// `/health` and `/ping`: 200 with an empty body while the engine runs, else 503.
    public static func healthStatus(engineRunning: Bool) -> Int { engineRunning ? 200 : 503 }

    /// `{"count":6,"max_model_len":8192,"tokens":[...],"token_strs":null}`.
    public static func tokenizeBody(tokens: [Int], maxModelLen: Int, tokenStrings: [String]? = nil) -> String {
        var w = JSONWriter(reservingCapacity: 64 + tokens.count * 6)
        w.beginObject()
        w.field("count", tokens.count)
        w.field("max_model_len", maxModelLen)
        w.key("tokens"); w.intArray(tokens)
        w.key("token_strs")
        if let tokenStrings {
            w.beginArray(); for s in tokenStrings { w.string(s) }; w.endArray()
        } else {
            w.null()
        }
        w.endObject()
        return w.text
    }

    /// `{"prompt":"<text>"}`.
    public static func detokenizeBody(text: String) -> String {
        var w = JSONWriter()
        w.beginObject(); w.field("prompt", text); w.endObject()
        return w.text
    }

    /// `{"server_load":<in-flight requests>}`.
    public static func loadBody(inFlightRequests: Int) -> String {
        var w = JSONWriter()
        w.beginObject(); w.field("server_load", inFlightRequests); w.endObject()
        return w.text
    }
}
