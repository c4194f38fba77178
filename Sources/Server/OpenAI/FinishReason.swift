// Why a choice ended, and what stopped it.

/// The `finish_reason` of a choice.
public enum FinishReason: String, Sendable, Equatable, CaseIterable {
    /// EOS, a stop token id or a stop string.
    case stop
    /// `max_tokens` reached, or prompt + output reached the context length.
    case length
    /// The client went away (visible only in metrics).
    case abort
    /// Generation failed inside the engine.
    case error
}

/// The `stop_reason` of a choice that finished with `stop` on something other than EOS.
public enum StopReason: Sendable, Equatable {
    /// A `stop_token_ids` id was sampled (JSON integer).
    case tokenID(Int)
    /// A stop string matched (JSON string).
    case string(String)
}

extension JSONWriter {
    mutating func field(_ name: String, _ reason: FinishReason?) { field(name, reason?.rawValue) }

    mutating func field(_ name: String, _ reason: StopReason?) {
        key(name)
        switch reason {
        case .tokenID(let id)?: int(id)
        case .string(let s)?: string(s)
        case nil: null()
        }
    }
}
