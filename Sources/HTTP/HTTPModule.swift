// The HTTP module: HTTP/1.1 on plain sockets with Foundation and Dispatch. It knows nothing of models.
//
// Files, from the wire up:
//   HTTPSyntax, HTTPFraming, HTTPRequestParser: a pure, incremental RFC 9112 request parser
//       (bytes in, events out) with limits mapped to 400/413/414/431/501/505/417.
//   HTTPRequest, HTTPResponse, HTTPHeaders, HTTPStatus: the value types handlers see.
//   Socket: the few Glibc calls (non-blocking, EINTR retried, MSG_NOSIGNAL).
//   HTTPConnection: one connection's I/O state machine on its own serial queue. It reads,
//       parses, dispatches one request at a time, writes answers in order, and runs the timers.
//   ConnectionExchange: the thread-safe half of a connection that responders call into. The
//       output buffer is bounded for streams, and onClose runs when an exchange ends abnormally.
//   HTTPResponder / HTTPStream: the handler-facing answer API (complete, chunked, SSE).
//   ResponseEncoding: status line, framing headers, cached Date, chunk framing.
//   ServerCore / HTTPServer: listener, accept loop with the connection bound, registry,
//       graceful shutdown, signal handling.
//   Router: method + path pattern routing with 404/405/501.
//
// Threads: connection I/O runs on per-connection serial queues, and handlers run on a concurrent
// queue. Responders and streams may be used from any thread and never block.
