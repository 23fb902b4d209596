import Foundation
import Testing
import Synchronization
import WarehouseTesting

/// What a browser application needs from the API: CORS for the origins listed in
/// `cors_origins` (and none for others), event tickets for an `EventSource` (60 s, one job,
/// one stream), and a terminal `cancelled` event that ends a cancelled job's stream.
@Suite(.serialized) struct BrowserAccessTests {
    static let origin = "http://app.example.test:5173"

    static func preflight(_ client: TestClient, _ path: String, origin: String) throws -> TestResponse {
        try client.with(token: nil).request("OPTIONS", path, headers: [
            ("Origin", origin), ("Access-Control-Request-Method", "POST"),
            ("Access-Control-Request-Headers", "authorization, content-type"),
        ])
    }

    @Test func corsOnlyForListedOrigins() throws {
        let warehouse = try TestWarehouse { $0.corsOrigins = [Self.origin] }
        let client = warehouse.client
        let allowed = try Self.preflight(client, "/training/jobs", origin: Self.origin)
        #expect(allowed.status == 204, "\(allowed.text)")
        #expect(allowed.headers["access-control-allow-origin"] == Self.origin)
        #expect(allowed.headers["access-control-allow-headers"]?.contains("Authorization") == true)
        #expect(allowed.headers["access-control-allow-methods"]?.contains("POST") == true)
        let read = try client.request("GET", "/datasets/alice", headers: [("Origin", Self.origin)])
        #expect(read.status == 200 && read.headers["access-control-allow-origin"] == Self.origin)
        #expect(read.headers["access-control-expose-headers"]?.contains("X-Total-Count") == true)
        #expect(read.headers["vary"] == "Origin")
        // Errors carry them too (a page must be able to read why).
        let unauthorised = try client.with(token: nil).request("GET", "/datasets/alice", headers: [("Origin", Self.origin)])
        #expect(unauthorised.status == 401 && unauthorised.headers["access-control-allow-origin"] == Self.origin)

        // Another origin: its preflight is refused saying why, and nothing carries CORS headers.
        let other = try Self.preflight(client, "/training/jobs", origin: "http://evil.example.test")
        #expect(other.status == 403 && other.detail?.contains("cors_origins") == true, "\(other.text)")
        #expect(other.headers["access-control-allow-origin"] == nil)
        let otherRead = try client.request("GET", "/datasets/alice", headers: [("Origin", "http://evil.example.test")])
        #expect(otherRead.status == 200 && otherRead.headers["access-control-allow-origin"] == nil)
        #expect(try client.request("GET", "/datasets/alice").headers["access-control-allow-origin"] == nil)
        warehouse.stop()

        // None by default.
        let closed = try TestWarehouse()
        let refused = try Self.preflight(closed.client, "/training/jobs", origin: Self.origin)
        #expect(refused.status == 403 && refused.headers["access-control-allow-origin"] == nil)
    }

