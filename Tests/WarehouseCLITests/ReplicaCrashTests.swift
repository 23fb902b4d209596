import Foundation
import Testing
import WarehouseTesting

/// Replicas as real processes on one moto bucket, one of them killed with SIGKILL.
@Suite(.serialized) struct ReplicaCrashTests {
    static func environment(_ server: S3TestServer, bucket: String, replica: String) -> [String: String] {
        ["WAREHOUSE_STORAGE": "s3", "WAREHOUSE_S3_ENDPOINT": server.endpoint, "WAREHOUSE_S3_BUCKET": bucket,
         "WAREHOUSE_S3_ACCESS_KEY": server.accessKey, "WAREHOUSE_S3_SECRET_KEY": server.secretKey,
         "WAREHOUSE_REPLICATION": "on", "WAREHOUSE_REPLICA_ID": replica, "WAREHOUSE_REPLICATION_POLL_SECONDS": "0.2",
         "WAREHOUSE_LEASE_SECONDS": "3"]
    }

    static func events(_ client: TestClient, job: String) throws -> [[String: Any]] {
        var bytes: [UInt8] = []
        _ = try client.download("/training/jobs/\(job)/events") { bytes.append(contentsOf: $0) }
        return String(decoding: bytes, as: UTF8.self).components(separatedBy: "\n").compactMap { line in
            guard line.hasPrefix("data: ") else { return nil }
            return try? JSONSerialization.jsonObject(with: Data(line.dropFirst(6).utf8)) as? [String: Any]
        }
    }

    /// A replica killed mid-training loses its job's lease; another replica takes the job
    /// over, finishes it and registers the model once.
    @Test func jobOfAKilledReplicaIsFinishedByAnother() throws {
        let server = try S3TestServer.shared(.moto)
        let bucket = S3TestServer.uniqueBucket()
        let directory = try TemporaryDirectory()
        let a = try ServerProcess(dataDirectory: directory.path + "/a", environment: Self.environment(server, bucket: bucket, replica: "a"))
        let b = try ServerProcess(dataDirectory: directory.path + "/b", environment: Self.environment(server, bucket: bucket, replica: "b"))
        defer { b.kill9() }
        let dataset = try a.client.upload("/datasets/upload", fields: [("user_id", "alice"), ("dataset_id", "penguins"), ("auto_train", "false")],
                                          files: [("file", "penguins.csv", .file(SharedDatasetFiles.path("penguins")))])
        #expect(dataset.status == 200, "\(dataset.text)")
        let body = try JSONSerialization.data(withJSONObject: ["user_id": "alice", "dataset_id": "penguins", "time_limit_s": 8])
        let started = try a.client.request("POST", "/training/jobs", headers: [("Content-Type", "application/json")], body: Array(body))
        let job = try #require(started.object["job_id"] as? String, "\(started.text)")
        // B shows A's job running, then A dies in the middle of it.
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline, (try? b.client.get("/training/jobs/\(job)").object["status"] as? String) != "running" { usleep(50_000) }
        let seenOnB = try b.client.get("/training/jobs/\(job)")
        let seenOnA = try a.client.get("/training/jobs/\(job)")
        #expect(seenOnB.object["status"] as? String == "running", "\(seenOnB.status) \(seenOnB.text) on A: \(seenOnA.text)")
        Thread.sleep(forTimeInterval: 1.5)
        a.kill9()
        var final: [String: Any] = [:]
        let end = Date().addingTimeInterval(40)
        while Date() < end {
            final = try b.client.get("/training/jobs/\(job)").object
            if let status = final["status"] as? String, ["succeeded", "failed", "cancelled"].contains(status) { break }
            usleep(100_000)
        }
        #expect(final["status"] as? String == "succeeded", "\(final)")
        let result = final["result"] as? [String: Any] ?? [:]
        #expect(result["version"] as? String == "v1")
        let messages = try Self.events(b.client, job: job).compactMap { $0["message"] as? String }
        #expect(messages.contains { $0.contains("taken over by replica b") }, "\(messages)")
        #expect(messages.last?.hasPrefix("registered") == true, "\(messages)")
        // Registered once: B has v1 and no other version.
        let versions = try b.client.get("/ai-models/alice/penguins-automl/versions").object["versions"] as? [[String: Any]] ?? []
        #expect(versions.map { $0["version"] as? String } == ["v1"])
    }
}
