// Checks made before a body is decoded: the media type and the optional API key.

/// Header checks shared by every JSON endpoint.
public enum RequestGuards {
    /// A body must be `application/json` (case-insensitive, parameters such as `; charset=utf-8`
    /// allowed). Anything else, or no header, is vLLM's 400 (not 415).
    public static func requireJSON(contentType: String?) throws(APIError) {
        guard let contentType else { throw APIError.unsupportedMediaType }
        let mediaType = contentType.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        guard mediaType.trimmingPythonWhitespaceSubstring.lowercased() == "application/json" else {
            throw APIError.unsupportedMediaType
        }
    }

    /// With an API key configured, `/v1/*` requests need `Authorization: Bearer <key>`; other paths
    /// (health, metrics, version) stay open, as in vLLM. An empty key disables the check. As in
    /// vLLM, the header is split at its first space, the scheme compared without case (RFC 7235)
    /// and the rest compared with the key exactly.
    public static func authorize(path: String, authorization: String?, apiKey: String) throws(APIError) {
        guard !apiKey.isEmpty, path.hasPrefix("/v1") else { return }
        let header = authorization ?? ""
        let space = header.firstIndex(of: " ") ?? header.endIndex
        guard header[..<space].lowercased() == "bearer" else { throw APIError.unauthorized }
        let expected = Array(apiKey.utf8)
        let given = Array(header[space...].dropFirst().utf8)
        // Compare every byte so that timing does not reveal the length of a matching prefix.
        var difference = UInt8(expected.count == given.count ? 0 : 1)
        for i in 0..<expected.count { difference |= expected[i] ^ (i < given.count ? given[i] : 0) }
        if difference != 0 { throw APIError.unauthorized }
    }
}

extension Substring {
    var trimmingPythonWhitespaceSubstring: Substring { String(self).trimmingPythonWhitespace }
}