    @Test func ticketsFollowOneJobOnceWithinAMinute() throws {
        let warehouse = try TestWarehouse()
        let client = warehouse.client
        try #require(Training.upload(client, dataset: "iris", csv: .file(Training.path("iris"))).status == 200)
        let job = try Training.startJob(client, ["user_id": "alice", "dataset_id": "iris", "preset": "fast", "time_limit_s": 5])
        let other = try Training.startJob(client, ["user_id": "alice", "dataset_id": "iris", "model_id": "other", "preset": "fast", "time_limit_s": 5])
        let issued = try client.request("POST", "/training/jobs/\(job)/events-ticket")
        #expect(issued.status == 200, "\(issued.text)")
        let ticket = try #require(issued.object["ticket"] as? String)
        let expires = try #require(issued.object["expires_at"] as? String)
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let left = (formatter.date(from: expires) ?? .distantPast).timeIntervalSinceNow
        #expect(left > 55 && left <= 60, "\(expires)")
        #expect(!ticket.contains(TestWarehouse.adminToken))
        let anonymous = client.with(token: nil)
        // Without token or ticket: 401; the ticket on another job: 401.
        #expect(try anonymous.get("/training/jobs/\(job)/events").status == 401)
        let wrongJob = try Training.events(anonymous, job: other, query: "?ticket=" + ticket)
        #expect(wrongJob.status == 401)
        // The ticket's stream: every event to the terminal one.
        let stream = try Training.events(anonymous, job: job, query: "?ticket=" + ticket)
        #expect(stream.status == 200 && stream.contentType == "text/event-stream")
        #expect(stream.events.last?.1["type"] as? String == "complete", "\(stream.events.map(\.1))")
        // Spent: a second stream with it is refused.
        let reused = try anonymous.get("/training/jobs/\(job)/events?ticket=" + ticket)
        #expect(reused.status == 401 && reused.detail?.contains("already used") == true, "\(reused.text)")
        // Forged or expired (signed by the server, a minute old) tickets are refused.
        var forged = ticket.split(separator: ".").map(String.init)
        forged[1] = String((Int64(forged[1]) ?? 0) + 60_000)
        #expect(try anonymous.get("/training/jobs/\(job)/events?ticket=" + forged.joined(separator: ".")).status == 401)
        let past = Int64((Date().timeIntervalSince1970 - 1) * 1000)
        let nonce = "00112233445566778899aabb"
        let signature = warehouse.application.access.signature(of: "events-ticket/1\n\(job)\n\(past)\n\(nonce)")
        let expired = try anonymous.get("/training/jobs/\(job)/events?ticket=\(job).\(past).\(nonce).\(signature)")
        #expect(expired.status == 401 && expired.detail?.contains("expired") == true, "\(expired.text)")
        // Another user cannot get a ticket for alice's job.
        let token = try #require(client.request("POST", "/auth/tokens", headers: [("Content-Type", "application/json")],
                                                body: Array(#"{"user_id": "bob"}"#.utf8)).object["token"] as? String)
        #expect(try client.with(token: token).request("POST", "/training/jobs/\(job)/events-ticket").status == 404)
        _ = try Training.wait(client, job: other)
    }

    @Test func cancellingEndsTheStreamWithACancelledEvent() throws {
        let warehouse = try TestWarehouse()
        let client = warehouse.client
        try #require(Training.upload(client, dataset: "diamonds", csv: .file(Training.path("diamonds"))).status == 200)
        let job = try Training.startJob(client, ["user_id": "alice", "dataset_id": "diamonds", "time_limit_s": 120])
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, (try client.get("/training/jobs/\(job)").object["progress"] as? Double ?? 0) < 3 {
            Thread.sleep(forTimeInterval: 0.05)
        }
        // A stream opened while it runs ends (does not hang) once the job is cancelled.
        let stream = Mutex<(status: Int, contentType: String?, events: [(Int, [String: Any])])?>(nil)
        let reader = Thread { stream.withLock { $0 = try? Training.events(client, job: job) } }
        let finished = DispatchSemaphore(value: 0)
        let watcher = Thread { while stream.withLock({ $0 == nil }) { Thread.sleep(forTimeInterval: 0.05) }; finished.signal() }
        reader.start()
        watcher.start()
        Thread.sleep(forTimeInterval: 0.5)
        #expect(try client.request("POST", "/training/jobs/\(job)/cancel").object["status"] as? String == "cancelled")
        #expect(finished.wait(timeout: .now() + 10) == .success, "the event stream stayed open after the cancel")
        let events = try #require(stream.withLock { $0 }?.events)
        let last = try #require(events.last?.1)
        #expect(last["type"] as? String == "cancelled" && last["status"] as? String == "cancelled", "\(last)")
        #expect(events.dropLast().allSatisfy { ($0.1["type"] as? String) != "cancelled" })
    }
}
