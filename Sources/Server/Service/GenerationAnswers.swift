import Engine
import Foundation
import HTTP

// What completions and chat share once a request is decoded: submitting its job and tying it to
// the connection and the timeout, turning unfinished choices into the error to answer, usage,
// and logprob rendering.

extension InferenceService {
    /// Submits the job, answering 503 when it cannot run, and ties its life to the client's
    /// connection and the request timeout.
    func run(_ job: GenerationJob, _ requests: [GenerationRequest], n: Int, responder: HTTPResponder,
             context: RequestContext, onStarted: () -> Void, finished: @escaping @Sendable () -> Void) {
        responder.onClose { [weak job] in
            guard let job, !job.isCancelled else { return finished() }
            context.logger.info("client gone before the answer was complete; generation cancelled")
            job.cancel(notify: false)
            finished()
        }
        do throws(APIError) {
            try job.start(requests, n: n)
        } catch {
            finished()
            context.logger.notice("request refused", metadata: ["error": "\(error.message)"])
            send(error, to: responder, requestID: context.id)
            return
        }
        context.logger.debug("request queued", metadata: ["choices": "\(requests.count)"])
        onStarted()
        let timeout = options.requestTimeoutSeconds
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout) { [weak job] in job?.cancel(notify: true) }
    }

    /// The error to answer with when a choice did not finish normally.
    func failure(in results: [ChoiceResult]) -> APIError? {
        guard results.contains(where: { !$0.isComplete }) else { return nil }
        if !isAccepting { return .serviceUnavailable("The server is shutting down; the request was aborted.") }
        if results.contains(where: { $0.finish == nil }) {
            return APIError(status: 500, message: "The request timed out after \(Int(options.requestTimeoutSeconds)) s "
                            + "and was aborted.", type: "InternalServerError")
        }
        return .internalError("The generation was aborted by the engine.")
    }

    /// Prompt tokens once per prompt, completion tokens over every choice.
    func usage(_ promptCounts: [Int], _ results: [ChoiceResult]) -> Usage {
        Usage(promptTokens: promptCounts.reduce(0, +), completionTokens: results.reduce(0) { $0 + $1.generatedTokens })
    }

    /// Scored tokens in the completions format: the chosen token, then the alternatives.
    func appendLogprobs(_ entries: [Engine.TokenLogprob], to logprobs: inout CompletionLogprobs, asTokenIDs: Bool) {
        for entry in entries {
            logprobs.append(TokenLogprob(token: model.tokenText(entry.token, asTokenID: asTokenIDs), logprob: entry.logprob),
                            alternatives: entry.top.map {
                                TokenLogprob(token: model.tokenText($0.token, asTokenID: asTokenIDs), logprob: $0.logprob)
                            })
        }
    }

    /// `echo` with `logprobs`: the prompt's tokens come first, the first one unscored (vLLM).
    func appendPromptLogprobs(_ ids: [Int], _ scored: [Engine.TokenLogprob]?, to logprobs: inout CompletionLogprobs,
                              asTokenIDs: Bool) {
        guard let first = ids.first else { return }
        logprobs.appendUnscored(token: model.tokenText(first, asTokenID: asTokenIDs))
        appendLogprobs(scored ?? [], to: &logprobs, asTokenIDs: asTokenIDs)
    }

    /// vLLM's `prompt_logprobs`: null for the first prompt token, then per token its own entry
    /// (with its rank) followed by the most likely alternatives (ranks 1, 2, ...).
    func promptLogprobEntries(_ scored: [Engine.TokenLogprob]?) -> [[PromptTokenLogprob]?] {
        [nil] + (scored ?? []).map { entry in
            var entries = [PromptTokenLogprob(tokenID: entry.token, logprob: entry.logprob, rank: entry.rank,
                                              decodedToken: model.tokenText(entry.token, asTokenID: false))]
            for (index, alternative) in entry.top.enumerated() where alternative.token != entry.token {
                entries.append(PromptTokenLogprob(tokenID: alternative.token, logprob: alternative.logprob, rank: index + 1,
                                                  decodedToken: model.tokenText(alternative.token, asTokenID: false)))
            }
            return entries
        }
    }
}
