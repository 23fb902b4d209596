import Foundation
import Synchronization
import Testing
import WarehouseHTTPServer
@testable import WarehouseS3

/// The client against a scripted server (our own HTTP server module on 127.0.0.1:0): which
/// failures it retries, which it does not, and how S3 error XML reaches the caller.
@Suite struct S3ClientRetryTests {
    final class Script: Sendable {
        let responses: Mutex<[HTTPResponse.Scripted]>
        let requests = Mutex(0)
        init(_ responses: [HTTPResponse.Scripted]) { self.responses = Mutex(responses) }

        func next() -> HTTPResponse {
            requests.withLock { $0 += 1 }
            let scripted = responses.withLock { $0.isEmpty ? HTTPResponse.Scripted(status: 200, body: "") : $0.removeFirst() }
            return HTTPResponse(status: scripted.status, headers: HTTPHeaders([("Content-Type", "application/xml")]),
                                body: .bytes(Array(scripted.body.utf8)))
        }
    }

    func withServer(_ script: Script, _ body: (S3Client) throws -> Void) throws {
        let router = Router(routes: [
            RouteDefinition("PUT", "/bucket/{key}", body: .buffered(maxBytes: 1 << 20)) { _ in script.next() },
            RouteDefinition("GET", "/bucket/{key}") { _ in script.next() },
        ]) { _, _ in HTTPResponse(status: 500) }
        let server = HTTPServer(configuration: HTTPServerConfiguration(host: "127.0.0.1", port: 0), handler: router)
        try server.start()
        defer { server.stop() }
        let configuration = S3Configuration(endpoint: "http://127.0.0.1:\(server.port)", bucket: "bucket",
                                            accessKey: "a", secretKey: "s")
        try body(try S3Client(configuration: configuration))
    }

    static let slowDown = "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>R1</RequestId></Error>"

    @Test func slowDownAnd503AreRetried() throws {
        let script = Script([.init(status: 503, body: Self.slowDown), .init(status: 500, body: ""), .init(status: 200, body: "")])
        try withServer(script) { client in
            try client.putObject(key: "k", data: [1, 2, 3])
        }
        #expect(script.requests.withLock { $0 } == 3)
    }

    @Test func clientErrorsAreNotRetriedAndCarryTheXML() throws {
        let denied = "<Error><Code>AccessDenied</Code><Message>Access Denied</Message><RequestId>REQ-42</RequestId></Error>"
        let script = Script([.init(status: 403, body: denied)])
        try withServer(script) { client in
            #expect {
                try client.putObject(key: "k", data: [1])
            } throws: { error in
                guard case S3Error.service(let status, let code, let message, let requestID) = error else { return false }
                return status == 403 && code == "AccessDenied" && message == "Access Denied" && requestID == "REQ-42"
            }
        }
        #expect(script.requests.withLock { $0 } == 1)
    }

    @Test func retriesStopAtTheLimit() throws {
        let script = Script(Array(repeating: .init(status: 503, body: Self.slowDown), count: 10))
        try withServer(script) { client in
            #expect(throws: S3Error.self) { try client.putObject(key: "k", data: [1]) }
        }
        #expect(script.requests.withLock { $0 } == 4)
    }
}

extension HTTPResponse {
    struct Scripted: Sendable {
        let status: Int
        let body: String
    }
}
