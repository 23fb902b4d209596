import Foundation
import Testing
import WarehouseTesting

/// Slow, idle, greedy and oversized clients.
@Suite struct LimitsTests {
    @Test func idleConnectionsAreClosed() throws {
        let warehouse = try TestWarehouse { $0.connectionTimeoutSeconds = 1 }
        let idle = try warehouse.client.hold(sending: "GET /ai-models/u HTTP/1.1\r\nHost: x\r\n")
        // Half a request, then silence: closed after the timeout, without an answer.
        let answer = idle.waitForServer(seconds: 10)
        #expect(answer != nil, "the idle connection was never closed")
        #expect(try warehouse.client.get("/health").status == 200)
    }

    /// Over the limit a connection waits in the listen queue, unserved, until a slot frees.
    @Test func connectionsOverTheLimitWaitForASlot() throws {
        let warehouse = try TestWarehouse { $0.connectionLimit = 3 }
        var held = try (0..<3).map { _ in try warehouse.client.hold(sending: "GET /health HTTP/1.1\r\n") }
        let extra = try warehouse.client.hold(sending: "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        #expect(extra.waitForServer(seconds: 2) == nil, "a connection over the limit was served")
        held.removeFirst() // closes one connection
        let answer = extra.waitForServer(seconds: 10)
        #expect(answer?.hasPrefix("HTTP/1.1 200") == true, "\(answer ?? "no answer")")
        _ = held.count
    }

    @Test func oversizedHeadersAreRefused() throws {
        let warehouse = try TestWarehouse()
        let huge = String(repeating: "x", count: 2 << 20)
        let connection = try warehouse.client.hold(sending: "GET /ai-models/u HTTP/1.1\r\nHost: x\r\nX-Big: \(huge)\r\n\r\n")
        let answer = connection.waitForServer(seconds: 10) ?? ""
        #expect(answer.isEmpty || answer.hasPrefix("HTTP/1.1 4"), "\(answer.prefix(80))")
        #expect(try warehouse.client.get("/health").status == 200)
    }
}
