internal import CCurl
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A request for `CurlEasy.perform`.
public struct CurlRequest {
    public enum Body {
        case none
        case bytes([UInt8])
        /// `length` bytes of the file at `path` from `offset`, read as curl sends them.
        case file(path: String, offset: UInt64, length: UInt64)
        /// Bytes pulled as curl sends them (0 = the end); without a length the body goes
        /// chunked.
        case stream(length: UInt64?, read: (UnsafeMutableRawBufferPointer) throws -> Int)
    }

    public var method: String
    public var url: String
    public var headers: [(String, String)]
    public var body: Body

    public init(method: String, url: String, headers: [(String, String)] = [], body: Body = .none) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
    }
}

/// A response: status, lowercased headers, and the body when it was collected.
public struct CurlResponse: Sendable {
    public let status: Int
    public let headers: [String: String]
    public let body: [UInt8]

    public init(status: Int, headers: [String: String], body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }
}

/// A libcurl transfer failed before an HTTP status arrived: the curl code and curl's own text.
public struct CurlError: Error, CustomStringConvertible, Sendable {
    public let code: Int32
    public let message: String
    /// Connection-level failures worth retrying (refused, reset, timed out, DNS).
    public var isTransient: Bool {
        [6, 7, 18, 26, 28, 35, 52, 55, 56].contains(code)
    }
    public var description: String { "curl error \(code): \(message)" }
}

/// One libcurl easy handle. Reusing it across requests reuses its connection (keep-alive).
///
/// Owns the handle and frees it in `deinit`. Not `Sendable`: `CurlHandlePool` hands each to
/// one thread at a time.
public final class CurlEasy {
    private let handle: UnsafeMutableRawPointer
    private var errorBuffer = [CChar](repeating: 0, count: Int(mw_curl_error_size))
    /// Seconds to wait for a connection.
    public var connectTimeoutMilliseconds = 5_000
    /// A transfer slower than 1 byte/s for this long is aborted (a dead server never hangs us).
    public var stallTimeoutSeconds = 20

    public init() {
        CurlGlobal.initialize()
        guard let handle = curl_easy_init() else { fatalError("curl_easy_init failed") }
        self.handle = handle
    }

    deinit {
        curl_easy_cleanup(handle)
    }

    /// Performs `request`. With `onData`, a 2xx response body is streamed to it (return false
    /// to abort); otherwise, and for error statuses, the body is collected (up to 16 MiB).
    public func perform(_ request: CurlRequest, onData: ((UnsafeRawBufferPointer) -> Bool)? = nil) throws -> CurlResponse {
        curl_easy_reset(handle)
        let transfer = Transfer(handle: handle, onData: onData)
        var headerList: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(headerList) }
        for (name, value) in request.headers {
            headerList = curl_slist_append(headerList, "\(name): \(value)")
        }
        // An empty Expect header stops curl waiting for "100 Continue" before sending a body.
        headerList = curl_slist_append(headerList, "Expect:")

