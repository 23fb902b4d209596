import Foundation
import WarehouseCore
import WarehouseHTTPServer

/// The one table from errors to HTTP statuses. Every handler error passes through here; an
/// error nobody named is logged and answered with a generic 500, never with its internals.
public enum ErrorResponses {
    public static func response(for error: any Error, head: HTTPRequestHead, logger: Logger) -> HTTPResponse {
        let (status, detail) = statusAndDetail(for: error)
        logIfInternal(error, status: status, head: head, logger: logger)
        var response = JSON.response(["detail": detail], status: status)
        if case WarehouseError.rangeNotSatisfiable(let size) = error {
            response.headers.add("Content-Range", "bytes */\(size)")
        }
        return response
    }

    /// A 5xx is the server's fault: its full error goes to the log, never to the client.
    public static func logIfInternal(_ error: any Error, status: Int, head: HTTPRequestHead, logger: Logger) {
        if status >= 500 {
            logger.error("\(head.method) \(head.path) failed: \(error)", metadata: ["status": String(status), "request_id": head.requestID])
        }
    }

    public static func statusAndDetail(for error: any Error) -> (Int, String) {
        switch error {
        case let error as WarehouseError:
            switch error {
            case .invalid(let detail): return (400, detail)
            case .unauthorized(let detail): return (401, detail)
            case .forbidden(let detail): return (403, detail)
            case .notFound(let detail): return (404, detail)
            case .alreadyExists(let detail), .conflict(let detail): return (409, detail)
            case .tooLarge(let detail): return (413, detail)
            case .rangeNotSatisfiable: return (416, error.description)
            case .storageUnavailable(let detail): return (503, "storage unavailable: \(detail)")
            case .storedObjectDrifted(let detail): return (500, detail)
            case .cancelled(let detail): return (503, detail)
            case .insufficientStorage(let detail): return (507, detail)
            case .notConfigured(let detail): return (501, detail)
            case .badGateway(let detail): return (502, detail)
            }
        case let error as HTTPBodyError:
            switch error {
            case .malformed(let detail): return (400, detail)
            case .tooLarge(let detail): return (413, detail)
            case .spool: return (500, "internal error while receiving the upload")
            }
        case let error as ConditionalWriteLost:
            // Another replica changed the same thing first; retrying sees what it did.
            return (409, "changed on another replica at the same moment (\(error.key)); retry")
        case let error as any WarehouseErrorConvertible:
            guard let domain = error.warehouseError else { return (500, "internal server error") }
            return statusAndDetail(for: domain)
        default:
            return (500, "internal server error")
        }
    }
}
