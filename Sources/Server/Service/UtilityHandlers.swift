import Configs
import Foundation
import HTTP

// The small endpoints: /v1/models, /health and /ping, /version, /load, /metrics, /tokenize and
// /detokenize.

extension InferenceService {
    func models(_ request: HTTPRequest, _ responder: HTTPResponder) {
        let list = ModelList(cards: [ModelCard(id: model.servedName, root: model.root, maxModelLen: model.maxModelLen)])
        sendJSON(list.jsonString(created: Int(Date().timeIntervalSince1970)), to: responder)
    }

    /// 200 with an empty body while the engine accepts work, 503 once it is shutting down.
    func health(_ request: HTTPRequest, _ responder: HTTPResponder) {
        responder.send(HTTPResponse(status: HTTPStatus(ServiceResponses.healthStatus(engineRunning: isAccepting))))
    }

    func version(_ request: HTTPRequest, _ responder: HTTPResponder) {
        sendJSON(ServiceResponses.versionBody(), to: responder)
    }

    func load(_ request: HTTPRequest, _ responder: HTTPResponder) {
        sendJSON(ServiceResponses.loadBody(inFlightRequests: inFlightRequests), to: responder)
    }

    /// The process collector's families first, as prometheus_client serves them, then the service's.
    func metricsText(_ request: HTTPRequest, _ responder: HTTPResponder) {
        let text = (ProcessMetrics.current()?.exposition ?? "") + telemetry.metrics.exposition()
        responder.send(HTTPResponse(status: .ok, headers: ["Content-Type": MetricsRegistry.contentType],
                                    body: Array(text.utf8)))
    }

    func tokenize(_ request: HTTPRequest, _ responder: HTTPResponder) {
        do throws(APIError) {
            try checkBody(request)
            let decoded = try TokenizeRequest.decode(request.body, context: validation)
            let text: String
            switch decoded.input {
            case .prompt(let prompt):
                text = prompt
            case let .messages(messages, addGenerationPrompt, continueFinalMessage, chatTemplate):
                text = try model.renderChat(messages, addGenerationPrompt: addGenerationPrompt,
                                            continueFinalMessage: continueFinalMessage, chatTemplate: chatTemplate)
            }
            let ids = model.encode(text, addSpecialTokens: decoded.addSpecialTokens)
            try ContextWindow.checkPromptLength(promptTokens: ids.count, maxModelLen: model.maxModelLen)
            let strings = decoded.returnTokenStrings ? ids.map { model.tokenizer.token(forId: $0) ?? "" } : nil
            sendJSON(ServiceResponses.tokenizeBody(tokens: ids, maxModelLen: model.maxModelLen, tokenStrings: strings),
                     to: responder)
        } catch {
            send(error, to: responder)
        }
    }

    func detokenize(_ request: HTTPRequest, _ responder: HTTPResponder) {
        do throws(APIError) {
            try checkBody(request)
            let decoded = try DetokenizeRequest.decode(request.body, context: validation)
            sendJSON(ServiceResponses.detokenizeBody(text: model.tokenizer.decode(decoded.tokens)), to: responder)
        } catch {
            send(error, to: responder)
        }
    }
}
