import Tokenizers

/// One training sequence: its token ids and which positions are supervised (assistant tokens).
public struct TrainingRow: Sendable, Equatable {
    public var inputIds: [Int]
    public var lossMask: [Bool]

    public init(inputIds: [Int], lossMask: [Bool]) {
        self.inputIds = inputIds
        self.lossMask = lossMask
    }

    public var supervisedCount: Int { lossMask.reduce(0) { $0 + ($1 ? 1 : 0) } }

    /// The row cut to at most `length` tokens.
    public func clipped(to length: Int) -> TrainingRow {
        guard inputIds.count > length else { return self }
        return TrainingRow(inputIds: Array(inputIds.prefix(length)), lossMask: Array(lossMask.prefix(length)))
    }
}

/// Loss masks from render boundaries (training.md §2.3), as the Python library's `prepare_data` builds them.
///
/// For every assistant turn `j > 0`: `P` = render(turns before j, generation prompt), `F` = render(turns up to
/// and including j). If `F` starts with `P` the supervised span is `F[len(P)...]` (the answer and its
/// end-of-turn tokens); otherwise the boundary is the common prefix of `P` and `F`, which must not cut into
/// the history rendered without a generation prompt, else the conversation is rejected as unstable.
public enum LossMask {
    /// A conversation whose template renders the history differently depending on what follows.
    public struct BoundaryUnstable: Error, CustomStringConvertible {
        public let turn: Int
        public var description: String { "turn \(turn): the rendered history is not a prefix of the rendered turn" }
    }

    /// One supervised span: the row `F` it belongs to and the positions `boundary..<F.count`.
    public struct TurnSpan: Sendable, Equatable {
        public let turn: Int
        public let rendered: [Int]
        public let boundary: Int
    }

    /// The library's spans, one per supervised assistant turn. Turns whose prompt alone reaches
    /// `maxLength` are skipped, as the library does.
    public static func turnSpans(_ messages: [ChatMessage], renderer: any ConversationRenderer,
                                 maxLength: Int = Int.max) throws -> [TurnSpan] {
        var spans: [TurnSpan] = []
        for j in messages.indices where j > 0 && messages[j].role == "assistant" {
            let history = Array(messages[..<j])
            let prompt = try renderer.render(history, addGenerationPrompt: true)
            if prompt.count >= maxLength { continue }
            let full = try renderer.render(Array(messages[...j]), addGenerationPrompt: false)
            var boundary: Int
            if full.starts(with: prompt) {
                boundary = prompt.count
            } else {
                boundary = zip(prompt, full).prefix { $0 == $1 }.count
                let plainHistory = try renderer.render(history, addGenerationPrompt: false)
                guard full.starts(with: plainHistory), boundary >= plainHistory.count else { throw BoundaryUnstable(turn: j) }
            }
            spans.append(TurnSpan(turn: j, rendered: full, boundary: boundary))
        }
        return spans
    }

    /// Exactly the library's rows: one per supervised assistant turn, each supervising only its last turn,
    /// clipped to `maxLength`, rows without supervised tokens dropped. Trailing non-assistant turns play no part.
    public static func libraryRows(_ messages: [ChatMessage], renderer: any ConversationRenderer,
                                   maxLength: Int) throws -> [TrainingRow] {
        try turnSpans(messages, renderer: renderer, maxLength: maxLength).compactMap { span in
            let mask = (0..<span.rendered.count).map { $0 >= span.boundary }
            let row = TrainingRow(inputIds: span.rendered, lossMask: mask).clipped(to: maxLength)
            return row.supervisedCount > 0 ? row : nil
        }
    }

    /// The library's rows merged into one when every row is a prefix of the last (the usual case: ChatML and
    /// Llama-3 render history the same whatever follows). The merged row supervises the union of the turns'
    /// spans; with a causal model it trains exactly the same positions on exactly the same contexts, with one
    /// forward pass instead of one per turn. Falls back to the separate rows otherwise.
    public static func conversationRows(_ messages: [ChatMessage], renderer: any ConversationRenderer,
                                        maxLength: Int) throws -> [TrainingRow] {
        let spans = try turnSpans(messages, renderer: renderer, maxLength: maxLength)
        guard let last = spans.last else { return [] }
        guard spans.allSatisfy({ last.rendered.starts(with: $0.rendered) }) else {
            return try libraryRows(messages, renderer: renderer, maxLength: maxLength)
        }
        var mask = [Bool](repeating: false, count: last.rendered.count)
        for span in spans { for position in span.boundary..<span.rendered.count { mask[position] = true } }
        let row = TrainingRow(inputIds: last.rendered, lossMask: mask).clipped(to: maxLength)
        return row.supervisedCount > 0 ? [row] : []
    }

    /// The row of a regenerated conversation: the prompt the verifier answered (history with earlier
    /// regenerated answers, rendered with a generation prompt) followed by the generated tokens, exactly as
    /// generated (§2.5). The new answer is supervised; so are the earlier answers, by the render-boundary
    /// rule, when their rendering is a prefix of the prompt.
    public static func regeneratedRow(history: [ChatMessage], prompt: [Int], completion: [Int],
                                      renderer: any ConversationRenderer, maxLength: Int) throws -> TrainingRow? {
        var mask = [Bool](repeating: false, count: prompt.count + completion.count)
        for position in prompt.count..<mask.count { mask[position] = true }
        if let spans = try? turnSpans(history, renderer: renderer, maxLength: maxLength) {
            for span in spans where prompt.starts(with: span.rendered) {
                for position in span.boundary..<span.rendered.count { mask[position] = true }
            }
        }
        let row = TrainingRow(inputIds: prompt + completion, lossMask: mask).clipped(to: maxLength)
        return row.supervisedCount > 0 ? row : nil
    }
}
