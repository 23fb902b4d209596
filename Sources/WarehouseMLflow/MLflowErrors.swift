import WarehouseAPI
import WarehouseCore
import WarehouseHTTPServer

/// An error as MLflow's clients read it: `{"error_code", "message"}`. The client builds its
/// exception from the body's code, and retries 5xx (and 408, 429) for minutes, so a permanent
/// error must never be one.
struct MLflowError: Error, CustomStringConvertible {
    let code: String
    let message: String
    let status: Int

    static func notFound(_ message: String) -> MLflowError { MLflowError(code: "RESOURCE_DOES_NOT_EXIST", message: message, status: 404) }
    static func alreadyExists(_ message: String) -> MLflowError { MLflowError(code: "RESOURCE_ALREADY_EXISTS", message: message, status: 400) }
    static func invalid(_ message: String) -> MLflowError { MLflowError(code: "INVALID_PARAMETER_VALUE", message: message, status: 400) }
    static func denied(_ message: String) -> MLflowError { MLflowError(code: "PERMISSION_DENIED", message: message, status: 403) }
    static func notImplemented(_ message: String) -> MLflowError { MLflowError(code: "NOT_IMPLEMENTED", message: message, status: 501) }

    var description: String { "\(code): \(message)" }
}

/// Maps every error of the MLflow surface to MLflow's body; the warehouse's own errors pass
/// through the API's one table first, so the status is the one every surface gives.
enum MLflowErrorResponses {
    static func response(for error: any Error, head: HTTPRequestHead, logger: Logger) -> HTTPResponse {
        let mlflow = translate(error)
        ErrorResponses.logIfInternal(error, status: mlflow.status, head: head, logger: logger)
        return JSON.response(JSONValue.object(["error_code": .string(mlflow.code), "message": .string(mlflow.message)]), status: mlflow.status)
    }

    static func translate(_ error: any Error) -> MLflowError {
        if let error = error as? MLflowError { return error }
        if case WarehouseError.storedObjectDrifted(let detail) = error {
            // Permanent until someone repairs the store: not a 5xx the client would retry.
            return MLflowError(code: "DATA_LOSS", message: detail, status: 409)
        }
        let (status, detail) = ErrorResponses.statusAndDetail(for: error)
        switch status {
        case 400, 413, 416: return MLflowError(code: "INVALID_PARAMETER_VALUE", message: detail, status: 400)
        case 401: return MLflowError(code: "UNAUTHENTICATED", message: detail, status: 401)
        case 403: return .denied(detail)
        case 404: return .notFound(detail)
        case 409: return MLflowError(code: "RESOURCE_ALREADY_EXISTS", message: detail, status: 409)
        case 501: return .notImplemented(detail)
        case 503: return MLflowError(code: "TEMPORARILY_UNAVAILABLE", message: detail, status: 503)
        case 507: return MLflowError(code: "RESOURCE_EXHAUSTED", message: detail, status: 507)
        default: return MLflowError(code: "INTERNAL_ERROR", message: detail, status: status)
        }
    }
}
