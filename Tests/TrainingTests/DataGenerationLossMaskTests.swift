import Testing
import Tokenizers
import Training

/// training.md §2.3: loss masks from render boundaries, one row per supervised assistant turn.
@Suite("Datagen loss masks") struct DataGenerationLossMaskTests {
    let renderer = ByteRenderer()
    let conversation = [
        ChatMessage(role: "system", content: "S"), ChatMessage(role: "user", content: "hi"),
        ChatMessage(role: "assistant", content: "yo"), ChatMessage(role: "user", content: "q"),
        ChatMessage(role: "assistant", content: "ab"), ChatMessage(role: "user", content: "trailing"),
    ]

    func supervised(_ row: TrainingRow) -> [Int] { zip(row.inputIds, row.lossMask).filter(\.1).map(\.0) }

    @Test("Each assistant turn's row supervises exactly its answer and end-of-turn tokens")
    func libraryRows() throws {
        let rows = try LossMask.libraryRows(conversation, renderer: renderer, maxLength: 1000)
        try #require(rows.count == 2)
        // Turn 2: F = render(S, hi, yo), boundary after the generation prompt [1, 5].
        let first = try renderer.render(Array(conversation[0...2]), addGenerationPrompt: false)
        #expect(rows[0].inputIds == first)
        #expect(supervised(rows[0]) == ByteRenderer.bytes("yo") + [2, 7])
        #expect(rows[0].lossMask.prefix(first.count - 4).allSatisfy { !$0 })
        #expect(supervised(rows[1]) == ByteRenderer.bytes("ab") + [2, 7])
        // The trailing user turn is in no row.
        #expect(rows[1].inputIds == (try renderer.render(Array(conversation[0...4]), addGenerationPrompt: false)))
    }

    @Test("Prefix-stable rows merge into one row supervising the union of the turns")
    func mergedRow() throws {
        let library = try LossMask.libraryRows(conversation, renderer: renderer, maxLength: 1000)
        let merged = try LossMask.conversationRows(conversation, renderer: renderer, maxLength: 1000)
        try #require(merged.count == 1)
        #expect(merged[0].inputIds == library[1].inputIds)
        let union = zip(library[1].lossMask, library[0].lossMask + Array(repeating: false, count: library[1].inputIds.count - library[0].inputIds.count)).map { $0 || $1 }
        #expect(merged[0].lossMask == union)
        #expect(merged[0].supervisedCount == 8)
    }

    @Test("Rows that are not prefixes of each other stay separate (as the library makes them)")
    func unstableHistoryFallsBack() throws {
        let shortening = ByteRenderer(shortensEarlierAnswers: true)
        let rows = try LossMask.conversationRows(conversation, renderer: shortening, maxLength: 1000)
        #expect(rows == (try LossMask.libraryRows(conversation, renderer: shortening, maxLength: 1000)))
        #expect(rows.count == 2)
    }

    @Test("A boundary that cuts into the rendered history rejects the conversation")
    func unstableBoundary() throws {
        let marking = ByteRenderer(marksLastUserTurn: true)
        #expect(throws: LossMask.BoundaryUnstable.self) {
            try LossMask.libraryRows(conversation, renderer: marking, maxLength: 1000)
        }
    }

    @Test("An assistant turn 0 is never supervised; a conversation without supervised turns gives no row")
    func turnZero() throws {
        let messages = [ChatMessage(role: "assistant", content: "hello"), ChatMessage(role: "user", content: "x")]
        #expect(try LossMask.conversationRows(messages, renderer: renderer, maxLength: 1000).isEmpty)
    }

    @Test("Rows are clipped to the maximum length; turns whose prompt reaches it are skipped")
    func clipping() throws {
        let promptLength = try renderer.render(Array(conversation[0...1]), addGenerationPrompt: true).count
        let clipped = try LossMask.libraryRows(conversation, renderer: renderer, maxLength: promptLength + 1)
        try #require(clipped.count == 1)
        #expect(clipped[0].inputIds.count == promptLength + 1)
        #expect(clipped[0].supervisedCount == 1)
        #expect(try LossMask.libraryRows(conversation, renderer: renderer, maxLength: promptLength).isEmpty)
    }

    @Test("A regenerated row supervises the new answer and the earlier answers of its history")
    func regeneratedRow() throws {
        let history = Array(conversation[0...3])
        let prompt = try renderer.render(history, addGenerationPrompt: true)
        let completion = [20, 21, 2]
        let row = try #require(try LossMask.regeneratedRow(history: history, prompt: prompt, completion: completion,
                                                           renderer: renderer, maxLength: 1000))
        #expect(row.inputIds == prompt + completion)
        #expect(supervised(row) == ByteRenderer.bytes("yo") + [2, 7] + completion)
        #expect(Array(row.lossMask.suffix(3)) == [true, true, true])
    }
}
