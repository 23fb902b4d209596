internal import CMicroHTTPD
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Settings of the listening daemon.
public struct HTTPServerConfiguration: Sendable {
    public var host: String
    /// 0 asks the kernel for a free port (tests); `HTTPServer.port` tells which.
    public var port: UInt16
    public var connectionLimit: UInt32 = 512
    /// Idle seconds before a connection is dropped.
    public var connectionTimeoutSeconds: UInt32 = 300
    /// Per-connection buffer: bounds header size and the size of body chunks handed to us.
    public var connectionMemoryLimit: Int = 1 << 20
    /// Largest request body accepted at all (413 beyond).
    public var maxBodyBytes: UInt64 = 1 << 40
    /// A body arriving slower than this on average, once `slowBodyGraceSeconds` have passed,
    /// is cut off (a trickle of bytes keeps an idle timeout from ever firing).
    public var minBodyBytesPerSecond: UInt64 = 1024
    public var slowBodyGraceSeconds: Double = 30
    /// Told about every request (metrics).
    public var observer: (any HTTPRequestObserver)?

    public init(host: String = "127.0.0.1", port: UInt16 = 8000) {
        self.host = host
        self.port = port
    }
}

/// Where a server is in its shutdown, read by every request's cancellation.
final class ShutdownState: Sendable {
    private let abandoned = Atomic<Bool>(false)
    let activeRequests = Atomic<Int>(0)

    var abandoning: Bool { abandoned.load(ordering: .relaxed) }
    func abandon() { abandoned.store(true, ordering: .relaxed) }
}

public struct HTTPServerError: Error, CustomStringConvertible {
    public let description: String
}

/// The libmicrohttpd daemon in thread-per-connection mode: handlers are plain blocking code
/// running on the connection's thread; there is no event loop.
///
/// `@unchecked Sendable`: the daemon pointer is written once in `start` and read-only after,
/// and libmicrohttpd itself is thread-safe for `MHD_stop_daemon`.
public final class HTTPServer: @unchecked Sendable {
    public let configuration: HTTPServerConfiguration
    let handler: any HTTPHandler
    private var daemon: OpaquePointer?
    public private(set) var port: UInt16 = 0
    let shutdownState = ShutdownState()

    /// Requests received and not finished (answered, refused or abandoned).
    public var activeRequests: Int { shutdownState.activeRequests.load(ordering: .relaxed) }

    public init(configuration: HTTPServerConfiguration, handler: any HTTPHandler) {
        self.configuration = configuration
        self.handler = handler
    }

    deinit {
        stop()
    }

    public func start() throws {
        // ITC: `shutdown` stops the listening thread from accepting (MHD_quiesce_daemon needs it).
        let flags = MHD_USE_INTERNAL_POLLING_THREAD.rawValue | MHD_USE_THREAD_PER_CONNECTION.rawValue
            | MHD_USE_ERROR_LOG.rawValue | MHD_USE_ITC.rawValue
        // The daemon holds an unretained pointer: the server outlives it (stop() runs in deinit).
        let context = Unmanaged.passUnretained(self).toOpaque()
        guard let daemon = mw_mhd_start_daemon(
            UInt32(flags), configuration.host, configuration.port,
            Callbacks.access, context, Callbacks.completed, context,
            configuration.connectionMemoryLimit, configuration.connectionTimeoutSeconds,
            configuration.connectionLimit
        ) else {
            throw HTTPServerError(description: "cannot listen on \(configuration.host):\(configuration.port) (address in use, or not an IPv4 address?)")
        }
        self.daemon = daemon
        self.port = mw_mhd_bound_port(daemon)
    }

    /// Stops listening and waits for connection threads to finish.
    public func stop() {
        if let daemon {
            MHD_stop_daemon(daemon)
            self.daemon = nil
        }
    }

    /// Stops accepting connections, gives the requests in flight up to `grace` seconds to
    /// finish, then cancels the rest (their handlers see `isCancelled` and roll back) and
    /// waits for their threads. `drained` runs once nothing new can arrive (the caller stops
    /// work that keeps requests open, such as event streams).
    public func shutdown(grace: Double, drained: () -> Void = {}) {
        guard let daemon else { return }
        let listening = MHD_quiesce_daemon(daemon)
        // Not accepted any more, and on Linux a shut-down listening socket refuses new
        // connections at once instead of leaving them in the backlog until the exit.
        if listening >= 0 { Glibc.shutdown(listening, Int32(SHUT_RDWR)) }
        drained()
        let deadline = ContinuousClock.now + .milliseconds(Int(grace * 1000))
        while activeRequests > 0, ContinuousClock.now < deadline { usleep(20_000) }
        shutdownState.abandon()
        stop()
        if listening >= 0 { close(listening) }
    }
}

