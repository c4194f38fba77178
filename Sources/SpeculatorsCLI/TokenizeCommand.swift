import ArgumentParser
import Engine
import Foundation

/// `speculators tokenize`: the ids a text becomes (and the rendered chat prompt with --chat).
struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "tokenize", abstract: "Print the token ids of a text.")

    @Option(help: "Verifier: a .gguf file or a Hugging Face model folder (only its tokenizer is used).")
    var model: String = "models/SmolLM2-135M-Instruct.Q4_1.gguf"
    @Flag(help: "Render the text as a user message with the chat template first.") var chat = false
    @Flag(help: "Print JSON (ids, tokens, rendered prompt).") var json = false
    @Argument(help: "The text ('-' reads standard input exactly).") var text: String

    func run() throws {
        let input = text == "-" ? try standardInputText() : text
        // Only the tokenizer is read: a folder with tokenizer files and no weights will do.
        let codec = try PromptCodec.load(path: URL(fileURLWithPath: model))
        let rendered = chat ? try PromptEncoding.render(input, codec: codec) : nil
        let ids = try PromptEncoding.encode(input, chat: chat, codec: codec)
        if json {
            struct Output: Encodable { let ids: [Int]; let tokens: [String]; let rendered: String? }
            print(jsonString(Output(ids: ids, tokens: ids.map { codec.tokenizer.token(forId: $0) ?? "" }, rendered: rendered)))
        } else {
            if let rendered { print(rendered) }
            print(ids.map(String.init).joined(separator: " "))
        }
    }
}
