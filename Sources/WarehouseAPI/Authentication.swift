import Foundation
import WarehouseCore
import WarehouseHTTPServer
import WarehouseService

/// Every request but `GET /health` needs a bearer token, checked here before the body is read.
/// Namespaces in the path (`/ai-models/{user}/…`, `/ai-models/search/{user}`) are checked here
/// too; uploads name their user in the body, so their handlers check it.
struct AuthenticatingHandler: HTTPHandler {
    let router: Router
    let access: AccessControl
    let logger: Logger

    func plan(for head: HTTPRequestHead) -> HTTPRequestPlan {
        // The web UI signs in with a cookie and checks it (and its CSRF tokens) itself.
        if head.path == "/health" || head.path == "/ui" || head.path.hasPrefix("/ui/") { return router.plan(for: head) }
        // An EventSource follows a job with a ticket instead of a token (the route checks it).
        if head.method == "GET", head.headers["authorization"] == nil, head.path.hasPrefix("/training/jobs/"),
           head.path.hasSuffix("/events"), head.queryItems.contains(where: { $0.name == "ticket" }) {
            return router.plan(for: head)
        }
        do {
            // Resolved once here; routes read it from the head (`request.principal()`).
            let principal = try access.authenticate(authorization: head.headers["authorization"])
            head.identity.set(principal)
            if let user = Self.namespace(of: head.path) { try principal.authorize(user: user) }
            return router.plan(for: head)
        } catch {
            return HTTPRequestPlan(body: .none) { [logger] _ in
                var response = ErrorResponses.response(for: error, head: head, logger: logger)
                if response.status == 401 { response.headers.add("WWW-Authenticate", "Bearer") }
                return response
            }
        }
    }

    /// The user namespace a path addresses, if any.
    static func namespace(of path: String) -> String? {
        let segments = path.split(separator: "/").map(String.init)
        if segments.count >= 2, segments[0] == "datasets" {
            if segments[1] == "search" { return segments.count >= 3 ? segments[2] : nil }
            return segments[1] == "upload" ? nil : segments[1]
        }
        guard segments.count >= 2, segments[0] == "ai-models" else { return nil }
        if segments[1] == "upload" { return nil }
        if segments[1] == "search" { return segments.count >= 3 ? segments[2] : nil }
        return segments[1]
    }
}

extension HTTPRequest {
    /// The caller, as `AuthenticatingHandler` resolved it when the headers arrived.
    public func principal() throws -> Principal {
        try head.principal()
    }
}

extension HTTPRequestHead {
    public func principal() throws -> Principal {
        guard let principal = identity.get(Principal.self) else {
            throw WarehouseError.unauthorized("missing bearer token: send Authorization: Bearer <token>")
        }
        return principal
    }
}

/// `/auth/tokens`: the admin creates, lists and revokes user tokens.
struct TokenRoutes {
    let access: AccessControl

    var definitions: [RouteDefinition] {
        let access = self.access
        return [
            RouteDefinition("POST", "/auth/tokens", body: .buffered(maxBytes: 64 << 10)) { request in
                try request.principal().requireAdmin()
                let body = try JSON.object(from: request.body.bytes)
                guard case .string(let user)? = body["user_id"] else {
                    throw WarehouseError.invalid("field 'user_id' is required: the user the token acts for")
                }
                let (token, secret) = try access.createToken(for: user)
                return JSON.response(TokenDTO(token, secret: secret), status: 201)
            },
            RouteDefinition("GET", "/auth/tokens") { request in
                try request.principal().requireAdmin()
                return JSON.response(try access.tokens(user: request.nonEmptyQuery("user_id")).map { TokenDTO($0, secret: nil) })
            },
            RouteDefinition("DELETE", "/auth/tokens/{token_id}") { request in
                try request.principal().requireAdmin()
                try access.revokeToken(id: request.parameter("token_id"))
                return JSON.response(["revoked": request.parameter("token_id")])
            },
        ]
    }
}

struct TokenDTO: Encodable {
    let id: String
    let userID: String
    let createdAt: String
    let token: String?

    init(_ stored: StoredToken, secret: String?) {
        id = stored.id
        userID = stored.userID
        createdAt = stored.createdAt
        token = secret
    }

    enum CodingKeys: String, CodingKey {
        case id, userID = "user_id", createdAt = "created_at", token
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(userID, forKey: .userID)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encodeIfPresent(token, forKey: .token)
    }
}
