import Foundation
import Testing
import Tokenizers

/// Renderings by Jinja2 configured like transformers' apply_chat_template, for SmolLM2, Qwen2.5, Qwen3,
/// Llama-3.0, Llama-3.2 and Llama-3.3 templates (Fixtures/templates), against the native renderer.
@Suite("Chat templates")
struct ChatTemplateTests {
    static let templateFiles = ["smollm2": "smollm2-hf/chat_template.jinja", "qwen2.5": "templates/qwen2.5-instruct.jinja",
                                "qwen3": "templates/qwen3.jinja", "llama-3.0": "templates/llama-3.0-instruct.jinja",
                                "llama-3.2": "templates/llama-3.2-instruct.jinja", "llama-3.3": "templates/llama-3.3-instruct.jinja"]

    @Test("every reference rendering is reproduced exactly")
    func reproducesReferenceRenderings() throws {
        let cases = try Fixtures.extraGoldens().chatCases
        #expect(cases.count == 160)
        for golden in cases {
            let file = try #require(Self.templateFiles[golden.template])
            let template = try ChatTemplate(Fixtures.text(file), bosToken: golden.bosToken)
            let options = ChatTemplateOptions(enableThinking: golden.options.enableThinking, dateString: golden.options.dateString)
            let rendered = try template.render(golden.messages, addGenerationPrompt: golden.addGenerationPrompt, options: options)
            #expect(rendered == golden.rendered, "\(golden.template) \(golden.messages) \(golden.addGenerationPrompt) \(golden.options)")
        }
    }

    @Test("the dialect and default system message are recognised from the template text")
    func recognisesDialects() throws {
        let smolLM2 = try ChatTemplate(Fixtures.text(Self.templateFiles["smollm2"]!))
        #expect(smolLM2.dialect == .chatML(defaultSystemMessage: "You are a helpful AI assistant named SmolLM, trained by Hugging Face",
                                           anyRole: true, qwen3Reasoning: false, thinkingSwitch: false))
        let qwen25 = try ChatTemplate(Fixtures.text(Self.templateFiles["qwen2.5"]!))
        #expect(qwen25.dialect == .chatML(defaultSystemMessage: "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.",
                                          anyRole: false, qwen3Reasoning: false, thinkingSwitch: false))
        let qwen3 = try ChatTemplate(Fixtures.text(Self.templateFiles["qwen3"]!))
        #expect(qwen3.dialect == .chatML(defaultSystemMessage: nil, anyRole: false, qwen3Reasoning: true, thinkingSwitch: true))
        #expect(try ChatTemplate(Fixtures.text(Self.templateFiles["llama-3.0"]!)).dialect == .llama3(systemBlock: false, todayByDefault: false))
        #expect(try ChatTemplate(Fixtures.text(Self.templateFiles["llama-3.3"]!)).dialect == .llama3(systemBlock: true, todayByDefault: false))
        #expect(try ChatTemplate(Fixtures.text(Self.templateFiles["llama-3.2"]!)).dialect == .llama3(systemBlock: true, todayByDefault: true))
    }

    @Test("Llama-3.2 writes today's date when the request gives none")
    func llama32DefaultsToToday() throws {
        let template = try ChatTemplate(Fixtures.text(Self.templateFiles["llama-3.2"]!), bosToken: "<|begin_of_text|>")
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "dd MMM yyyy"
        let before = formatter.string(from: Date())
        let rendered = try template.render([ChatMessage(role: "user", content: "hi")], addGenerationPrompt: true)
        let after = formatter.string(from: Date())
        #expect(rendered.contains("Today Date: \(before)\n") || rendered.contains("Today Date: \(after)\n"))
        #expect(rendered.hasPrefix("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\n"))
    }

    @Test("SmolLM2's template renders any role; Qwen and Llama-3.1+ refuse tool turns instead of guessing")
    func roles() throws {
        let smolLM2 = try ChatTemplate(Fixtures.text(Self.templateFiles["smollm2"]!))
        let rendered = try smolLM2.render([ChatMessage(role: "developer", content: "x")], addGenerationPrompt: false)
        #expect(rendered.hasSuffix("<|im_start|>developer\nx<|im_end|>\n"))
        for name in ["qwen2.5", "qwen3", "llama-3.3"] {
            let template = try ChatTemplate(Fixtures.text(Self.templateFiles[name]!))
            #expect(throws: TokenizerError.self, "\(name)") {
                try template.render([ChatMessage(role: "user", content: "q"), ChatMessage(role: "tool", content: "42")],
                                    addGenerationPrompt: true)
            }
        }
    }

    @Test("an empty conversation and an unknown template are clear errors")
    func errors() throws {
        let smolLM2 = try ChatTemplate(Fixtures.text(Self.templateFiles["smollm2"]!))
        #expect(throws: TokenizerError.unsupported("chat with no messages")) {
            try smolLM2.render([], addGenerationPrompt: true)
        }
        #expect(throws: TokenizerError.self) {
            try ChatTemplate("{% for m in messages %}[INST] {{ m.content }} [/INST]{% endfor %}")
        }
    }

    @Test("a tokenizer without a chat template loads, and asking for the template throws")
    func tokenizerWithoutTemplate() throws {
        let json = try Data(contentsOf: Fixtures.smolLM2Folder.appendingPathComponent("tokenizer.json"))
        let tokenizer = try Tokenizer(tokenizerJSON: json)
        #expect(tokenizer.chatTemplateSource == nil)
        #expect(throws: TokenizerError.self) { _ = try tokenizer.chatTemplate }
        let mistral = try Tokenizer(tokenizerJSON: json, chatTemplate: "{{ bos_token }}[INST] {{ messages[0].content }} [/INST]")
        #expect(mistral.chatTemplateSource != nil)
        #expect(throws: TokenizerError.self) { _ = try mistral.chatTemplate }
        #expect(mistral.encode("Hello") == [19556])
    }

    @Test("the template comes from tokenizer_config.json when there is no chat_template.jinja")
    func templateFromConfig() throws {
        let json = try Data(contentsOf: Fixtures.smolLM2Folder.appendingPathComponent("tokenizer.json"))
        let config = try Data(contentsOf: Fixtures.smolLM2Folder.appendingPathComponent("tokenizer_config.json"))
        let tokenizer = try Tokenizer(tokenizerJSON: json, tokenizerConfigJSON: config)
        let rendered = try tokenizer.chatTemplate.render([ChatMessage(role: "user", content: "Hi")], addGenerationPrompt: true)
        #expect(rendered == "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
        #expect(tokenizer.eosTokenIds == [2])
        #expect(tokenizer.bosTokenId == 1)
    }
}
