import Foundation
import Synchronization
import Testing
@testable import WarehouseAPI
import WarehouseCore
import WarehouseHTTPServer
import WarehouseTesting

/// Every response carries the request's id (the client's `X-Request-ID` when sensible, else
/// a new one), and a logged failure names it.
@Suite struct RequestIDTests {
    @Test func everyResponseEchoesTheRequestID() throws {
        let warehouse = try TestWarehouse()
        #expect(try warehouse.uploadSingle([("user_id", "u"), ("model_id", "m")]).status == 200)
        for (path, status) in [("/ai-models/u/m", 200), ("/ai-models/u/absent", 404), ("/health", 200), ("/no/such/route", 404)] {
            let response = try warehouse.client.get(path, headers: [("X-Request-ID", "trace-42.a:b_c")])
            #expect(response.status == status, "\(path)")
            #expect(response.headers["x-request-id"] == "trace-42.a:b_c", "\(path)")
        }
        // Refused before any route ran, the id is still there.
        let unauthorized = try warehouse.client.with(token: "wrong").get("/ai-models/u/m", headers: [("X-Request-ID", "r1")])
        #expect(unauthorized.status == 401 && unauthorized.headers["x-request-id"] == "r1")
        // None, or one that could forge a log line: a fresh id.
        for sent in [nil, "two words", String(repeating: "x", count: 129), "a\u{7f}b"] {
            let response = try warehouse.client.get("/ai-models/u/m", headers: sent.map { [("X-Request-ID", $0)] } ?? [])
            let id = try #require(response.headers["x-request-id"])
            #expect(id.count == 16 && id.allSatisfy(\.isHexDigit), "\(String(describing: sent)) → \(id)")
        }
        let first = try warehouse.client.get("/health").headers["x-request-id"]
        #expect(first != (try warehouse.client.get("/health").headers["x-request-id"]))
    }

    @Test func aLoggedFailureNamesItsRequest() {
        let lines = Mutex<[(String, [String: String])]>([])
        let logger = Logger(label: "test", minimumLevel: .debug) { _, _, message, metadata in
            lines.withLock { $0.append((message, metadata)) }
        }
        let head = HTTPRequestHead(method: "GET", path: "/ai-models/u/m", headers: HTTPHeaders([("X-Request-ID", "req-7")]), queryItems: [])
        let response = ErrorResponses.response(for: WarehouseError.storageUnavailable("bucket gone"), head: head, logger: logger)
        #expect(response.status == 503)
        #expect(lines.withLock { $0 }.contains { $0.1["request_id"] == "req-7" && $0.0.contains("bucket gone") })
    }
}
