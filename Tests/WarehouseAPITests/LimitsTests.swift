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

    /// A body trickling in (a byte now and then keeps the idle timeout from firing) is cut
    /// off once its average rate stays under the minimum, and nothing of it remains.
    @Test func tricklingUploadsAreCutOff() throws {
        let warehouse = try TestWarehouse {
            $0.minUploadBytesPerSecond = 1000
            $0.slowBodyGraceSeconds = 1
        }
        let slow = try warehouse.client.hold(sending: "POST /ai-models/upload/single HTTP/1.1\r\nHost: x\r\n"
            + warehouse.client.authorizationLine + "Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 100000\r\n\r\n"
            + "--b\r\nContent-Disposition: form-data; name=\"user_id\"\r\n\r\nu\r\n"
            + "--b\r\nContent-Disposition: form-data; name=\"model_id\"\r\n\r\nm\r\n"
            + "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"w.bin\"\r\n\r\n")
        var cut = false
        for _ in 0..<40 {
            do { try slow.send("xxxxxxxxxx") } catch { cut = true; break }
            if slow.waitForServer(seconds: 0.2) != nil { cut = true; break }
        }
        #expect(cut, "a trickling upload was never cut off")
        var waited = 0
        while !warehouse.spoolFiles().isEmpty, waited < 50 { usleep(100_000); waited += 1 }
        #expect(warehouse.spoolFiles().isEmpty)
        #expect(try warehouse.client.get("/ai-models/u/m").status == 404)
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
