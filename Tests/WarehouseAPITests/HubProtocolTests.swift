import Foundation
import Synchronization
import Testing
import WarehouseCore
import WarehouseCrypto
import WarehouseServer
import WarehouseTesting

/// The Hugging Face Hub protocol, driven by the stock clients from PyPI (huggingface_hub,
/// newest and 0.36.x, and transformers), each in its own virtual environment, configured as
/// a user would: HF_ENDPOINT, HF_TOKEN, HF_HOME (Tests/python/hub_client.py).
@Suite(.serialized) struct HubProtocolTests {
    /// Files above 1 MiB go through Git LFS here (the default limit is 1 GiB).
    static let inlineLimit: UInt64 = 1 << 20

    static func python(_ environment: String) -> String {
        TestProcess.repositoryPath(".build/hub-peers/\(environment)/bin/python")
    }

    static func warehouse(_ configure: (inout WarehouseConfiguration) -> Void = { _ in }) throws -> TestWarehouse {
        try TestWarehouse {
            $0.hfRegularUploadMaxBytes = inlineLimit
            configure(&$0)
        }
    }

    static func token(_ warehouse: TestWarehouse, user: String) throws -> String {
        let created = try warehouse.client.request("POST", "/auth/tokens", headers: [("Content-Type", "application/json")],
                                                   body: Array(#"{"user_id": "\#(user)"}"#.utf8))
        return try #require(created.object["token"] as? String, "\(created.text)")
    }

    /// Runs one scenario with a client environment; its output when every check held.
    @discardableResult
    static func run(_ scenario: [String], client: String = "newest", warehouse: TestWarehouse, token: String?,
                    environment: [String: String] = [:]) throws -> String {
        let home = warehouse.directory.path + "/hf-home-\(UUID().uuidString.prefix(8))"
        var variables = ["HF_ENDPOINT": "http://127.0.0.1:\(warehouse.application.port)/hf", "HF_HOME": home,
                         "HF_HUB_DISABLE_TELEMETRY": "1", "HF_TOKEN": token ?? "", "HF_HUB_DISABLE_PROGRESS_BARS": "1",
                         "TRANSFORMERS_VERBOSITY": "error"]
        variables.merge(environment) { $1 }
        let result = try TestProcess.run(python(client), [TestProcess.repositoryPath("Tests/python/hub_client.py")] + scenario,
                                         environment: variables)
        #expect(result.status == 0 && result.stdout.contains("ok \(scenario[0])"),
                "huggingface_hub (\(client)) \(scenario.joined(separator: " ")):\n\(result.output.suffix(4000))")
        return result.stdout
    }

    @Test func theNewestClientRoundTripsARepo() throws {
        let warehouse = try Self.warehouse()
        try Self.run(["roundtrip", "alice"], warehouse: warehouse, token: try Self.token(warehouse, user: "alice"))
        // Each commit was one version, committed like any upload: hashed and detected.
        let versions = try warehouse.client.get("/ai-models/alice/tiny/versions")
        #expect(versions.status == 200, "\(versions.text)")
        let latest = try warehouse.client.get("/ai-models/alice/tiny")
        #expect(latest.object["version"] as? String == "v3", "\(latest.text)")
        #expect(latest.object["framework"] as? String == "huggingface", "\(latest.text)")
        let sha = try #require(latest.object["commit_sha"] as? String)
        #expect(sha.count == 40, "\(latest.text)")
        // The commit id is in the manifest, so a rebuilt catalog resolves it too.
        #expect(warehouse.storedText(ObjectKeys.manifest(user: "alice", model: "tiny", version: "v3")).contains(sha))
        _ = try warehouse.application.service.reindex()
        let bySHA = try warehouse.client.get("/hf/api/models/alice/tiny/revision/\(sha)")
        #expect(bySHA.status == 200 && bySHA.object["sha"] as? String == sha, "\(bySHA.text)")
        // delete_repo left nothing of its repo in the store.
        #expect(!warehouse.storedObjectKeys().contains { $0.contains("/doomed") }, "\(warehouse.storedObjectKeys())")
    }

    @Test func huggingFaceHub036RoundTripsARepo() throws {
        let warehouse = try Self.warehouse()
        try Self.run(["roundtrip", "bob"], client: "hub036", warehouse: warehouse, token: try Self.token(warehouse, user: "bob"))
    }

    @Test func anotherUsersRepoLooksMissingAndABadTokenIs401() throws {
        let warehouse = try Self.warehouse()
        try Self.run(["roundtrip", "alice"], warehouse: warehouse, token: try Self.token(warehouse, user: "alice"))
        try Self.run(["foreign", "alice/tiny"], warehouse: warehouse, token: try Self.token(warehouse, user: "mallory"))
        // Nothing of mallory's attempts was stored.
        #expect(try warehouse.client.get("/ai-models/alice/tiny").object["version"] as? String == "v3")
    }

    @Test func transformersLoadsAConfigAndATokenizer() throws {
        let warehouse = try Self.warehouse()
        try Self.run(["transformers", "carol"], warehouse: warehouse, token: try Self.token(warehouse, user: "carol"))
    }

    /// Above the inline limit a default install would use Xet: it fails at once, naming the
    /// route, and leaves no version.
    @Test func aXetUploadIsRefusedWithAReason() throws {
        let warehouse = try Self.warehouse()
        try Self.run(["xet", "dave"], warehouse: warehouse, token: try Self.token(warehouse, user: "dave"))
        let response = try warehouse.client.get("/hf/api/models/dave/xet/xet-write-token/main")
        #expect(response.status == 501)
        #expect(response.headers["x-error-message"]?.contains("HF_HUB_DISABLE_XET=1") == true, "\(response.headers)")
        #expect(try warehouse.client.get("/ai-models/dave/xet").status == 404)
    }

    /// A 24 MiB file through LFS on S3: the client PUTs its parts to presigned bucket URLs, so
    /// no byte of it passes through the service; the commit checks its SHA-256 and copies it
    /// into the version. Then a download that loses its connection resumes with Range.
    @Test func largeFilesGoThroughLFSStraightToTheBucket() throws {
        let server = try S3TestServer.shared(TestWarehouse.s3Backend ?? .moto)
        let warehouse = try Self.warehouse { TestWarehouse.useS3(server, in: &$0) }
        let token = try Self.token(warehouse, user: "erin")
        let uploaded = try Self.run(["large", "erin", "24"], warehouse: warehouse, token: token, environment: ["HF_HUB_DISABLE_XET": "1"])
        let record = try warehouse.client.get("/ai-models/erin/large")
        let file = (record.object["files"] as? [[String: Any]])?.first
        #expect(file?["file_size"] as? Int == 24 << 20, "\(record.text)")
        #expect(uploaded.contains("sha256 \(file?["file_hash"] as? String ?? "-")"), "\(uploaded) \(record.text)")
        #expect(warehouse.storedObjectKeys().contains("models/erin/large/v1/weights.bin"))
        #expect(!warehouse.storedObjectKeys().contains { $0.hasPrefix(ObjectKeys.hubLargeFiles) }, "the staged upload is gone after the commit")
        let metrics = try warehouse.client.get("/metrics").text
        let throughService = metrics.split(separator: "\n").filter { $0.hasPrefix("warehouse_http_request_bytes_total") && $0.contains("/hf/") }
        #expect(!throughService.contains { line in
            guard let bytes = line.split(separator: " ").last.flatMap({ Int($0) }) else { return false }
            return bytes > 4 << 20
        }, "no request to the service carried the file: \(throughService)")
        let resumed = try Self.run(["resume", "erin/large", "weights.bin", String(warehouse.application.port)], warehouse: warehouse, token: token)
        #expect(resumed.contains("sha256 \(file?["file_hash"] as? String ?? "-")"), "\(resumed)")
    }

    /// With `hf_download_redirect` on S3, `/resolve` GETs send the client to a presigned bucket
    /// URL (the HEAD still answers the metadata itself): the bytes come from the bucket.
    @Test func downloadsCanRedirectToTheBucket() throws {
        let server = try S3TestServer.shared(TestWarehouse.s3Backend ?? .moto)
        let warehouse = try Self.warehouse {
            TestWarehouse.useS3(server, in: &$0)
            $0.hfDownloadRedirect = true
        }
        let weights = (0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 9) }
        let uploaded = try warehouse.uploadSingle([("user_id", "ivy"), ("model_id", "m")], filename: "weights.bin", content: .bytes(weights))
        #expect(uploaded.status == 201 || uploaded.status == 200, "\(uploaded.text)")
        let fetched = try Self.run(["fetch", "ivy/m", "weights.bin"], warehouse: warehouse, token: try Self.token(warehouse, user: "ivy"))
        #expect(fetched.contains("sha256 \(SHA256.hex(of: weights))"), "\(fetched)")
        let sent = try warehouse.client.get("/metrics").text.split(separator: "\n").filter {
            $0.hasPrefix("warehouse_http_response_bytes_total") && $0.contains("resolve")
        }
        #expect(!sent.contains { ($0.split(separator: " ").last.flatMap { Int($0) } ?? 0) >= weights.count }, "\(sent)")
        #expect(!sent.isEmpty, "the metrics name the /resolve route")
    }

    /// The same on the local store: the LFS PUT comes to a URL the service signed, is hashed
    /// as it arrives, and a PUT of other bytes is refused.
    @Test func largeFilesThroughLFSOnALocalStore() throws {
        let warehouse = try Self.warehouse()
        let token = try Self.token(warehouse, user: "frank")
        try Self.run(["large", "frank", "3"], warehouse: warehouse, token: token, environment: ["HF_HUB_DISABLE_XET": "1"])
        #expect(try warehouse.client.get("/ai-models/frank/large").object["version"] as? String == "v1")
        // A ticket that was not signed here is refused before any byte is kept.
        let forged = try warehouse.client.request("PUT", "/hf/lfs/upload/Zm9v.0000", body: Array("x".utf8))
        #expect(forged.status == 401, "\(forged.text)")
        // A commit naming an object nobody uploaded creates nothing.
        let line = #"{"key":"lfsFile","value":{"path":"w.bin","algo":"sha256","oid":"\#(String(repeating: "ab", count: 32))","size":5}}"#
        let commit = try TestClient(port: warehouse.application.port, token: token)
            .request("POST", "/hf/api/models/frank/large/commit/main", headers: [("Content-Type", "application/x-ndjson")],
                     body: Array((#"{"key":"header","value":{"summary":"x"}}"# + "\n" + line + "\n").utf8))
        #expect(commit.status == 400, "\(commit.text)")
        #expect(try warehouse.client.get("/ai-models/frank/large").object["version"] as? String == "v1")
    }

    /// An LFS upload of other bytes than its oid names is refused and leaves nothing: locally
    /// at the PUT (hashed as it arrives), on S3 at the verify call (the object is read back and
    /// removed), and a commit naming it creates no version. The right bytes then commit.
    @Test(arguments: ["local", "s3"])
    func wrongBytesForAnLFSObjectAreRefusedAndRemoved(_ backend: String) throws {
        let warehouse = try Self.warehouse {
            if backend == "s3", let server = try? S3TestServer.shared(TestWarehouse.s3Backend ?? .moto) { TestWarehouse.useS3(server, in: &$0) }
        }
        let token = try Self.token(warehouse, user: "kim")
        let client = TestClient(port: warehouse.application.port, token: token)
        #expect(try client.request("POST", "/hf/api/repos/create", body: Array(#"{"name": "lfs"}"#.utf8)).status == 200)
        let right = Array("hello".utf8)
        let oid = SHA256.hex(of: right)
        let batch = try client.request("POST", "/hf/kim/lfs.git/info/lfs/objects/batch",
                                       body: Array(#"{"operation":"upload","transfers":["basic","multipart"],"objects":[{"oid":"\#(oid)","size":5}],"hash_algo":"sha256"}"#.utf8))
        #expect(batch.status == 200, "\(batch.text)")
        let actions = ((batch.object["objects"] as? [[String: Any]])?.first?["actions"] as? [String: Any])
        let href = try #require((actions?["upload"] as? [String: Any])?["href"] as? String, "\(batch.text)")
        func put(_ bytes: [UInt8]) throws -> String {
            let body = warehouse.directory.path + "/lfs-body"
            try Data(bytes).write(to: URL(fileURLWithPath: body))
            return try TestProcess.run("curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "-T", body, href]).stdout
        }
        func verify() throws -> TestResponse {
            try client.request("POST", "/hf/kim/lfs.git/info/lfs/verify", body: Array(#"{"oid":"\#(oid)","size":5}"#.utf8))
        }
        func commit() throws -> TestResponse {
            let line = #"{"key":"lfsFile","value":{"path":"w.bin","algo":"sha256","oid":"\#(oid)","size":5}}"#
            return try client.request("POST", "/hf/api/models/kim/lfs/commit/main", headers: [("Content-Type", "application/x-ndjson")],
                                      body: Array((#"{"key":"header","value":{"summary":"x"}}"# + "\n" + line + "\n").utf8))
        }
        func staged() -> [String] { warehouse.storedObjectKeys().filter { $0.hasPrefix(ObjectKeys.hubLargeFiles) } }
        // The default warehouse is on S3 too when the run names a bucket (the S3 phase).
        if href.contains("/hf/lfs/upload/") {
            #expect(try put(Array("world".utf8)) == "400", "other bytes of the same size")
            #expect(try put(Array("hello!".utf8)) == "400", "more bytes than announced")
        } else {
            #expect(backend == "s3" || TestWarehouse.s3Backend != nil)
            #expect(try put(Array("world".utf8)) == "200", "the bucket takes any bytes")
            let refused = try verify()
            #expect(refused.status == 400 && refused.detail?.contains("other bytes") == true, "\(refused.text)")
        }
        #expect(staged().isEmpty, "\(staged())")
        #expect(try commit().status == 400)
        #expect(try client.get("/hf/api/models/kim/lfs/commits/main").json as? [Any] != nil)
        #expect(try warehouse.client.get("/ai-models/kim/lfs").status == 404, "no version was made")
        #expect(try put(right) == "200")
        #expect(try verify().status == 200)
        let committed = try commit()
        #expect(committed.status == 200, "\(committed.text)")
        #expect(try warehouse.client.get("/ai-models/kim/lfs/download?filename=w.bin").body == right)
        #expect(staged().isEmpty, "the commit removed the upload and its check: \(staged())")
    }

    /// What a client sees of errors without the client: codes in headers, HEAD included.
    @Test func errorsCarryTheClientsErrorCodes() throws {
        let warehouse = try Self.warehouse()
        let token = try Self.token(warehouse, user: "gail")
        let client = TestClient(port: warehouse.application.port, token: token)
        let missing = try client.request("HEAD", "/hf/gail/none/resolve/main/config.json")
        #expect(missing.status == 404 && missing.headers["x-error-code"] == "RepoNotFound", "\(missing.headers)")
        let anonymous = try TestClient(port: warehouse.application.port).request("HEAD", "/hf/gail/none/resolve/main/config.json")
        #expect(anonymous.status == 401 && anonymous.headers["x-error-code"] == "RepoNotFound", "\(anonymous.headers)")
        let bad = try TestClient(port: warehouse.application.port, token: "nope").get("/hf/api/models/gail/none")
        #expect(bad.status == 401 && bad.headers["x-error-code"] == nil, "\(bad.headers)")
        #expect(bad.headers["x-error-message"] == "Invalid credentials in Authorization header")
        let created = try client.request("POST", "/hf/api/repos/create", body: Array(#"{"name": "empty"}"#.utf8))
        #expect(created.status == 200, "\(created.text)")
        let info = try client.get("/hf/api/models/gail/empty/revision/main")
        #expect((info.object["sha"] as? String)?.count == 40, "\(info.text)")
        let file = try client.request("HEAD", "/hf/gail/empty/resolve/main/config.json")
        #expect(file.status == 404 && file.headers["x-error-code"] == "EntryNotFound" && file.headers["x-repo-commit"] == info.object["sha"] as? String)
        let revision = try client.get("/hf/api/models/gail/empty/revision/v7")
        #expect(revision.status == 404 && revision.headers["x-error-code"] == "RevisionNotFound")
        let toVersion = try client.request("POST", "/hf/api/models/gail/empty/commit/v1", body: Array("{}".utf8))
        #expect(toVersion.status == 404 || toVersion.status == 403, "\(toVersion.text)")
        // A model created before its versions survives a reindex (its manifest is in the store).
        #expect(warehouse.storedObjectKeys().contains(ObjectKeys.modelManifest(user: "gail", model: "empty")))
    }

    /// LFS uploads no commit took are removed by gc once older than a session's lifetime; a
    /// young one (its client may still commit) stays. A model created before its versions
    /// comes back from its manifest when the catalog is rebuilt, and gc keeps that manifest.
    @Test func gcRemovesOldLargeFileUploadsAndReindexKeepsEmptyRepos() throws {
        let warehouse = try Self.warehouse { $0.uploadSessionLifetimeSeconds = 3600 }
        let now = Int64(Date().timeIntervalSince1970)
        let digest = String(repeating: "c", count: 64)
        let old = ObjectKeys.hubLargeFile(user: "hal", model: "m", sha256: digest, created: now - 7200)
        let young = ObjectKeys.hubLargeFile(user: "hal", model: "m", sha256: digest, created: now - 60)
        try warehouse.store.putData(key: old, data: Array("old".utf8))
        try warehouse.store.putData(key: young, data: Array("young".utf8))
        let client = TestClient(port: warehouse.application.port, token: try Self.token(warehouse, user: "hal"))
        #expect(try client.request("POST", "/hf/api/repos/create", body: Array(#"{"name": "empty"}"#.utf8)).status == 200)
        let report = try warehouse.application.uploadSessions.collectGarbage(dryRun: false)
        #expect(report.abandonedUploads.contains("removed \(old)"), "\(report)")
        #expect(!report.orphanManifests.contains(ObjectKeys.modelManifest(user: "hal", model: "empty")), "\(report)")
        let keys = warehouse.storedObjectKeys()
        #expect(!keys.contains(old) && keys.contains(young) && keys.contains(ObjectKeys.modelManifest(user: "hal", model: "empty")))
        // The catalog forgets the repo; a reindex brings it back from the bucket.
        try warehouse.application.service.catalog.unregisterModel(user: "hal", model: "empty")
        #expect(try client.get("/hf/api/models/hal/empty").status == 404)
        let reindexed = try warehouse.application.service.reindex()
        #expect(reindexed.imported.contains("hal/empty (no version yet)"), "\(reindexed)")
        #expect(try client.get("/hf/api/models/hal/empty").status == 200)
        // Deleting the repo removes its manifest too.
        let deleted = try client.request("DELETE", "/hf/api/repos/delete", body: Array(#"{"name": "empty", "organization": "hal"}"#.utf8))
        #expect(deleted.status == 200, "\(deleted.text)")
        #expect(!warehouse.storedObjectKeys().contains(ObjectKeys.modelManifest(user: "hal", model: "empty")))
    }

    /// Replicas on one bucket: a repo created on one is seen by the others (and created once
    /// when two race), a Hub commit's sha resolves everywhere, and a delete_repo on another
    /// replica removes it from all.
    @Test func replicasShareReposAndCommits() throws {
        let replicas = try Replicas(count: 2)
        defer { replicas.stop() }
        let statuses = Mutex<[Int]>([])
        DispatchQueue.concurrentPerform(iterations: 2) { index in
            let status = (try? replicas[index].client.request("POST", "/hf/api/repos/create",
                                                              body: Array(#"{"name": "shared", "organization": "u"}"#.utf8)).status) ?? -1
            statuses.withLock { $0.append(status) }
        }
        #expect(statuses.withLock { $0.sorted() } == [200, 409], "\(statuses.withLock { $0 })")
        let empty = try replicas[0].client.get("/hf/api/models/u/shared")
        #expect(empty.status == 200, "\(empty.text)")
        #expect(try Replicas.eventually { try replicas[1].client.get("/hf/api/models/u/shared").object["sha"] as? String == empty.object["sha"] as? String } != nil)

        let body = #"{"key":"header","value":{"summary":"first"}}"# + "\n"
            + #"{"key":"file","value":{"content":"aGVsbG8K","path":"hello.txt","encoding":"base64"}}"# + "\n"
        let commit = try replicas[1].client.request("POST", "/hf/api/models/u/shared/commit/main",
                                                    headers: [("Content-Type", "application/x-ndjson")], body: Array(body.utf8))
        #expect(commit.status == 200, "\(commit.text)")
        let sha = try #require(commit.object["commitOid"] as? String)
        #expect(try Replicas.eventually {
            let info = try replicas[0].client.get("/hf/api/models/u/shared/revision/\(sha)")
            return info.status == 200 && info.object["sha"] as? String == sha
        } != nil, "the other replica resolves the new commit")

        let deleted = try replicas[0].client.request("DELETE", "/hf/api/repos/delete", body: Array(#"{"name": "shared", "organization": "u"}"#.utf8))
        #expect(deleted.status == 200, "\(deleted.text)")
        #expect(try Replicas.eventually { try replicas[1].client.get("/hf/api/models/u/shared").status == 404 } != nil)
        let left = replicas[0].storedObjectKeys().filter { !$0.hasPrefix("replication/") && $0.contains("/shared") }
        #expect(left.isEmpty, "only the change log names it: \(left)")
    }
}
