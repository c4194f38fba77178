import Engine
import Foundation
import HTTP
import Synchronization

// POST /v1/completions: validate, tokenize every prompt, check the context window, submit one
// engine request per (prompt, choice), and answer with one JSON body or an SSE stream.

/// A validated completion request with its prompts tokenized and budgets fixed.
struct PreparedCompletion: Sendable {
    let request: CompletionRequest
    /// `echo` with `max_tokens: 0` that still runs (to score the prompt): the one generated
    /// token is dropped from the answer and not counted.
    var promptOnly: Bool { request.maxTokens == 0 }
    let context: RequestContext
    /// Per prompt: token ids and the text `echo` shows.
    let prompts: [(ids: [Int], text: String)]
    /// Per prompt: tokens it may generate.
    let budgets: [Int]

    var choiceCount: Int { prompts.count * request.n }
    func prompt(ofChoice choice: Int) -> Int { choice / request.n }
}

extension InferenceService {
    func completions(_ request: HTTPRequest, _ responder: HTTPResponder) {
        let prepared: PreparedCompletion
        do throws(APIError) {
            prepared = try prepareCompletion(request)
        } catch {
            send(error, to: responder, requestID: request.headers["X-Request-Id"])
            return
        }
        // `echo` with `max_tokens: 0` runs as vLLM runs it: one token is generated and dropped
        // (`promptOnly`), which scores the prompt when logprobs are asked for and counts the
        // request in /metrics as vLLM counts it.
        let requests = prepared.prompts.indices.flatMap { p in
            (0..<prepared.request.n).map { j in
                EngineSupport.generationRequest(
                    prompt: prepared.prompts[p].ids, sampling: prepared.request.sampling, stop: prepared.request.stop,
                    decoding: prepared.request.decoding, maxTokens: max(1, prepared.budgets[p]),
                    logprobs: prepared.request.logprobs, promptLogprobs: prepared.request.promptLogprobs,
                    speculativeTokens: prepared.request.numSpeculativeTokens, choice: j)
            }
        }
        if prepared.request.stream {
            streamCompletion(prepared, requests, responder)
        } else {
            completeCompletion(prepared, requests, responder)
        }
    }

    private func prepareCompletion(_ request: HTTPRequest) throws(APIError) -> PreparedCompletion {
        try checkAccepting()
        try checkBody(request)
        let decoded = try CompletionRequest.decode(request.body, context: validation)
        let context = self.context(for: request, bodyID: decoded.requestID)
        var prompts: [(ids: [Int], text: String)] = []
        var budgets: [Int] = []
        for item in decoded.prompt.items {
            var ids: [Int]
            let text: String
            switch item {
            case .text(let s):
                ids = model.encode(s, addSpecialTokens: decoded.addSpecialTokens)
                text = s
            case .tokens(let t):
                ids = t
                text = decoded.echo ? model.tokenizer.decode(t) : ""
            }
            ids = model.truncated(ids, to: decoded.truncatePromptTokens)
            if ids.isEmpty { throw APIError.emptyPrompt }
            budgets.append(try ContextWindow.effectiveMaxTokens(
                requested: decoded.maxTokens, promptTokens: ids.count, maxModelLen: model.maxModelLen,
                cap: validation.samplingDefaults.maxTokensCap))
            prompts.append((ids, text))
        }
        return PreparedCompletion(request: decoded, context: context, prompts: prompts, budgets: budgets)
    }

    /// Non-streaming: collect every choice, then answer once.
    private func completeCompletion(_ prepared: PreparedCompletion, _ requests: [GenerationRequest],
                                    _ responder: HTTPResponder) {
        let finished = beginGeneration()
        let r = prepared.request
        let job = GenerationJob(
            scheduler: scheduler, telemetry: telemetry, choiceCount: prepared.choiceCount, maxTokensParam: r.maxTokens,
            onEvent: { _, _, _ in },
            onFinished: { [self] results in
                defer { finished() }
                prepared.context.logFinished("/v1/completions", results)
                if let error = failure(in: results) {
                    prepared.context.logger.warning("completion failed", metadata: ["error": "\(error.message)"])
                    send(error, to: responder, requestID: prepared.context.id)
                    return
                }
                let body = completionResponse(prepared, results)
                sendJSON(body.jsonString, to: responder, requestID: prepared.context.id)
            })
        run(job, requests, n: r.n, responder: responder, context: prepared.context, onStarted: {}, finished: finished)
    }

