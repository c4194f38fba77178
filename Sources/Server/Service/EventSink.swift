import HTTP
import Synchronization

// A streamed response opens only after its generations were accepted by the scheduler (so a
// full queue can still be a plain 503), but the engine may produce events before that. The
// sink keeps them until the stream opens.

/// SSE events for one response, written in order whether or not the stream is open yet.
final class EventSink: Sendable {
    private struct State {
        var stream: HTTPStream?
        var pending: [String] = []
        var finishRequested = false
    }

    private let state = Mutex(State())

    /// Opens the sink on `stream`, writing what was produced so far.
    func open(_ stream: HTTPStream) {
        state.withLock { s in
            s.stream = stream
            for event in s.pending { stream.write(event) }
            s.pending = []
            if s.finishRequested { stream.finish() }
        }
    }

    func write(_ event: String) {
        state.withLock { s in
            if let stream = s.stream { stream.write(event) } else { s.pending.append(event) }
        }
    }

    /// Writes `[DONE]` and ends the body.
    func finish() {
        state.withLock { s in
            if let stream = s.stream {
                stream.write(ServerSentEvents.done)
                stream.finish()
            } else {
                s.pending.append(ServerSentEvents.done)
                s.finishRequested = true
            }
        }
    }
}
