/// Every failure the domain can name. The API maps each case to an HTTP status in one table;
/// anything else is an internal error.
public enum WarehouseError: Error, Equatable, CustomStringConvertible {
    /// Bad input: a field, a value, a path. 400.
    case invalid(String)
    /// No such user, model, version or file. 404.
    case notFound(String)
    /// A version, file or key that already exists. 409.
    case alreadyExists(String)
    /// The request conflicts with the current state (other than existence). 409.
    case conflict(String)
    /// Over a configured limit. 413.
    case tooLarge(String)
    /// No or bad credentials. 401.
    case unauthorized(String)
    /// Credentials that do not reach this namespace. 403.
    case forbidden(String)
    /// The object store cannot be reached or refuses us. 503.
    case storageUnavailable(String)
    /// A range that lies outside the object. 416.
    case rangeNotSatisfiable(size: UInt64)
    /// A stored object that is no longer the file the catalog recorded (changed, truncated or
    /// removed behind the service's back): refused before a byte is sent. 500.
    case storedObjectDrifted(String)
    /// The work was stopped before it finished (its client went away, or the server is
    /// shutting down) and rolled back. 503.
    case cancelled(String)
    /// The catalog's disk is full. 507.
    case insufficientStorage(String)
    /// A feature that needs a setting this server lacks (the detail names it). 501.
    case notConfigured(String)
    /// A service the warehouse calls on the caller's behalf failed or answered nonsense. 502.
    case badGateway(String)

    public var description: String {
        switch self {
        case .invalid(let text), .notFound(let text), .alreadyExists(let text), .conflict(let text),
             .tooLarge(let text), .unauthorized(let text), .forbidden(let text), .storageUnavailable(let text),
             .storedObjectDrifted(let text), .cancelled(let text), .insufficientStorage(let text),
             .notConfigured(let text), .badGateway(let text):
            return text
        case .rangeNotSatisfiable(let size):
            return "requested range is not satisfiable (object size \(size) bytes)"
        }
    }
}

/// An error of a library the warehouse wraps that stands for a domain failure (SQLite's disk
/// full): the error → status table asks it, so that table needs no library of its own.
public protocol WarehouseErrorConvertible: Error {
    /// The domain failure this error stands for; nil when it is an internal one.
    var warehouseError: WarehouseError? { get }
}
