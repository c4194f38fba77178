import Engine
import Foundation
import HTTP
import Synchronization

// POST /v1/chat/completions: render the chat template, then run like a completion and answer in
// the chat shapes (`chat.completion`, or `chat.completion.chunk` events opening with the role).

extension InferenceService {
    func chatCompletions(_ request: HTTPRequest, _ responder: HTTPResponder) {
        let decoded: ChatCompletionRequest
        let context: RequestContext
        let prompt: [Int]
        let budget: Int
        do throws(APIError) {
            try checkAccepting()
            try checkBody(request)
            decoded = try ChatCompletionRequest.decode(request.body, context: validation)
            if decoded.toolsJSON != nil {
                throw .badRequest("tools are not supported by this server's chat templates.", param: "tools")
            }
            context = self.context(for: request, bodyID: decoded.requestID)
            let text = try model.renderChat(decoded.messages, addGenerationPrompt: decoded.addGenerationPrompt,
                                            continueFinalMessage: decoded.continueFinalMessage,
                                            chatTemplate: decoded.chatTemplate)
            prompt = model.truncated(model.encode(text, addSpecialTokens: decoded.addSpecialTokens),
                                     to: decoded.truncatePromptTokens)
            if prompt.isEmpty { throw APIError.emptyPrompt }
            budget = try ContextWindow.effectiveMaxTokens(requested: decoded.maxTokens, promptTokens: prompt.count,
                                                          maxModelLen: model.maxModelLen,
                                                          cap: validation.samplingDefaults.maxTokensCap)
        } catch {
            send(error, to: responder, requestID: request.headers["X-Request-Id"])
            return
        }
        let requests = (0..<decoded.n).map { j in
            EngineSupport.generationRequest(prompt: prompt, sampling: decoded.sampling, stop: decoded.stop,
                                            decoding: decoded.decoding, maxTokens: budget, logprobs: decoded.topLogprobs,
                                            promptLogprobs: decoded.promptLogprobs,
                                            speculativeTokens: decoded.numSpeculativeTokens, choice: j)
        }
        // vLLM's chat `echo`: the reply starts with the last message when it is the assistant's.
        let echoed = decoded.echo && decoded.messages.last?.role == "assistant" ? decoded.messages.last?.content ?? "" : ""
        if decoded.stream {
            streamChat(decoded, context, promptTokens: prompt.count, echoed: echoed, requests, responder)
        } else {
            completeChat(decoded, context, promptTokens: prompt.count, echoed: echoed, requests, responder)
        }
    }

    private func completeChat(_ r: ChatCompletionRequest, _ context: RequestContext, promptTokens: Int, echoed: String,
                              _ requests: [GenerationRequest], _ responder: HTTPResponder) {
        let finished = beginGeneration()
        let job = GenerationJob(
            scheduler: scheduler, telemetry: telemetry, choiceCount: requests.count, maxTokensParam: r.maxTokens,
            onEvent: { _, _, _ in },
            onFinished: { [self] results in
                defer { finished() }
                context.logFinished("/v1/chat/completions", results)
                if let error = failure(in: results) {
                    context.logger.warning("chat completion failed", metadata: ["error": "\(error.message)"])
                    send(error, to: responder, requestID: context.id)
                    return
                }
                let choices = results.enumerated().map { c, result in
                    ChatCompletionChoice(index: c, content: echoed + result.text,
                                         logprobs: r.topLogprobs.map { _ in chatLogprobs(result.logprobs) },
                                         finishReason: result.finish.map(FinishReason.init(engine:)),
                                         stopReason: StopReason(engine: result.stopReason),
                                         tokenIDs: r.returnTokenIDs ? result.tokens : nil)
                }
                let body = ChatCompletionResponse(id: RequestID.chatCompletionID(context.id), created: context.created,
                                                  model: r.model, choices: choices, usage: usage([promptTokens], results),
                                                  promptLogprobs: r.promptLogprobs.map { _ in
                                                      promptLogprobEntries(results.first?.promptLogprobs)
                                                  })
                sendJSON(body.jsonString, to: responder, requestID: context.id)
            })
        run(job, requests, n: r.n, responder: responder, context: context, onStarted: {}, finished: finished)
    }

    private func streamChat(_ r: ChatCompletionRequest, _ context: RequestContext, promptTokens: Int, echoed: String,
                            _ requests: [GenerationRequest], _ responder: HTTPResponder) {
        let finished = beginGeneration()
        let sink = EventSink()
        let encoder = ChatCompletionStreamEncoder(id: RequestID.chatCompletionID(context.id), created: context.created,
                                                  model: r.model)
        let continuous = r.streamOptions.continuousUsageStats
        @Sendable func running(_ generated: Int) -> Usage? {
            continuous ? Usage(promptTokens: promptTokens, completionTokens: generated) : nil
        }
        // The role chunks go first, before any engine event can arrive.
        for choice in requests.indices {
            sink.write(encoder.roleChunk(index: choice, usage: running(0)))
            if !echoed.isEmpty { sink.write(encoder.chunk(index: choice, content: echoed, usage: running(0))) }
        }
        let job = GenerationJob(
            scheduler: scheduler, telemetry: telemetry, choiceCount: requests.count, maxTokensParam: r.maxTokens,
            onEvent: { [self] choice, event, result in
                if event.text.isEmpty && event.tokens.isEmpty && event.finish == nil { return }
                if event.finish == .abort { return }
                let logprobs = r.topLogprobs.map { _ in chatLogprobs(event.logprobs) }
                sink.write(encoder.chunk(index: choice, content: event.text, logprobs: logprobs,
                                         finishReason: event.finish.map(FinishReason.init(engine:)),
                                         stopReason: StopReason(engine: event.stopReason),
                                         usage: running(result.generatedTokens),
                                         tokenIDs: r.returnTokenIDs ? event.tokens : nil))
            },
            onFinished: { [self] results in
                defer { finished() }
                context.logFinished("/v1/chat/completions", results)
                if let error = failure(in: results) {
                    context.logger.warning("streamed chat completion failed", metadata: ["error": "\(error.message)"])
                    sink.write(error.streamEvent)
                } else if r.streamOptions.includeUsage {
                    sink.write(encoder.usageChunk(usage([promptTokens], results)))
                }
                sink.finish()
            })
        run(job, requests, n: r.n, responder: responder, context: context, onStarted: {
            var headers = HTTPHeaders()
            headers.set(name: "X-Request-Id", value: context.id)
            sink.open(responder.startEventStream(headers: headers))
        }, finished: finished)
    }

    /// Chat-format logprobs: each token with its bytes and the top alternatives.
    func chatLogprobs(_ entries: [Engine.TokenLogprob]) -> [ChatTokenLogprob] {
        entries.map { entry in
            ChatTokenLogprob(token: model.tokenText(entry.token, asTokenID: false), logprob: entry.logprob,
                             bytes: model.tokenizer.bytes(forId: entry.token),
                             topLogprobs: entry.top.map {
                                 ChatTokenLogprob(token: model.tokenText($0.token, asTokenID: false), logprob: $0.logprob,
                                                  bytes: model.tokenizer.bytes(forId: $0.token))
                             })
        }
    }
}
