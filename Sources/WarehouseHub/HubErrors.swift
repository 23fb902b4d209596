import WarehouseAPI
import WarehouseCore
import WarehouseHTTPServer

/// The errors a Hub client tells apart by `X-Error-Code` (its own exception classes), with
/// the message it shows from `X-Error-Message`.
struct HubError: Error, CustomStringConvertible {
    enum Code: String {
        case repoNotFound = "RepoNotFound"
        case revisionNotFound = "RevisionNotFound"
        case entryNotFound = "EntryNotFound"
    }

    let status: Int
    let code: Code?
    let message: String
    /// The commit the answer is about (a missing file at a known commit), so the client can
    /// remember that the file does not exist there.
    var commit: String?

    var description: String { message }

    /// A repo that does not exist or that the caller may not read: the same answer for both,
    /// so nobody learns which (401 without a token, as the Hub answers).
    static func repoNotFound(_ repo: String, anonymous: Bool = false) -> HubError {
        HubError(status: anonymous ? 401 : 404, code: .repoNotFound, message: "Repository not found: \(repo)")
    }

    static func revisionNotFound(_ revision: String, repo: String) -> HubError {
        HubError(status: 404, code: .revisionNotFound, message: "Invalid rev id: \(revision) (no version, alias or commit of \(repo) has this name)")
    }

    static func entryNotFound(_ path: String, revision: String, commit: String?) -> HubError {
        HubError(status: 404, code: .entryNotFound, message: "Entry not found: \(path) at \(revision)", commit: commit)
    }

    /// The token was given but is not one: no error code, the message the client recognises.
    static let invalidCredentials = HubError(status: 401, code: nil, message: "Invalid credentials in Authorization header")
}

enum HubErrorResponses {
    /// Every error of the Hub surface: the status of the one error table (or the Hub error's
    /// own), `X-Error-Code` where the client has a class for it, and the message in
    /// `X-Error-Message` and in the body (a HEAD has no body).
    static func response(for error: any Error, head: HTTPRequestHead, logger: Logger) -> HTTPResponse {
        let status: Int
        let message: String
        var code: HubError.Code?
        var commit: String?
        if let hub = error as? HubError {
            (status, message, code, commit) = (hub.status, hub.message, hub.code, hub.commit)
        } else {
            (status, message) = ErrorResponses.statusAndDetail(for: error)
            ErrorResponses.logIfInternal(error, status: status, head: head, logger: logger)
        }
        var response = JSON.response(["error": message, "detail": message], status: status)
        if let code { response.headers.add("X-Error-Code", code.rawValue) }
        response.headers.add("X-Error-Message", headerSafe(message))
        if let commit { response.headers.add("X-Repo-Commit", commit) }
        if case WarehouseError.rangeNotSatisfiable(let size) = error { response.headers.add("Content-Range", "bytes */\(size)") }
        return response
    }

    /// A header value: one line of printable ASCII.
    static func headerSafe(_ text: String) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.prefix(500).map { $0.isASCII && $0.value >= 0x20 && $0.value != 0x7f ? $0 : "?" }))
    }
}
