/// A response to send: status, headers and a body that is either in memory, a slice of a
/// file (sent with `sendfile` by libmicrohttpd), or a stream pulled from a reader.
public struct HTTPResponse {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: HTTPResponseBody

    public init(status: Int, headers: HTTPHeaders = HTTPHeaders(), body: HTTPResponseBody = .empty) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public static func json(_ bytes: [UInt8], status: Int = 200) -> HTTPResponse {
        HTTPResponse(status: status, headers: HTTPHeaders([("Content-Type", "application/json")]), body: .bytes(bytes))
    }

    public static func text(_ text: String, status: Int = 200, contentType: String = "text/plain; charset=utf-8") -> HTTPResponse {
        HTTPResponse(status: status, headers: HTTPHeaders([("Content-Type", contentType)]), body: .bytes(Array(text.utf8)))
    }
}

public enum HTTPResponseBody {
    case empty
    case bytes([UInt8])
    /// `length` bytes of the file at `path` from `offset`.
    case file(path: String, offset: UInt64, length: UInt64)
    /// A stream of `length` bytes (nil: unknown, sent chunked).
    case stream(length: UInt64?, reader: any HTTPBodyReader)
}

/// Supplies a streamed response body. Called on the connection's thread.
public protocol HTTPBodyReader: AnyObject {
    /// Fills `buffer` with the next bytes; returns the count, 0 at the end of the stream.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int
    /// Called once when the response is destroyed (sent or aborted).
    func close()
}

/// Reason phrases of the statuses this server answers (RFC 9110), for pages that show them.
public enum HTTPStatus {
    public static func reason(_ status: Int) -> String {
        switch status {
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 409: return "Conflict"
        case 413: return "Content Too Large"
        case 416: return "Range Not Satisfiable"
        case 500: return "Internal Server Error"
        case 501: return "Not Implemented"
        case 502: return "Bad Gateway"
        case 503: return "Service Unavailable"
        case 507: return "Insufficient Storage"
        default: return status < 500 ? "Client Error" : "Server Error"
        }
    }
}