/// libmicrohttpd's C callbacks. Nonisolated `static let`s: they run on MHD's threads and must
/// not inherit an actor.
enum Callbacks {
    static let access: MHD_AccessHandlerCallback = { cls, connection, url, method, _, uploadData, uploadDataSize, requestContext in
        guard let cls, let connection, let uploadDataSize, let requestContext else { return MHD_Result.NO }
        let server = Unmanaged<HTTPServer>.fromOpaque(cls).takeUnretainedValue()

        guard let existing = requestContext.pointee else {
            // First call: headers only.
            var head = HTTPRequestHead(
                method: method.map { String(cString: $0) } ?? "GET",
                path: url.map { String(cString: $0) } ?? "/",
                headers: ConnectionValues.headers(connection),
                queryItems: ConnectionValues.query(connection))
            head.cancellation = RequestCancellation(socket: mw_mhd_connection_fd(connection), server: server.shutdownState)
            let plan = server.handler.plan(for: head)
            let context = RequestContext(head: head, plan: plan, maxBodyBytes: server.configuration.maxBodyBytes,
                                         minBytesPerSecond: server.configuration.minBodyBytesPerSecond,
                                         graceSeconds: server.configuration.slowBodyGraceSeconds,
                                         observer: server.configuration.observer)
            if let declared = head.contentLength, declared > server.configuration.maxBodyBytes {
                // Refuse before reading: curl's "Expect: 100-continue" then never sends the body.
                let response = plan.respond(.failure(HTTPBodyError.tooLarge(
                    "request body of \(declared) bytes is larger than the limit of \(server.configuration.maxBodyBytes) bytes")))
                context.status = response.status
                defer { context.finish() }
                return ResponseSender.queue(response, on: connection, requestID: context.head.requestID, sent: context.sent)
            }
            requestContext.pointee = Unmanaged.passRetained(context).toOpaque()
            server.shutdownState.activeRequests.add(1, ordering: .relaxed)
            return MHD_Result.YES
        }

        let context = Unmanaged<RequestContext>.fromOpaque(existing).takeUnretainedValue()
        if uploadDataSize.pointee > 0 {
            if let uploadData {
                context.consume(UnsafeRawBufferPointer(start: uploadData, count: uploadDataSize.pointee))
            }
            uploadDataSize.pointee = 0
            // Closing the connection ends the request; the completion callback rolls it back.
            return context.isTooSlow ? MHD_Result.NO : MHD_Result.YES
        }
        let response = context.respond()
        context.status = response.status
        return ResponseSender.queue(response, on: connection, requestID: context.head.requestID, sent: context.sent)
    }

    static let completed: MHD_RequestCompletedCallback = { cls, _, requestContext, _ in
        // Runs for finished and aborted requests alike: dropping the context removes any
        // spool files an aborted upload left.
        guard let requestContext, let pointer = requestContext.pointee else { return }
        Unmanaged<RequestContext>.fromOpaque(pointer).takeUnretainedValue().finish()
        Unmanaged<RequestContext>.fromOpaque(pointer).release()
        requestContext.pointee = nil
        if let cls { Unmanaged<HTTPServer>.fromOpaque(cls).takeUnretainedValue().shutdownState.activeRequests.subtract(1, ordering: .relaxed) }
    }
}

/// Reads request headers and query arguments through MHD's iterator.
enum ConnectionValues {
    final class Collector {
        var items: [(String, String)] = []
    }

    static let iterator: MHD_KeyValueIterator = { cls, _, key, value in
        guard let cls, let key else { return MHD_Result.YES }
        let collector = Unmanaged<Collector>.fromOpaque(cls).takeUnretainedValue()
        collector.items.append((String(cString: key), value.map { String(cString: $0) } ?? ""))
        return MHD_Result.YES
    }

    static func collect(_ connection: OpaquePointer, kind: MHD_ValueKind) -> [(String, String)] {
        let collector = Collector()
        withExtendedLifetime(collector) {
            _ = MHD_get_connection_values(connection, kind, iterator, Unmanaged.passUnretained(collector).toOpaque())
        }
        return collector.items
    }

    static func headers(_ connection: OpaquePointer) -> HTTPHeaders {
        HTTPHeaders(collect(connection, kind: MHD_ValueKind.HEADER_KIND))
    }

    static func query(_ connection: OpaquePointer) -> [(name: String, value: String)] {
        collect(connection, kind: MHD_ValueKind.GET_ARGUMENT_KIND).map { (name: $0.0, value: $0.1) }
    }
}