    private func completionResponse(_ prepared: PreparedCompletion, _ results: [ChoiceResult]) -> CompletionResponse {
        let r = prepared.request
        var choices: [CompletionChoice] = []
        let results = prepared.promptOnly ? results.map(\.promptOnly) : results
        for (c, result) in results.enumerated() {
            let prompt = prepared.prompts[prepared.prompt(ofChoice: c)]
            let prefix = r.echo ? prompt.text : ""
            let logprobs = r.logprobs.map { _ in
                var logprobs = CompletionLogprobs()
                if r.echo { appendPromptLogprobs(prompt.ids, result.promptLogprobs, to: &logprobs, asTokenIDs: r.returnTokensAsTokenIDs) }
                appendLogprobs(result.logprobs, to: &logprobs, asTokenIDs: r.returnTokensAsTokenIDs)
                return logprobs
            }
            choices.append(CompletionChoice(
                index: c, text: prefix + result.text, logprobs: logprobs,
                finishReason: result.finish.map(FinishReason.init(engine:)), stopReason: StopReason(engine: result.stopReason),
                tokenIDs: r.returnTokenIDs ? result.tokens : nil,
                promptLogprobs: r.promptLogprobs.map { _ in promptLogprobEntries(result.promptLogprobs) },
                promptTokenIDs: r.returnTokenIDs ? prompt.ids : nil))
        }
        return CompletionResponse(id: RequestID.completionID(prepared.context.id), created: prepared.context.created,
                                  model: r.model, choices: choices, usage: usage(prepared.prompts.map(\.ids.count), results))
    }

    /// Streaming: one chunk per (choice, engine step) with text, then usage and `[DONE]`.
    private func streamCompletion(_ prepared: PreparedCompletion, _ requests: [GenerationRequest],
                                  _ responder: HTTPResponder) {
        let finished = beginGeneration()
        let r = prepared.request
        let sink = EventSink()
        let encoder = CompletionStreamEncoder(id: RequestID.completionID(prepared.context.id),
                                              created: prepared.context.created, model: r.model)
        /// Per choice: whether its first chunk went out (echo, prompt ids) and the next logprob offset.
        let progress = Mutex(Array(repeating: (started: false, offset: 0), count: prepared.choiceCount))
        let promptCounts = prepared.prompts.map(\.ids.count)
        let job = GenerationJob(
            scheduler: scheduler, telemetry: telemetry, choiceCount: prepared.choiceCount, maxTokensParam: r.maxTokens,
            onEvent: { [self] choice, event, result in
                if event.text.isEmpty && event.tokens.isEmpty && event.finish == nil { return }
                if event.finish == .abort { return }
                // A `promptOnly` run shows none of the token it generated.
                let hidden = prepared.promptOnly
                let prompt = prepared.prompts[prepared.prompt(ofChoice: choice)]
                let (started, offset) = progress.withLock { p in
                    let before = p[choice]
                    p[choice].started = true
                    return before
                }
                let text = (started || !r.echo ? "" : prompt.text) + (hidden ? "" : event.text)
                var logprobs: CompletionLogprobs?
                if r.logprobs != nil {
                    var lp = CompletionLogprobs(startOffset: offset)
                    if r.echo && !started {
                        appendPromptLogprobs(prompt.ids, event.promptLogprobs, to: &lp, asTokenIDs: r.returnTokensAsTokenIDs)
                    }
                    if !hidden { appendLogprobs(event.logprobs, to: &lp, asTokenIDs: r.returnTokensAsTokenIDs) }
                    progress.withLock { $0[choice].offset = lp.nextOffset }
                    logprobs = lp
                }
                let usage = r.streamOptions.continuousUsageStats
                    ? Usage(promptTokens: prompt.ids.count, completionTokens: hidden ? 0 : result.generatedTokens) : nil
                sink.write(encoder.chunk(
                    index: choice, text: text, logprobs: logprobs,
                    finishReason: event.finish.map { hidden ? .length : FinishReason(engine: $0) },
                    stopReason: hidden ? nil : StopReason(engine: event.stopReason), usage: usage,
                    promptTokenIDs: r.returnTokenIDs && !started ? prompt.ids : nil,
                    tokenIDs: r.returnTokenIDs ? (hidden ? [] : event.tokens) : nil))
            },
            onFinished: { [self] results in
                defer { finished() }
                prepared.context.logFinished("/v1/completions", results)
                if let error = failure(in: results) {
                    prepared.context.logger.warning("streamed completion failed", metadata: ["error": "\(error.message)"])
                    sink.write(error.streamEvent)
                } else if r.streamOptions.includeUsage {
                    sink.write(encoder.usageChunk(usage(promptCounts, prepared.promptOnly ? results.map(\.promptOnly) : results)))
                }
                sink.finish()
            })
        run(job, requests, n: r.n, responder: responder, context: prepared.context, onStarted: {
            var headers = HTTPHeaders()
            headers.set(name: "X-Request-Id", value: prepared.context.id)
            sink.open(responder.startEventStream(headers: headers))
        }, finished: finished)
    }
}

extension ChoiceResult {
    /// The result of a `promptOnly` run: the prompt's scores, without the generated token.
    var promptOnly: ChoiceResult {
        var result = ChoiceResult()
        result.promptLogprobs = promptLogprobs
        result.promptTokens = promptTokens
        result.finish = finish == nil ? nil : .length
        return result
    }
}

