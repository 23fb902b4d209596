import Foundation
import Synchronization
import Testing
import WarehouseAPI
import WarehouseServer
import WarehouseCore
import WarehouseTesting

/// Three replicas on one moto bucket, each with its own catalog: what one commits, the others
/// show within the bound; uniqueness holds across them through conditional writes.
struct Replicas {
    let warehouses: [TestWarehouse]
    let bucket: String
    let server: S3TestServer
    /// The staleness bound the tests hold the replicas to (the issue's 2 s).
    static let bound: Double = 2

    init(count: Int = 3, server: S3TestServer? = nil, bucket: String = S3TestServer.uniqueBucket()) throws {
        let server = try server ?? S3TestServer.shared(.moto)
        self.server = server
        self.bucket = bucket
        warehouses = try (0..<count).map { index in try Self.replica(name: "r\(index)", server: server, bucket: bucket) }
    }

    static func replica(name: String, server: S3TestServer, bucket: String, directory: TemporaryDirectory? = nil,
                        faults: StoreFaults? = nil) throws -> TestWarehouse {
        try TestWarehouse(directory: directory, faults: faults) { configuration in
            TestWarehouse.useS3(server, in: &configuration, bucket: bucket)
            configuration.replication = true
            configuration.replicaID = name
            configuration.replicationPollSeconds = 0.2
            configuration.leaseSeconds = 3
        }
    }

    subscript(index: Int) -> TestWarehouse { warehouses[index] }

    /// Waits until `check` holds, up to `seconds`; answers how long it took (nil: never).
    @discardableResult
    static func eventually(within seconds: Double = bound, _ check: () throws -> Bool) rethrows -> Double? {
        let start = Date()
        while true {
            if try check() { return Date().timeIntervalSince(start) }
            if Date().timeIntervalSince(start) > seconds { return nil }
            Thread.sleep(forTimeInterval: 0.02)
        }
    }

    func stop() { for warehouse in warehouses { warehouse.stop() } }
}

@Suite(.serialized) struct ReplicaTests {
    func upload(_ warehouse: TestWarehouse, model: String, version: String? = nil, bytes: [UInt8]) throws -> TestResponse {
        try warehouse.uploadSingle([("user_id", "u"), ("model_id", model)] + (version.map { [("version", $0)] } ?? []),
                                   filename: "weights.bin", content: .bytes(bytes))
    }

