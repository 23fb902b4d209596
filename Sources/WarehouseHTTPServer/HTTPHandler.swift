/// What the server asks of the application: a plan for each request once its headers are in.
public protocol HTTPHandler: Sendable {
    func plan(for head: HTTPRequestHead) -> HTTPRequestPlan
}

/// How to receive this request's body and what to answer once it is received.
/// `respond` gets the body, or the error that stopped its reception (malformed, too large).
public struct HTTPRequestPlan {
    public let body: HTTPBodyKind
    public let respond: (Result<HTTPRequestBody, any Error>) -> HTTPResponse
    /// The route pattern that matched, for metrics (`unmatched` when none did).
    public let route: String

    public init(body: HTTPBodyKind, route: String = "unmatched", respond: @escaping (Result<HTTPRequestBody, any Error>) -> HTTPResponse) {
        self.body = body
        self.route = route
        self.respond = respond
    }
}
