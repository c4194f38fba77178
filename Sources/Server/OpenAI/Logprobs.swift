// Logprob objects in the two OpenAI formats: the legacy completions one (parallel arrays plus a
// dict per token) and the chat one (a list of entries with UTF-8 bytes). vLLM replaces -inf by
// -9999.0 so that the JSON stays valid; so do we.

/// One (token text, log-probability) pair.
public struct TokenLogprob: Sendable, Equatable {
    public var token: String
    public var logprob: Float

    public init(token: String, logprob: Float) {
        self.token = token
        self.logprob = logprob
    }
}

/// vLLM's stand-in for -inf (and for NaN, which has no JSON form).
let minimumReportedLogprob: Float = -9999.0

func reportable(_ logprob: Float) -> Float {
    logprob.isNaN ? minimumReportedLogprob : max(logprob, minimumReportedLogprob)
}

/// The completions-format `logprobs` of a choice or of one stream delta.
public struct CompletionLogprobs: Sendable, Equatable {
    /// Character offset of each token within the returned text.
    public private(set) var textOffsets: [Int] = []
    /// Log-probability of each chosen token; nil for the first echoed prompt token.
    public private(set) var tokenLogprobs: [Float?] = []
    /// Decoded text of each token (or `token_id:<id>`).
    public private(set) var tokens: [String] = []
    /// Chosen token plus alternatives, as an ordered dict (equal strings collapse, the last
    /// value winning, the first position kept); nil for the first echoed prompt token.
    public private(set) var topLogprobs: [[TokenLogprob]?] = []
    /// Offset the next token starts at (Unicode scalars, as Python counts).
    public private(set) var nextOffset: Int

    /// `startOffset` continues the offsets of earlier stream chunks of the same choice.
    public init(startOffset: Int = 0) { nextOffset = startOffset }

    public var isEmpty: Bool { tokens.isEmpty }

    /// Appends a scored token: `chosen` first, then the top alternatives in rank order.
    public mutating func append(_ chosen: TokenLogprob, alternatives: [TokenLogprob]) {
        var dict: [TokenLogprob] = [TokenLogprob(token: chosen.token, logprob: reportable(chosen.logprob))]
        dict.reserveCapacity(alternatives.count + 1)
        for alt in alternatives {
            let entry = TokenLogprob(token: alt.token, logprob: reportable(alt.logprob))
            if let i = dict.firstIndex(where: { $0.token == alt.token }) { dict[i] = entry } else { dict.append(entry) }
        }
        appendEntry(token: chosen.token, logprob: reportable(chosen.logprob), top: dict)
    }

    /// Appends a token that has no score (the first prompt token under `echo`).
    public mutating func appendUnscored(token: String) {
        appendEntry(token: token, logprob: nil, top: nil)
    }

    private mutating func appendEntry(token: String, logprob: Float?, top: [TokenLogprob]?) {
        textOffsets.append(nextOffset)
        tokenLogprobs.append(logprob)
        tokens.append(token)
        topLogprobs.append(top)
        nextOffset += token.unicodeScalars.count
    }
}

/// One token of the chat-format logprobs.
public struct ChatTokenLogprob: Sendable, Equatable {
    public var token: String
    public var logprob: Float
    /// The token's UTF-8 bytes (defaults to the encoding of `token`).
    public var bytes: [UInt8]
    /// The top alternatives (`top_logprobs` of them).
    public var topLogprobs: [ChatTokenLogprob]

    public init(token: String, logprob: Float, bytes: [UInt8]? = nil, topLogprobs: [ChatTokenLogprob] = []) {
        self.token = token
        self.logprob = logprob
        self.bytes = bytes ?? Array(token.utf8)
        self.topLogprobs = topLogprobs
    }
}

extension JSONWriter {
    mutating func field(_ name: String, _ logprobs: CompletionLogprobs?) {
        key(name)
        guard let logprobs else { null(); return }
        beginObject()
        key("text_offset"); intArray(logprobs.textOffsets)
        key("token_logprobs")
        beginArray()
        for lp in logprobs.tokenLogprobs { if let lp { float(lp) } else { null() } }
        endArray()
        key("tokens")
        beginArray()
        for t in logprobs.tokens { string(t) }
        endArray()
        key("top_logprobs")
        beginArray()
        for entry in logprobs.topLogprobs {
            guard let entry else { null(); continue }
            beginObject()
            for pair in entry { key(pair.token); float(pair.logprob) }
            endObject()
        }
        endArray()
        endObject()
    }

    /// `{"content":[{"token","logprob","bytes","top_logprobs":[...]}]}` or null.
    mutating func field(_ name: String, chatLogprobs: [ChatTokenLogprob]?) {
        key(name)
        guard let entries = chatLogprobs else { null(); return }
        beginObject()
        key("content")
        beginArray()
        for entry in entries { writeChatEntry(entry, withTop: true) }
        endArray()
        endObject()
    }

    private mutating func writeChatEntry(_ entry: ChatTokenLogprob, withTop: Bool) {
        beginObject()
        field("token", entry.token)
        key("logprob"); float(reportable(entry.logprob))
        key("bytes"); intArray(entry.bytes.map(Int.init))
        if withTop {
            key("top_logprobs")
            beginArray()
            for alt in entry.topLogprobs { writeChatEntry(alt, withTop: false) }
            endArray()
        }
        endObject()
    }
}
