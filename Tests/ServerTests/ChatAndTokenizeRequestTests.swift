import Testing
import Server

@Suite("Chat, tokenize and detokenize request decoding")
struct ChatAndTokenizeRequestTests {
    let context = ValidationContext(servedModelNames: ["smollm2"], maxModelLen: 256, vocabularySize: 384)

    @Test("Chat messages keep roles and text; text parts are joined with a newline")
    func messages() throws {
        let r = try ChatCompletionRequest.decode(#"""
            {"messages": [{"role": "system", "content": "Be brief."},
                          {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}], "name": "bob"},
                          {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function"}]},
                          {"role": "tool", "content": "42", "tool_call_id": "c1"}]}
            """#.bytes, context: context)
        #expect(r.messages == [
            ChatMessage(role: "system", content: "Be brief."),
            ChatMessage(role: "user", content: "a\nb", name: "bob"),
            ChatMessage(role: "assistant", content: "", toolCallsJSON: #"[{"id":"c1","type":"function"}]"#),
            ChatMessage(role: "tool", content: "42", toolCallID: "c1"),
        ])
    }

    @Test("Chat defaults: fill-the-context max tokens, generation prompt on, no special tokens, no logprobs")
    func chatDefaults() throws {
        let r = try ChatCompletionRequest.decode(#"{"messages": [{"role": "user", "content": "Hi"}]}"#.bytes,
                                                 context: context)
        #expect(r.model == "smollm2")
        #expect(r.maxTokens == nil)
        #expect(r.addGenerationPrompt && !r.continueFinalMessage && !r.addSpecialTokens)
        #expect(r.topLogprobs == nil && !r.echo && !r.stream && r.n == 1)
        #expect(r.toolsJSON == nil && r.chatTemplate == nil && r.chatTemplateKwargsJSON == nil)
    }

    @Test("max_completion_tokens wins over the deprecated max_tokens")
    func maxCompletionTokens() throws {
        let both = try ChatCompletionRequest.decode(
            #"{"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 9, "max_completion_tokens": 5}"#.bytes,
            context: context)
        #expect(both.maxTokens == 5 && both.maxTokensParameter == "max_completion_tokens")
        let old = try ChatCompletionRequest.decode(
            #"{"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 9}"#.bytes, context: context)
        #expect(old.maxTokens == 9 && old.maxTokensParameter == "max_tokens")
    }

    @Test("Chat logprobs: top_logprobs counts alternatives only when logprobs is true")
    func chatLogprobs() throws {
        let r = try ChatCompletionRequest.decode(
            #"{"messages": [{"role": "user", "content": "Hi"}], "logprobs": true, "top_logprobs": 4}"#.bytes,
            context: context)
        #expect(r.topLogprobs == 4)
        let plain = try ChatCompletionRequest.decode(
            #"{"messages": [{"role": "user", "content": "Hi"}], "logprobs": true}"#.bytes, context: context)
        #expect(plain.topLogprobs == 0)
    }

    @Test("Tools with tool_choice none reach the template as JSON; template options are carried")
    func toolsAndTemplate() throws {
        let r = try ChatCompletionRequest.decode(#"""
            {"messages": [{"role": "user", "content": "Hi"}], "tools": [{"type": "function", "function": {"name": "f"}}],
             "tool_choice": "none", "chat_template": "{{ x }}", "chat_template_kwargs": {"enable_thinking": false},
             "add_generation_prompt": false, "continue_final_message": true, "add_special_tokens": true}
            """#.bytes, context: context)
        #expect(r.toolsJSON == #"[{"type":"function","function":{"name":"f"}}]"#)
        #expect(r.chatTemplate == "{{ x }}")
        #expect(r.chatTemplateKwargsJSON == #"{"enable_thinking":false}"#)
        #expect(!r.addGenerationPrompt && r.continueFinalMessage && r.addSpecialTokens)
    }

    @Test("Tokenize: prompt form adds special tokens by default, chat form does not")
    func tokenize() throws {
        let prompt = try TokenizeRequest.decode(#"{"prompt": "Hi", "return_token_strs": true}"#.bytes, context: context)
        #expect(prompt.input == .prompt("Hi"))
        #expect(prompt.addSpecialTokens && prompt.returnTokenStrings)
        let chat = try TokenizeRequest.decode(#"{"messages": [{"role": "user", "content": "Hi"}]}"#.bytes,
                                              context: context)
        #expect(chat.input == .messages([ChatMessage(role: "user", content: "Hi")], addGenerationPrompt: true,
                                        continueFinalMessage: false, chatTemplate: nil))
        #expect(!chat.addSpecialTokens)
    }

    @Test("Detokenize keeps the ids in order")
    func detokenize() throws {
        let r = try DetokenizeRequest.decode(#"{"tokens": [5, 0, 383], "model": "smollm2"}"#.bytes, context: context)
        #expect(r.tokens == [5, 0, 383] && r.model == "smollm2")
    }
}
