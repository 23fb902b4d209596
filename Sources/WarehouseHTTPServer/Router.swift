import Foundation

/// Matches method + path pattern (`/ai-models/{user_id}/{model_id}`) to a handler.
///
/// Handlers throw; every error goes through the one `errorResponder` the API installs, which
/// owns the error → status table. Literal segments win over parameters, so
/// `/ai-models/search/{user_id}` is never taken for `/ai-models/{user_id}/{model_id}`.
public final class Router: HTTPHandler, Sendable {
    public typealias Handler = @Sendable (HTTPRequest) throws -> HTTPResponse

    struct Route: Sendable {
        let method: String
        let pattern: String
        let segments: [Segment]
        let body: HTTPBodyKind
        let handler: Handler
    }

    enum Segment: Sendable, Equatable {
        case literal(String)
        case parameter(String)
    }

    private let routes: [Route]
    private let errorResponder: @Sendable (any Error, HTTPRequestHead) -> HTTPResponse

    public init(routes: [RouteDefinition], errorResponder: @escaping @Sendable (any Error, HTTPRequestHead) -> HTTPResponse) {
        self.routes = routes.map { definition in
            Route(method: definition.method, pattern: definition.pattern, segments: Self.segments(of: definition.pattern), body: definition.body,
                  handler: definition.handler)
        }
        self.errorResponder = errorResponder
    }

    /// Every route as (method, pattern), in registration order.
    public var registeredRoutes: [(method: String, pattern: String)] {
        routes.map { ($0.method, $0.pattern) }
    }

    static func segments(of pattern: String) -> [Segment] {
        pattern.split(separator: "/").map { part in
            if part.hasPrefix("{"), part.hasSuffix("}") { return .parameter(String(part.dropFirst().dropLast())) }
            return .literal(String(part))
        }
    }

    public func plan(for head: HTTPRequestHead) -> HTTPRequestPlan {
        let parts = head.path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        var best: (route: Route, parameters: [String: String], literals: Int)?
        var pathMatched = false
        for route in routes where route.segments.count == parts.count {
            var parameters: [String: String] = [:]
            var literals = 0
            var matches = true
            for (segment, part) in zip(route.segments, parts) {
                switch segment {
                case .literal(let text):
                    if text != part { matches = false } else { literals += 1 }
                case .parameter(let name):
                    parameters[name] = part
                }
                if !matches { break }
            }
            guard matches else { continue }
            pathMatched = true
            let method = head.method == "HEAD" ? "GET" : head.method
            guard route.method == method else { continue }
            if best == nil || literals > best!.literals { best = (route, parameters, literals) }
        }
        let errorResponder = self.errorResponder
        guard let best else {
            let status = pathMatched ? 405 : 404
            let detail = pathMatched ? "method \(head.method) is not allowed on \(head.path)" : "no route for \(head.path)"
            return HTTPRequestPlan(body: .none) { _ in
                HTTPResponse.json(Array("{\"detail\":\(jsonQuoted(detail))}".utf8), status: status)
            }
        }
        let handler = best.route.handler
        let parameters = best.parameters
        return HTTPRequestPlan(body: best.route.body, route: best.route.pattern) { received in
            do {
                let body = try received.get()
                return try handler(HTTPRequest(head: head, pathParameters: parameters, body: body))
            } catch {
                return errorResponder(error, head)
            }
        }
    }
}

/// One route: method, pattern, how its body is received, and its handler.
public struct RouteDefinition: Sendable {
    public let method: String
    public let pattern: String
    public let body: HTTPBodyKind
    public let handler: Router.Handler

    public init(_ method: String, _ pattern: String, body: HTTPBodyKind = .none, handler: @escaping Router.Handler) {
        self.method = method
        self.pattern = pattern
        self.body = body
        self.handler = handler
    }
}

/// Minimal JSON string quoting for the router's own errors (the API has its own encoder).
func jsonQuoted(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if scalar.value < 0x20 {
                out += String(format: "\\u%04x", scalar.value)
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out + "\""
}