        let context = Unmanaged.passUnretained(transfer).toOpaque()
        try errorBuffer.withUnsafeMutableBufferPointer { errorPointer in
            errorPointer[0] = 0
            mw_curl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errorPointer.baseAddress)
            mw_curl_setopt_pointer(handle, CURLOPT_URL, request.url)
            mw_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
            mw_curl_setopt_long(handle, CURLOPT_TCP_NODELAY, 1)
            mw_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, connectTimeoutMilliseconds)
            mw_curl_setopt_long(handle, CURLOPT_LOW_SPEED_LIMIT, 1)
            mw_curl_setopt_long(handle, CURLOPT_LOW_SPEED_TIME, stallTimeoutSeconds)
            mw_curl_setopt_long(handle, CURLOPT_BUFFERSIZE, 512 * 1024)
            mw_curl_setopt_slist(handle, CURLOPT_HTTPHEADER, headerList)
            mw_curl_setopt_write_function(handle, CURLOPT_WRITEFUNCTION, CurlCallbacks.write)
            mw_curl_setopt_pointer(handle, CURLOPT_WRITEDATA, context)
            mw_curl_setopt_write_function(handle, CURLOPT_HEADERFUNCTION, CurlCallbacks.header)
            mw_curl_setopt_pointer(handle, CURLOPT_HEADERDATA, context)

            switch request.method {
            case "GET": break
            case "HEAD": mw_curl_setopt_long(handle, CURLOPT_NOBODY, 1)
            default: mw_curl_setopt_pointer(handle, CURLOPT_CUSTOMREQUEST, request.method)
            }
            switch request.body {
            case .none:
                if request.method == "PUT" || request.method == "POST" {
                    try transfer.setBody(bytes: [])
                }
            case .bytes(let bytes):
                try transfer.setBody(bytes: bytes)
            case .file(let path, let offset, let length):
                try transfer.setBody(path: path, offset: offset, length: length)
            case .stream(let length, let read):
                transfer.setBody(length: length, read: read)
                if length == nil { headerList = curl_slist_append(headerList, "Transfer-Encoding: chunked") }
                mw_curl_setopt_slist(handle, CURLOPT_HTTPHEADER, headerList)
            }
            if transfer.bodyLength != nil || transfer.streamsBody {
                mw_curl_setopt_long(handle, CURLOPT_UPLOAD, 1)
                if let length = transfer.bodyLength { mw_curl_setopt_off_t(handle, CURLOPT_INFILESIZE_LARGE, curl_off_t(length)) }
                mw_curl_setopt_read_function(handle, CurlCallbacks.read)
                mw_curl_setopt_pointer(handle, CURLOPT_READDATA, context)
                mw_curl_setopt_seek_function(handle, CurlCallbacks.seek)
                mw_curl_setopt_pointer(handle, CURLOPT_SEEKDATA, context)
                if request.method != "PUT" { mw_curl_setopt_pointer(handle, CURLOPT_CUSTOMREQUEST, request.method) }
            }

            let code = curl_easy_perform(handle)
            if let failure = transfer.bodyFailure { throw failure }
            if code != CURLE_OK, !(code == CURLE_WRITE_ERROR && transfer.abortedByConsumer) {
                let detail = errorPointer[0] != 0 ? String(cString: errorPointer.baseAddress!)
                                                  : String(cString: curl_easy_strerror(code))
                throw CurlError(code: Int32(code.rawValue), message: detail)
            }
        }
        return CurlResponse(status: transfer.status, headers: transfer.headers, body: transfer.collected)
    }
}

@available(*, unavailable)
extension CurlEasy: Sendable {}

/// The state of one transfer, reached from curl's callbacks through the context pointer.
final class Transfer {
    let handle: UnsafeMutableRawPointer
    let onData: ((UnsafeRawBufferPointer) -> Bool)?
    var headers: [String: String] = [:]
    var collected: [UInt8] = []
    var abortedByConsumer = false
    private var statusCode: Int?
    // Request body.
    var bodyLength: UInt64?
    private var bodyBytes: [UInt8] = []
    private var bodyDescriptor: Int32 = -1
    private var bodyOffset: UInt64 = 0
    private var bodySent: UInt64 = 0
    private var bodyReader: ((UnsafeMutableRawBufferPointer) throws -> Int)?
    /// What the body reader threw: the transfer is aborted and this is rethrown.
    var bodyFailure: (any Error)?
    var streamsBody: Bool { bodyReader != nil }

    init(handle: UnsafeMutableRawPointer, onData: ((UnsafeRawBufferPointer) -> Bool)?) {
        self.handle = handle
        self.onData = onData
    }

    deinit {
        if bodyDescriptor >= 0 { close(bodyDescriptor) }
    }