    /// Ten clients create the same version at once, spread over three replicas: one wins.
    @Test func racingCreatesOfOneVersionLetExactlyOneWin() throws {
        let replicas = try Replicas()
        defer { replicas.stop() }
        let statuses = Mutex<[Int]>([])
        DispatchQueue.concurrentPerform(iterations: 10) { index in
            let status = (try? upload(replicas[index % 3], model: "race", version: "v1", bytes: Array("client \(index)".utf8)).status) ?? -1
            statuses.withLock { $0.append(status) }
        }
        let seen = statuses.withLock { $0 }
        #expect(seen.filter { $0 == 200 }.count == 1, "\(seen)")
        #expect(seen.filter { $0 == 409 }.count == 9, "\(seen)")
        // Every replica shows the winner's bytes, and the bucket holds that one version.
        let winner = try #require(replicas.warehouses.compactMap { try? $0.client.get("/ai-models/u/race?version=v1") }
            .first { $0.status == 200 })
        let hash = (winner.object["files"] as? [[String: Any]])?.first?["file_hash"] as? String
        for warehouse in replicas.warehouses {
            #expect(try Replicas.eventually {
                let response = try warehouse.client.get("/ai-models/u/race?version=v1")
                return response.status == 200 && (response.object["files"] as? [[String: Any]])?.first?["file_hash"] as? String == hash
            } != nil)
        }
        #expect(replicas[0].storedObjectKeys().filter { $0.hasPrefix("models/") || $0.hasPrefix("manifests/") }
            == ["manifests/models/u/race/v1.json", "models/u/race/v1/weights.bin"])
    }

    /// Uploads without a version, racing over three replicas, get distinct numbers.
    @Test func unnumberedUploadsOnThreeReplicasGetDistinctVersions() throws {
        let replicas = try Replicas()
        defer { replicas.stop() }
        let versions = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 9) { index in
            if let response = try? upload(replicas[index % 3], model: "count", bytes: Array("upload \(index)".utf8)), response.status == 200,
               let version = response.object["version"] as? String {
                versions.withLock { $0.append(version) }
            }
        }
        let got = versions.withLock { $0 }.sorted { $0.count == $1.count ? $0 < $1 : $0.count < $1.count }
        #expect(got == (1...9).map { "v\($0)" })
        for warehouse in replicas.warehouses {
            #expect(try Replicas.eventually { (try warehouse.client.get("/ai-models/u/count/versions").object["versions"] as? [Any])?.count == 9 } != nil)
        }
    }

    /// An upload on A: metadata, files, search and download on B and C within the bound.
    @Test func uploadOnOneReplicaIsReadableOnTheOthers() throws {
        let replicas = try Replicas()
        defer { replicas.stop() }
        let bytes = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let created = try replicas[0].uploadSingle([("user_id", "u"), ("model_id", "shared"), ("name", "Shared churn model"),
                                                    ("tags", "replicated,churn"), ("description", "visible everywhere")],
                                                   filename: "model.pkl", content: .bytes(bytes))
        #expect(created.status == 200, "\(created.text)")
        for warehouse in replicas.warehouses.dropFirst() {
            let delay = try Replicas.eventually { try warehouse.client.get("/ai-models/u/shared").status == 200 }
            #expect(delay != nil, "not visible within \(Replicas.bound) s")
            let record = try warehouse.client.get("/ai-models/u/shared").object
            #expect(record["name"] as? String == "Shared churn model")
            #expect(Set(record["tags"] as? [String] ?? []) == ["churn", "replicated"])
            #expect(try warehouse.client.get("/ai-models/u/shared/files").status == 200)
            #expect(try warehouse.client.get("/ai-models/search/u?query=churn").array.map { $0["model_id"] as? String } == ["shared"])
            var downloaded: [UInt8] = []
            let download = try warehouse.client.download("/ai-models/u/shared/download?filename=model.pkl") { downloaded.append(contentsOf: $0) }
            #expect(download.status == 200)
            #expect(downloaded == bytes)
        }
        // A metadata update on B reaches A and C.
        #expect(try replicas[1].client.put("/ai-models/u/shared", json: #"{"description": "changed on B"}"#).status == 200)
        for warehouse in [replicas[0], replicas[2]] {
            #expect(try Replicas.eventually { try warehouse.client.get("/ai-models/u/shared").object["description"] as? String == "changed on B" } != nil)
        }
    }

    /// A delete on B: gone on A and C, and nothing of it left in the bucket.
    @Test func deleteOnOneReplicaDisappearsEverywhere() throws {
        let replicas = try Replicas()
        defer { replicas.stop() }
        #expect(try upload(replicas[0], model: "doomed", bytes: Array("bytes".utf8)).status == 200)
        #expect(try upload(replicas[0], model: "doomed", bytes: Array("more".utf8)).status == 200)
        #expect(try Replicas.eventually { try replicas[1].client.get("/ai-models/u/doomed?version=v2").status == 200 } != nil)
        #expect(try replicas[1].client.delete("/ai-models/u/doomed").status == 200)
        for warehouse in [replicas[0], replicas[2]] {
            #expect(try Replicas.eventually { try warehouse.client.get("/ai-models/u/doomed").status == 404 } != nil)
            #expect(try warehouse.client.get("/ai-models/u/doomed?version=v1").status == 404)
        }
        #expect(replicas[0].storedObjectKeys().filter { $0.hasPrefix("models/") || $0.hasPrefix("manifests/") }.isEmpty,
                "\(replicas[0].storedObjectKeys())")
    }

    /// An alias moved on C resolves on A and B; moves of two aliases at once on two replicas
    /// both land (each replaces the alias manifest only over the ETag it read).
    @Test func aliasMovedOnOneReplicaResolvesEverywhere() throws {
        let replicas = try Replicas()
        defer { replicas.stop() }
        #expect(try upload(replicas[0], model: "aliased", bytes: Array("one".utf8)).status == 200)
        #expect(try upload(replicas[0], model: "aliased", bytes: Array("two".utf8)).status == 200)
        #expect(try Replicas.eventually { try replicas[2].client.get("/ai-models/u/aliased?version=v2").status == 200 } != nil)
        #expect(try replicas[2].client.put("/ai-models/u/aliased/aliases/production", json: #"{"version": "v1"}"#).status == 200)
        for warehouse in replicas.warehouses {
            #expect(try Replicas.eventually { try warehouse.client.get("/ai-models/u/aliased?version=@production").object["version"] as? String == "v1" } != nil)
        }
        let statuses = Mutex<[Int]>([])
        DispatchQueue.concurrentPerform(iterations: 6) { index in
            let status = (try? replicas[index % 3].client.put("/ai-models/u/aliased/aliases/a\(index)", json: #"{"version": "v2"}"#).status) ?? -1
            statuses.withLock { $0.append(status) }
        }
        #expect(statuses.withLock { $0 } == Array(repeating: 200, count: 6))
        for warehouse in replicas.warehouses {
            #expect(try Replicas.eventually {
                let aliases = try warehouse.client.get("/ai-models/u/aliased/aliases").object["aliases"] as? [String: String] ?? [:]
                return aliases.count == 7 && aliases["production"] == "v1"
            } != nil)
        }
        let manifest = replicas[0].storedText("manifests/aliases/u/aliased.json")
        #expect((0..<6).allSatisfy { manifest.contains("\"a\($0)\"") }, "\(manifest)")
    }

    /// A token minted on A works on B at once and stops working on B once revoked on A.
    @Test func tokensAreSharedBetweenReplicas() throws {
        let replicas = try Replicas(count: 2)
        defer { replicas.stop() }
        let minted = try replicas[0].client.request("POST", "/auth/tokens", headers: [("Content-Type", "application/json")],
                                                    body: Array(#"{"user_id": "tok-user"}"#.utf8))
        #expect(minted.status == 200 || minted.status == 201, "\(minted.text)")
        let token = try #require(minted.object["token"] as? String)
        let id = try #require(minted.object["id"] as? String ?? minted.object["token_id"] as? String)
        let onB = replicas[1].client.with(token: token)
        #expect(try onB.get("/ai-models/tok-user").status == 200)
        #expect(try onB.get("/ai-models/someone-else").status == 403)
        #expect(try replicas[0].client.delete("/auth/tokens/\(id)").status == 200)
        #expect(try Replicas.eventually { try onB.get("/ai-models/tok-user").status == 401 } != nil)
    }

    /// A replica started late reads what the others did before it; one restarted follows what
    /// happened while it was away.
    @Test func lateReplicaCatchesUp() throws {
        let server = try S3TestServer.shared(.moto)
        let replicas = try Replicas(count: 1, server: server)
        defer { replicas.stop() }
        for index in 1...5 { #expect(try upload(replicas[0], model: "m\(index)", bytes: Array("bytes \(index)".utf8)).status == 200) }
        #expect(try replicas[0].client.put("/ai-models/u/m1/aliases/production", json: #"{"version": "v1"}"#).status == 200)
        let directory = try TemporaryDirectory()
        var late = try Replicas.replica(name: "late", server: server, bucket: replicas.bucket, directory: directory)
        // Caught up before it serves: no waiting.
        #expect(try late.client.get("/ai-models/u").array.count == 5)
        #expect(try late.client.get("/ai-models/u/m1?version=@production").status == 200)
        late.stop()
        #expect(try replicas[0].client.delete("/ai-models/u/m2").status == 200)
        #expect(try upload(replicas[0], model: "m6", bytes: Array("six".utf8)).status == 200)
        late = try Replicas.replica(name: "late", server: server, bucket: replicas.bucket, directory: directory)
        defer { late.stop() }
        #expect(try late.client.get("/ai-models/u/m2").status == 404)
        #expect(try late.client.get("/ai-models/u/m6").status == 200)
    }

    /// Without conditional writes (rclone serve s3) a replica refuses to share the bucket; with
    /// replication off, a replica refuses a bucket shared replicas serve.
    @Test func refusesToShareWithoutConditionalWrites() throws {
        let rclone = try S3TestServer.shared(.rclone)
        let bucket = S3TestServer.uniqueBucket()
        #expect {
            _ = try Replicas.replica(name: "solo", server: rclone, bucket: bucket)
        } throws: { error in
            "\(error)".contains("conditional writes") && "\(error)".contains("WAREHOUSE_REPLICATION=off")
        }
        let replicas = try Replicas(count: 1)
        defer { replicas.stop() }
        #expect {
            _ = try TestWarehouse { configuration in
                TestWarehouse.useS3(replicas.server, in: &configuration, bucket: replicas.bucket)
            }
        } throws: { error in "\(error)".contains("WAREHOUSE_REPLICATION=on") }
    }

    /// The soak mix across three replicas: uploads, reads, downloads, searches, updates and
    /// deletes from eight clients for ten seconds: no 5xx, and every byte read is a byte written.
    @Test func soakMixAcrossThreeReplicas() throws {
        let replicas = try Replicas()
        defer { replicas.stop() }
        let written = Mutex<[String: [UInt8]]>([:])
        // Every version's bytes ever written (a deleted version may be uploaded again).
        let history = Mutex<[String: [[UInt8]]]>([:])
        let failures = Mutex<[String]>([])
        let counts = Mutex<[Int: Int]>([:])
        let deadline = Date().addingTimeInterval(10)
        DispatchQueue.concurrentPerform(iterations: 8) { worker in
            var generator = SystemRandomNumberGenerator()
            var step = 0
            while Date() < deadline {
                step += 1
                let warehouse = replicas[Int.random(in: 0..<3, using: &generator)]
                let model = "soak\(worker)-\(step % 4)"
                do {
                    let status: Int
                    var text = ""
                    switch Int.random(in: 0..<6, using: &generator) {
                    case 0, 1:
                        let bytes = (0..<Int.random(in: 1...50_000, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
                        let response = try upload(warehouse, model: model, bytes: bytes)
                        (status, text) = (response.status, response.text)
                        if response.status == 200, let version = response.object["version"] as? String {
                            written.withLock { $0["\(model)/\(version)"] = bytes }
                            history.withLock { $0["\(model)/\(version)", default: []].append(bytes) }
                        }
                    case 2:
                        let known = written.withLock { $0.randomElement() }
                        guard let (key, _) = known else { continue }
                        let parts = key.split(separator: "/")
                        var downloaded: [UInt8] = []
                        status = try warehouse.client.download("/ai-models/u/\(parts[0])/download?filename=weights.bin&version=\(parts[1])") {
                            downloaded.append(contentsOf: $0)
                        }.status
                        if status != 200 { text = "download \(key): " + String(decoding: downloaded.prefix(300), as: UTF8.self) }
                        if status == 200, !history.withLock({ $0[key] ?? [] }).contains(downloaded) {
                            failures.withLock { $0.append("wrong bytes for \(key)") }
                        }
                    case 3:
                        let response = try warehouse.client.get("/ai-models/search/u?query=soak\(worker)")
                        (status, text) = (response.status, response.text)
                    case 4:
                        let response = try warehouse.client.put("/ai-models/u/\(model)", json: #"{"description": "step \#(step)"}"#)
                        (status, text) = (response.status, response.text)
                    default:
                        let response = try warehouse.client.delete("/ai-models/u/\(model)")
                        (status, text) = (response.status, response.text)
                        if status == 200 { written.withLock { entries in entries = entries.filter { !$0.key.hasPrefix(model + "/") } } }
                    }
                    counts.withLock { $0[status, default: 0] += 1 }
                    if status >= 500 { failures.withLock { $0.append("\(status): \(text)") } }
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
            }
        }
        #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0 }.prefix(5))")
        #expect((counts.withLock { $0[200] } ?? 0) > 50, "\(counts.withLock { $0 })")
        // Afterwards every replica agrees with the bucket on every version.
        let expected = written.withLock { $0 }
        for warehouse in replicas.warehouses {
            #expect(try Replicas.eventually(within: 5) {
                try expected.keys.allSatisfy { key in
                    let parts = key.split(separator: "/")
                    return try warehouse.client.get("/ai-models/u/\(parts[0])?version=\(parts[1])").status == 200
                }
            } != nil)
        }
    }
}

@Suite(.serialized) struct ReplicaTrainingTests {
    /// A job started on A is listed, followed and finished on B; its model appears on B and C.
    @Test func trainingJobIsVisibleOnEveryReplica() throws {
        let replicas = try Replicas()
        defer { replicas.stop() }
        #expect(try Training.upload(replicas[0].client, dataset: "iris", csv: .file(Training.path("iris"))).status == 200)
        #expect(try Replicas.eventually { try replicas[1].client.get("/datasets/alice/iris").status == 200 } != nil)
        let job = try Training.startJob(replicas[1].client, ["user_id": "alice", "dataset_id": "iris", "time_limit_s": 3])
        #expect(try Replicas.eventually { try replicas[2].client.get("/training/jobs/\(job)").status == 200 } != nil)
        let final = try Training.wait(replicas[2].client, job: job, seconds: 60)
        #expect(final["status"] as? String == "succeeded", "\(final)")
        for warehouse in replicas.warehouses {
            #expect(try Replicas.eventually { try warehouse.client.get("/ai-models/alice/iris-automl?version=@production").status == 200 } != nil)
        }
        let events = try Training.events(replicas[0].client, job: job).events.map(\.1)
        #expect(events.last?["type"] as? String == "complete", "\(events)")
        #expect(events.last?["version"] as? String == "v1" || (events.last?["result"] as? [String: Any])?["version"] as? String == "v1")
        #expect(try replicas[0].client.get("/notifications?user_id=alice").array.count >= 1)
    }
}

@Suite(.serialized) struct ReplicaMaintenanceTests {
    /// gc on A right after B committed: B's version survives (A reads every manifest first), and
    /// while B holds the gc lease, A's gc is a 409.
    @Test func gcRunsOnOneReplicaAndKeepsWhatOthersCommitted() throws {
        let replicas = try Replicas(count: 2)
        defer { replicas.stop() }
        #expect(try replicas[1].uploadSingle([("user_id", "u"), ("model_id", "fresh")], filename: "w.bin",
                                             content: .bytes(Array("fresh bytes".utf8))).status == 200)
        let report = try replicas[0].application.uploadSessions.collectGarbage(dryRun: false)
        #expect(report.orphanObjects.isEmpty && report.orphanManifests.isEmpty, "\(report)")
        #expect(replicas[0].storedObjectKeys().filter { $0.hasPrefix("models/") } == ["models/u/fresh/v1/w.bin"])
        let shared = try #require(replicas[1].application.service.shared)
        let lease = try #require(try shared.acquireLease("gc"))
        #expect {
            _ = try replicas[0].application.uploadSessions.collectGarbage(dryRun: true)
        } throws: { error in "\(error)".contains("gc is running on replica r1") }
        shared.release(lease)
        #expect(try replicas[0].application.uploadSessions.collectGarbage(dryRun: true).orphanObjects.isEmpty)
    }

    /// A job queued on A and cancelled on B ends cancelled everywhere.
    @Test func cancelOnAnotherReplicaReachesTheJob() throws {
        let replicas = try Replicas(count: 2)
        defer { replicas.stop() }
        #expect(try Training.upload(replicas[0].client, dataset: "wine", csv: .file(Training.path("wine"))).status == 200)
        let job = try Training.startJob(replicas[0].client, ["user_id": "alice", "dataset_id": "wine", "time_limit_s": 60])
        #expect(try Replicas.eventually(within: 10) { try replicas[1].client.get("/training/jobs/\(job)").object["status"] as? String == "running" } != nil)
        let cancelled = try replicas[1].client.request("POST", "/training/jobs/\(job)/cancel")
        #expect(cancelled.object["status"] as? String == "cancelled", "\(cancelled.text)")
        #expect(try Replicas.eventually { try replicas[0].client.get("/training/jobs/\(job)").object["status"] as? String == "cancelled" } != nil)
    }
}
