import Foundation
import Testing
import WarehouseCore
import WarehouseTesting

/// The follower under a store that fails on purpose: a change that does not apply is retried
/// with backoff, counted in /metrics, reported by /health, and never skipped: later changes go
/// on, and a restart retries it.
@Suite(.serialized) struct ReplicaFollowerFaultTests {
    /// Not a `WarehouseError`: what SQLite BUSY or a timeout looked like to the old follower.
    struct Timeout: Error, CustomStringConvertible {
        var description: String { "operation timed out (injected)" }
    }

    func upload(_ warehouse: TestWarehouse, model: String) throws {
        let response = try warehouse.uploadSingle([("user_id", "u"), ("model_id", model)], filename: "w.bin",
                                                   content: .bytes(Array("bytes of \(model)".utf8)))
        #expect(response.status == 200, "\(response.text)")
    }

    func metric(_ warehouse: TestWarehouse, _ name: String) throws -> Double? {
        let text = try warehouse.client.get("/metrics").text
        return text.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Double($0.split(separator: " ")[1]) }
    }

    @Test func transientFailuresAreRetriedUntilTheyApply() throws {
        let server = try S3TestServer.shared(.moto)
        let writer = try Replicas(count: 1, server: server)
        defer { writer.stop() }
        let faults = StoreFaults()
        let follower = try Replicas.replica(name: "follower", server: server, bucket: writer.bucket, faults: faults)
        defer { follower.stop() }
        // Five failures: with the backoff (0.25 s doubling) the replica stays behind ~4 s, long
        // enough to see it on a loaded machine.
        faults.fail(.get, keyPrefix: "manifests/models/u/flaky/", times: 5, with: Timeout())
        try upload(writer[0], model: "flaky")

        // Behind while the faults last, and says so.
        #expect(try Replicas.eventually(within: 5) {
            let health = try follower.client.get("/health")
            return health.status == 200 && health.object["status"] as? String == "behind"
                && (health.object["detail"] as? String)?.contains("timed out") == true
        } != nil)
        #expect(try metric(follower, "warehouse_replication_pending_changes") == 1)
        // Then it converges without anyone touching it.
        #expect(try Replicas.eventually(within: 20) { try follower.client.get("/ai-models/u/flaky").status == 200 } != nil)
        #expect(faults.pendingFaults == 0)
        #expect(try Replicas.eventually(within: 2) { try follower.client.get("/health").object["status"] as? String == "ok" } != nil)
        #expect(try metric(follower, "warehouse_replication_pending_changes") == 0)
        #expect(try metric(follower, "warehouse_replication_failed_applications") ?? 0 >= 5)
    }

    @Test func aChangeThatKeepsFailingStaysPendingAcrossARestart() throws {
        let server = try S3TestServer.shared(.moto)
        let writer = try Replicas(count: 1, server: server)
        defer { writer.stop() }
        let directory = try TemporaryDirectory()
        let faults = StoreFaults()
        var follower = try Replicas.replica(name: "follower", server: server, bucket: writer.bucket, directory: directory,
                                            faults: faults)
        faults.fail(.get, keyPrefix: "manifests/models/u/stuck/", times: 1_000_000, with: Timeout())
        try upload(writer[0], model: "stuck")
        try upload(writer[0], model: "after")
        // The later change applies; the stuck one stays pending, and health says so.
        #expect(try Replicas.eventually(within: 5) { try follower.client.get("/ai-models/u/after").status == 200 } != nil)
        #expect(try follower.client.get("/ai-models/u/stuck").status == 404)
        #expect(try Replicas.eventually(within: 3) { try metric(follower, "warehouse_replication_pending_changes") == 1 } != nil)
        #expect(try follower.client.get("/health").object["status"] as? String == "behind")
        // The stored position did not pass it.
        let entry = try #require(follower.store.list(prefix: "replication/changes/").map(\.key).first { $0.hasSuffix("~version~u/stuck/v1") })
        let loggedAt = try #require(Int64(entry.dropFirst("replication/changes/".count).prefix(13)))
        let stored = try #require(follower.application.service.catalog.replicationValue("changes.after").flatMap { Int64($0) })
        #expect(stored < loggedAt)

        // A restart with the store healthy again applies it.
        follower.stop()
        follower = try Replicas.replica(name: "follower", server: server, bucket: writer.bucket, directory: directory)
        defer { follower.stop() }
        #expect(try Replicas.eventually(within: 5) { try follower.client.get("/ai-models/u/stuck").status == 200 } != nil)
        #expect(try follower.client.get("/health").object["status"] as? String == "ok")
    }
}
