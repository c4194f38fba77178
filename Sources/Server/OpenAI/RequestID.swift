// Request ids: the `X-Request-Id` header, else the body's `request_id`, else 32 random hex
// digits. Response ids prefix them (`cmpl-`, `chatcmpl-`); sub-request i is `<id>-<i>`.

/// Request and response identifiers.
public enum RequestID {
    /// The base id of a request.
    public static func resolve(header: String?, body: String?) -> String {
        if let header, !header.isEmpty { return header }
        if let body, !body.isEmpty { return body }
        return random()
    }

    /// 32 lowercase hex digits (a UUID4's worth of randomness, without dashes).
    public static func random() -> String {
        var generator = SystemRandomNumberGenerator()
        let high = generator.next() as UInt64
        let low = generator.next() as UInt64
        return hex16(high) + hex16(low)
    }

    /// `cmpl-<id>`.
    public static func completionID(_ requestID: String) -> String { "cmpl-" + requestID }

    /// `chatcmpl-<id>`.
    public static func chatCompletionID(_ requestID: String) -> String { "chatcmpl-" + requestID }

    /// The engine id of prompt `index` of a batch: `<id>-<index>`.
    public static func subRequestID(_ requestID: String, index: Int) -> String { "\(requestID)-\(index)" }

    private static func hex16(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
