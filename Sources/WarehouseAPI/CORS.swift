import Foundation
import WarehouseCore
import WarehouseHTTPServer

/// Cross-origin access for browser applications of the origins listed in `cors_origins`:
/// their preflights are answered here (before authentication: a browser sends no token in
/// one), and every response to them carries the CORS headers. Any other origin gets no CORS
/// header, and its preflight a 403 that says why; requests without Origin are untouched.
public struct CORSHandler: HTTPHandler {
    let origins: Set<String>
    let inner: any HTTPHandler
    let logger: Logger

    static let allowedMethods = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
    static let allowedHeaders = "Authorization, Content-Type, Last-Event-ID, Range, If-None-Match, If-Match, X-Request-ID"
    static let exposedHeaders = "X-Total-Count, X-Next-Cursor, X-Request-ID, ETag, Content-Disposition, Content-Range, Accept-Ranges, Location"

    public init(origins: [String], inner: any HTTPHandler, logger: Logger) {
        self.origins = Set(origins.map { $0.lowercased() })
        self.inner = inner
        self.logger = logger
    }

    public func plan(for head: HTTPRequestHead) -> HTTPRequestPlan {
        guard let origin = head.headers["origin"] else { return inner.plan(for: head) }
        let allowed = origins.contains(origin.lowercased())
        if head.method == "OPTIONS", head.headers["access-control-request-method"] != nil {
            return HTTPRequestPlan(body: .none, route: "preflight") { [logger] _ in
                guard allowed else {
                    let refusal = WarehouseError.forbidden("origin \(Identifiers.quoted(origin)) may not call this API from a browser: "
                                                           + "list it in cors_origins (WAREHOUSE_CORS_ORIGINS)")
                    return ErrorResponses.response(for: refusal, head: head, logger: logger)
                }
                var response = HTTPResponse(status: 204)
                Self.addHeaders(&response, origin: origin)
                response.headers.add("Access-Control-Allow-Methods", Self.allowedMethods)
                response.headers.add("Access-Control-Allow-Headers", Self.allowedHeaders)
                response.headers.add("Access-Control-Max-Age", "600")
                return response
            }
        }
        let plan = inner.plan(for: head)
        guard allowed else { return plan }
        return HTTPRequestPlan(body: plan.body, route: plan.route) { body in
            var response = plan.respond(body)
            Self.addHeaders(&response, origin: origin)
            return response
        }
    }

    static func addHeaders(_ response: inout HTTPResponse, origin: String) {
        response.headers.add("Access-Control-Allow-Origin", origin)
        response.headers.add("Access-Control-Expose-Headers", exposedHeaders)
        response.headers.add("Vary", "Origin")
    }
}
