import Synchronization
#if canImport(Glibc)
import Glibc
#endif
/// Header names are case-insensitive: looked up lowercased, sent as written.
public struct HTTPHeaders: Sendable, Sequence {
    private var fields: [(name: String, value: String)] = []
    private var lowercasedNames: [String] = []

    public init(_ fields: [(String, String)] = []) {
        for (name, value) in fields { add(name, value) }
    }

    public mutating func add(_ name: String, _ value: String) {
        fields.append((name, value))
        lowercasedNames.append(name.lowercased())
    }

    public subscript(_ name: String) -> String? {
        let key = name.lowercased()
        return lowercasedNames.firstIndex(of: key).map { fields[$0].value }
    }

    public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> {
        fields.makeIterator()
    }
}

/// What is known of a request once its headers have arrived, before its body.
public struct HTTPRequestHead: Sendable {
    public let method: String
    /// The decoded path without the query string.
    public let path: String
    public let headers: HTTPHeaders
    /// Decoded query arguments in order; repeated names keep every value.
    public let queryItems: [(name: String, value: String)]

    /// The request's id: the client's `X-Request-ID` when it is a sensible token, else a new
    /// one. Echoed in the response and named in every log line about the request.
    public let requestID: String
    /// Who is calling, once the application resolved it from the headers (a reference, so
    /// every copy of the head, the body parser's included, sees it).
    public let identity: RequestIdentity
    /// What routes keep for this request between its headers and its answer (a staged
    /// upload), each under a key type of its own, so nobody casts.
    public let values: RequestValues
    /// Whether the work for this request should stop: its client went away, or the server is
    /// shutting down and the grace period ran out. Long handlers ask between steps.
    public internal(set) var cancellation = RequestCancellation.never

    public init(method: String, path: String, headers: HTTPHeaders, queryItems: [(name: String, value: String)]) {
        self.method = method
        self.path = path
        self.headers = headers
        self.queryItems = queryItems
        // The Hub's clients send a trace id per request instead (and show ours in their errors).
        requestID = Self.requestID(from: headers["x-request-id"] ?? headers["x-amzn-trace-id"])
        identity = RequestIdentity()
        values = RequestValues()
    }

    /// The client's id if it is 1-128 characters of letters, digits and `-_.:`; else 16 random hex digits.
    static func requestID(from header: String?) -> String {
        if let header, (1...128).contains(header.utf8.count),
           header.utf8.allSatisfy({ (48...57).contains($0) || (65...90).contains($0) || (97...122).contains($0) || "-_.:".utf8.contains($0) }) {
            return header
        }
        return String(UInt64.random(in: .min ... .max), radix: 16).leftPadded(to: 16)
    }

    /// First value of a query argument.
    public func query(_ name: String) -> String? {
        queryItems.first { $0.name == name }?.value
    }

    /// The declared body length, when the client sent Content-Length.
    public var contentLength: UInt64? {
        headers["content-length"].flatMap { UInt64($0.trimmingSpaces) }
    }
}

/// A complete request: the head, the route's path parameters and the received body.
public struct HTTPRequest {
    public let head: HTTPRequestHead
    public let pathParameters: [String: String]
    public let body: HTTPRequestBody

    public init(head: HTTPRequestHead, pathParameters: [String: String], body: HTTPRequestBody) {
        self.head = head
        self.pathParameters = pathParameters
        self.body = body
    }

    public var method: String { head.method }
    public var path: String { head.path }
    public var headers: HTTPHeaders { head.headers }
    public func query(_ name: String) -> String? { head.query(name) }

    /// A path parameter the route pattern guarantees.
    public func parameter(_ name: String) -> String {
        guard let value = pathParameters[name] else { preconditionFailure("route has no parameter \(name)") }
        return value
    }
}

/// How a route wants its body delivered.
public enum HTTPBodyKind: Sendable {
    /// No body expected; any body sent is read and dropped.
    case none
    /// Kept in memory up to a limit (JSON and other small bodies).
    case buffered(maxBytes: Int)
    /// `multipart/form-data`: fields in memory, file parts streamed to spool files.
    case multipart(MultipartConfiguration)
    /// Handed to a sink chunk by chunk as it arrives (an upload part going straight to its
    /// store). The sink is made from the head once the headers are in; if that throws, the
    /// body is read and dropped and the error answered.
    case streamed(@Sendable (HTTPRequestHead) throws -> any HTTPBodySink)
}

/// Takes a streamed body. Called on the connection's thread.
public protocol HTTPBodySink: AnyObject {
    func write(_ bytes: UnsafeRawBufferPointer) throws
    /// The request ended before its body did (the client left, or it was refused): undo.
    func abandon()
}

/// The body as the route handler receives it.
public enum HTTPRequestBody {
    case none
    case bytes([UInt8])
    case multipart(MultipartForm)
    /// A streamed body whose every byte reached the sink.
    case streamed(any HTTPBodySink)

    public var bytes: [UInt8] {
        if case .bytes(let bytes) = self { return bytes }
        return []
    }
}

extension String {
    var trimmingSpaces: Substring {
        var slice = Substring(self)
        while let first = slice.first, first == " " || first == "\t" { slice.removeFirst() }
        while let last = slice.last, last == " " || last == "\t" { slice.removeLast() }
        return slice
    }
}

/// The caller of one request, set once when its headers are checked, read by its route.
public final class RequestIdentity: Sendable {
    private let value = Mutex<(any Sendable)?>(nil)

    public init() {}

    public func set(_ identity: any Sendable) { value.withLock { $0 = identity } }

    public func get<T>(_ type: T.Type) -> T? { value.withLock { $0 as? T } }
}

/// Names a value a request carries, and its type.
public protocol RequestValueKey {
    associatedtype Value: Sendable
}

/// The values one request carries, by key type (shaped like swift-service-context's
/// `ServiceContext`). Set once, read by the route.
public final class RequestValues: Sendable {
    private let storage = Mutex<[ObjectIdentifier: any Sendable]>([:])

    public init() {}

    public subscript<Key: RequestValueKey>(_ key: Key.Type) -> Key.Value? {
        get { storage.withLock { $0[ObjectIdentifier(key)] as? Key.Value } }
        set { storage.withLock { $0[ObjectIdentifier(key)] = newValue } }
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

/// Answers whether a request's work is still wanted.
public final class RequestCancellation: Sendable {
    /// For requests that are never cancelled (made by hand, in tests).
    public static let never = RequestCancellation(socket: -1, server: nil)

    private let socket: Int32
    private let server: ShutdownState?

    init(socket: Int32, server: ShutdownState?) {
        self.socket = socket
        self.server = server
    }

    /// The client closed its connection (a zero-byte peek), or the server gave up waiting.
    public var isCancelled: Bool {
        if server?.abandoning == true { return true }
        guard socket >= 0 else { return false }
        var byte: UInt8 = 0
        let count = recv(socket, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
        return count == 0 || (count < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
    }
}