    var status: Int {
        if let statusCode { return statusCode }
        var code = 0
        mw_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &code)
        return code
    }

    func setBody(bytes: [UInt8]) throws {
        bodyBytes = bytes
        bodyLength = UInt64(bytes.count)
    }

    func setBody(path: String, offset: UInt64, length: UInt64) throws {
        bodyDescriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard bodyDescriptor >= 0 else {
            throw CurlError(code: 26, message: "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        bodyOffset = offset
        bodyLength = length
    }

    func setBody(length: UInt64?, read: @escaping (UnsafeMutableRawBufferPointer) throws -> Int) {
        bodyReader = read
        bodyLength = length
    }

    func readBody(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        if let bodyReader {
            do {
                return try bodyReader(buffer)
            } catch {
                bodyFailure = error
                return -1
            }
        }
        guard let length = bodyLength, bodySent < length else { return 0 }
        let wanted = Int(min(UInt64(buffer.count), length - bodySent))
        if bodyDescriptor >= 0 {
            let count = pread(bodyDescriptor, buffer.baseAddress, wanted, off_t(bodyOffset + bodySent))
            guard count > 0 else { return -1 }
            bodySent += UInt64(count)
            return count
        }
        bodyBytes.withUnsafeBytes { source in
            buffer.baseAddress!.copyMemory(from: source.baseAddress! + Int(bodySent), byteCount: wanted)
        }
        bodySent += UInt64(wanted)
        return wanted
    }

    /// Moves the body to `offset` when curl must send it again (a request retried on a fresh
    /// connection after a reused one died; a redirect). A streamed body cannot go back.
    func seek(to offset: UInt64) -> Bool {
        guard bodyReader == nil, let length = bodyLength, offset <= length else { return false }
        bodySent = offset
        return true
    }

    func receive(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let code = status
        statusCode = code
        if let onData, (200..<300).contains(code) {
            guard onData(bytes) else {
                abortedByConsumer = true
                return false
            }
            return true
        }
        guard collected.count + bytes.count <= 16 << 20 else { return false }
        collected.append(contentsOf: bytes)
        return true
    }

    func receiveHeader(_ line: String) {
        if line.hasPrefix("HTTP/") {
            headers.removeAll()   // a new response (after 100 Continue or a redirect)
            return
        }
        guard let colon = line.firstIndex(of: ":") else { return }
        let name = line[..<colon].lowercased()
        let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)
        headers[name] = value
    }
}

/// curl's C callbacks: nonisolated `static let`s that find the transfer through the context.
enum CurlCallbacks {
    static let write: curl_write_callback = { pointer, size, count, context in
        guard let context else { return 0 }
        let transfer = Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue()
        let length = size * count
        guard let pointer, length > 0 else { return length }
        return transfer.receive(UnsafeRawBufferPointer(start: pointer, count: length)) ? length : 0
    }

    static let header: curl_write_callback = { pointer, size, count, context in
        guard let context, let pointer else { return 0 }
        let length = size * count
        let line = String(decoding: UnsafeRawBufferPointer(start: pointer, count: length), as: UTF8.self)
        Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue().receiveHeader(line)
        return length
    }

    static let seek: curl_seek_callback = { context, offset, origin in
        guard let context, origin == SEEK_SET, offset >= 0 else { return mw_curl_seekfunc_cantseek }
        let transfer = Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue()
        return transfer.seek(to: UInt64(offset)) ? mw_curl_seekfunc_ok : mw_curl_seekfunc_cantseek
    }

    static let read: curl_read_callback = { pointer, size, count, context in
        guard let context, let pointer else { return mw_curl_readfunc_abort }
        let transfer = Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue()
        let count = transfer.readBody(into: UnsafeMutableRawBufferPointer(start: pointer, count: size * count))
        return count < 0 ? mw_curl_readfunc_abort : count
    }
}

/// `curl_global_init` must run once before any handle, and is not thread-safe itself.
enum CurlGlobal {
    private static let initialized = Mutex(false)

    static func initialize() {
        initialized.withLock { done in
            guard !done else { return }
            curl_global_init(Int(CURL_GLOBAL_DEFAULT))
            done = true
        }
    }
}

/// A pool of easy handles so concurrent requests each get one and connections are reused.
public final class CurlHandlePool: Sendable {
    /// `@unchecked Sendable`: a handle is either idle in the pool (touched only under the
    /// mutex) or borrowed by exactly one thread.
    private final class Pooled: @unchecked Sendable {
        let easy = CurlEasy()
    }

    private let idle = Mutex<[Pooled]>([])
    private let maxIdle: Int

    public init(maxIdle: Int = 16) {
        self.maxIdle = maxIdle
    }

    public func withHandle<T>(_ body: (CurlEasy) throws -> T) rethrows -> T {
        let pooled = idle.withLock { handles in handles.popLast() } ?? Pooled()
        defer {
            idle.withLock { handles in
                if handles.count < maxIdle { handles.append(pooled) }
            }
        }
        return try body(pooled.easy)
    }
}
