#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Why the server could not start or stopped listening.
public struct HTTPServerError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }

    static func system(_ what: String, _ code: Int32 = errno) -> HTTPServerError {
        HTTPServerError("\(what): \(String(cString: strerror(code))) (errno \(code))")
    }
}

/// The few socket calls the server makes, with EINTR retried and errors turned into values.
/// Sockets are non-blocking and close-on-exec; sends use MSG_NOSIGNAL (SIGPIPE is also ignored).
enum Socket {
    /// Binds and listens on `host:port` (port 0 picks a free one). Returns the descriptor and the bound port.
    static func listen(host: String, port: Int, backlog: Int) throws -> (fd: Int32, port: Int) {
        guard (0...65535).contains(port) else { throw HTTPServerError("port \(port) is outside 0...65535") }
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let first = list else {
            throw HTTPServerError("cannot resolve host '\(host)': \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(list) }
        var lastError = HTTPServerError("no address to bind for host '\(host)'")
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let info = entry {
            entry = info.pointee.ai_next
            let fd = socket(info.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { lastError = .system("socket()"); continue }
            var one: Int32 = 1
            _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            guard bind(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 else {
                lastError = .system("bind(\(host):\(port))")
                _ = Glibc.close(fd)
                continue
            }
            guard Glibc.listen(fd, Int32(clamping: backlog)) == 0 else {
                lastError = .system("listen(\(host):\(port))")
                _ = Glibc.close(fd)
                continue
            }
            return (fd, localPort(fd))
        }
        throw lastError
    }

    enum AcceptResult {
        case accepted(fd: Int32, remote: String)
        case wouldBlock
        /// Out of descriptors or memory: back off before accepting again.
        case exhausted(Int32)
        case failed(Int32)
    }

    static func accept(_ listener: Int32) -> AcceptResult {
        while true {
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let fd = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.accept(listener, $0, &length)
                }
            }
            if fd >= 0 {
                // accept4 is not exported to Swift; set the flags the accepted socket does not inherit.
                _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
                _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
                var one: Int32 = 1
                _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                return .accepted(fd: fd, remote: describe(storage))
            }
            let code = errno
            switch code {
            case EINTR, ECONNABORTED, EPROTO: continue
            case EAGAIN, EWOULDBLOCK: return .wouldBlock
            case EMFILE, ENFILE, ENOBUFS, ENOMEM: return .exhausted(code)
            default: return .failed(code)
            }
        }
    }

    enum IOResult {
        case bytes(Int)
        case endOfStream
        case wouldBlock
        case failed(Int32)
    }

    static func receive(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> IOResult {
        while true {
            let n = recv(fd, buffer.baseAddress, buffer.count, 0)
            if n > 0 { return .bytes(n) }
            if n == 0 { return .endOfStream }
            let code = errno
            if code == EINTR { continue }
            return (code == EAGAIN || code == EWOULDBLOCK) ? .wouldBlock : .failed(code)
        }
    }

    static func send(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> IOResult {
        while true {
            let n = Glibc.send(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL))
            if n >= 0 { return .bytes(n) }
            let code = errno
            if code == EINTR { continue }
            return (code == EAGAIN || code == EWOULDBLOCK) ? .wouldBlock : .failed(code)
        }
    }

    static func shutdownWrite(_ fd: Int32) { _ = shutdown(fd, Int32(SHUT_WR)) }

    static func close(_ fd: Int32) { _ = Glibc.close(fd) }

    private static func cString(_ chars: [CChar]) -> String {
        String(decoding: chars.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func errorText(_ code: Int32) -> String { String(cString: strerror(code)) }

    private static func localPort(_ fd: Int32) -> Int {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return port(of: storage)
    }

    private static func port(of storage: sockaddr_storage) -> Int {
        let family = Int32(storage.ss_family)
        return withUnsafeBytes(of: storage) { raw in
            switch family {
            case AF_INET: Int(UInt16(bigEndian: raw.load(as: sockaddr_in.self).sin_port))
            case AF_INET6: Int(UInt16(bigEndian: raw.load(as: sockaddr_in6.self).sin6_port))
            default: 0
            }
        }
    }

    /// "1.2.3.4:port" or "[v6]:port".
    static func describe(_ storage: sockaddr_storage) -> String {
        var storage = storage
        let port = port(of: storage)
        let family = Int32(storage.ss_family)
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        return withUnsafeMutableBytes(of: &storage) { raw -> String in
            guard let base = raw.baseAddress else { return "unknown" }
            switch family {
            case AF_INET:
                let address = base.assumingMemoryBound(to: sockaddr_in.self)
                guard inet_ntop(AF_INET, &address.pointee.sin_addr, &text, socklen_t(text.count)) != nil else { return "unknown" }
                return "\(cString(text)):\(port)"
            case AF_INET6:
                let address = base.assumingMemoryBound(to: sockaddr_in6.self)
                guard inet_ntop(AF_INET6, &address.pointee.sin6_addr, &text, socklen_t(text.count)) != nil else { return "unknown" }
                return "[\(cString(text))]:\(port)"
            default:
                return "unknown"
            }
        }
    }
}
