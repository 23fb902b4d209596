import Foundation
import Testing
import WarehouseTesting
#if canImport(Glibc)
import Glibc
#endif

/// The client verbs (push, pull, ls, search, train, predict), run as the built binary against
/// a running server, with the exit codes scripts rely on.
@Suite(.serialized) struct ClientCommandTests {
    static func run(_ arguments: [String], server: TestWarehouse?, token: String? = TestWarehouse.adminToken,
                    directory: String? = nil) throws -> TestProcess.Result {
        var environment = ["WAREHOUSE_URL": server.map { "http://127.0.0.1:\($0.client.port)" } ?? "http://127.0.0.1:1"]
        environment["WAREHOUSE_TOKEN"] = token ?? ""
        return try TestProcess.run(ServeCommandTests.binary, arguments, environment: environment, directory: directory)
    }

    @Test func pushPullListAndSearch() throws {
        let warehouse = try TestWarehouse()
        let work = try TemporaryDirectory()
        let weights = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try Data(weights).write(to: URL(fileURLWithPath: work.path + "/weights.bin"))
        try FileManager.default.createDirectory(atPath: work.path + "/bert/sub", withIntermediateDirectories: true)
        try Data("{\"model_type\": \"bert\"}".utf8).write(to: URL(fileURLWithPath: work.path + "/bert/config.json"))
        try Data(weights.prefix(5000)).write(to: URL(fileURLWithPath: work.path + "/bert/sub/part.bin"))

        let file = try Self.run(["push", "weights.bin", "--user", "alice", "--model", "plain", "--tag", "prod", "--tag", "demo"],
                                server: warehouse, directory: work.path)
        #expect(file.status == 0, "\(file.stderr)")
        #expect(file.stdout.contains("alice/plain@v1"))
        #expect(file.stderr.contains("uploading weights.bin 300.0 KB"), "\(file.stderr)")  // a plain line, not a terminal bar
        let folder = try Self.run(["push", "bert", "--user", "alice", "--model", "bert-base", "--json"], server: warehouse, directory: work.path)
        #expect(folder.status == 0, "\(folder.stderr)")
        let record = try #require(try JSONSerialization.jsonObject(with: Data(folder.stdout.utf8)) as? [String: Any])
        #expect(Set(((record["files"] as? [[String: Any]]) ?? []).compactMap { $0["file_path"] as? String }) == ["config.json", "sub/part.bin"])

        let list = try Self.run(["ls", "alice"], server: warehouse)
        #expect(list.status == 0 && list.stdout.contains("plain") && list.stdout.contains("bert-base") && list.stdout.contains("prod,demo"))
        let search = try Self.run(["search", "alice", "bert", "--json"], server: warehouse)
        let hits = try #require(try JSONSerialization.jsonObject(with: Data(search.stdout.utf8)) as? [[String: Any]])
        #expect(hits.map { $0["model_id"] as? String } == ["bert-base"])
        let filtered = try Self.run(["ls", "alice", "--filter", "model_id LIKE 'b%' OR tags = 'nothing'", "--order-by", "created_at desc",
                                     "--json"], server: warehouse)
        #expect(filtered.status == 0, "\(filtered.stderr)")
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(filtered.stdout.utf8)) as? [[String: Any]])
        #expect(rows.map { $0["model_id"] as? String } == ["bert-base"])
        #expect(try Self.run(["ls", "alice", "--filter", "model_id = "], server: warehouse).status == 2)

        // Pull a whole version into a folder, by alias; and one file.
        #expect(try warehouse.client.put("/ai-models/alice/bert-base/aliases/production", json: #"{"version": "v1"}"#).status == 200)
        let pulled = try Self.run(["pull", "alice/bert-base@production", "-o", "copy"], server: warehouse, directory: work.path)
        #expect(pulled.status == 0, "\(pulled.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: work.path + "/copy/sub/part.bin")) == Data(weights.prefix(5000)))
        #expect(FileManager.default.fileExists(atPath: work.path + "/copy/config.json"))
        let one = try Self.run(["pull", "alice/plain@v1", "--file", "weights.bin", "-o", "one"], server: warehouse, directory: work.path)
        #expect(one.status == 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: work.path + "/one/weights.bin")) == Data(weights))

        // Exit codes: refused (4xx) 2, unreachable 1, usage 64.
        let missing = try Self.run(["pull", "alice/nothing", "-o", "x"], server: warehouse, directory: work.path)
        #expect(missing.status == 2 && missing.stderr.contains("not found"))
        #expect(try Self.run(["ls", "alice"], server: warehouse, token: "wrong").status == 2)
        #expect(try Self.run(["ls", "alice"], server: nil).status == 1)
        #expect(try Self.run(["pull"], server: warehouse).status == 64)
        #expect(try Self.run(["push", "nowhere.bin", "--user", "alice", "--model", "m"], server: warehouse).status == 64)
        #expect(!FileManager.default.fileExists(atPath: work.path + "/x/.partial"))
    }

    @Test func trainFollowsTheJobAndPredictPrintsCSV() throws {
        let warehouse = try TestWarehouse()
        let work = try TemporaryDirectory()
        let iris = SharedDatasetFiles.path("iris")
        let train = try Self.run(["train", "alice", iris, "--time-limit", "3"], server: warehouse)
        #expect(train.status == 0, "\(train.stderr)")
        #expect(train.stdout.contains("trained alice/iris-automl@v1"), "\(train.stdout)")
        #expect(train.stdout.contains("leaderboard:") && train.stdout.contains("LinearModel"))
        #expect(train.stderr.contains("LinearModel: validation"), "\(train.stderr)")  // candidates as they are scored

        let rows = try String(contentsOfFile: iris, encoding: .utf8).split(separator: "\n").prefix(6).joined(separator: "\n") + "\n"
        try rows.write(toFile: work.path + "/rows.csv", atomically: true, encoding: .utf8)
        let predict = try Self.run(["predict", "alice/iris-automl@production", "rows.csv"], server: warehouse, directory: work.path)
        #expect(predict.status == 0, "\(predict.stderr)")
        let lines = predict.stdout.split(separator: "\n")
        #expect(lines.first == "prediction_id,prediction,p(setosa),p(versicolor),p(virginica)")
        #expect(lines.count == 6 && lines.dropFirst().allSatisfy { $0.hasPrefix("pred_") && $0.contains(",setosa,") })
        let json = try Self.run(["predict", "alice/iris-automl", "rows.csv", "--json"], server: warehouse, directory: work.path)
        let answer = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect((answer["prediction_ids"] as? [String])?.count == 5)
        // A dataset the server refuses exits 2 with the server's reason.
        try "a,b\n1,x\n2,x\n".write(toFile: work.path + "/one-class.csv", atomically: true, encoding: .utf8)
        let refused = try Self.run(["train", "alice", "one-class.csv", "--target", "b"], server: warehouse, directory: work.path)
        #expect(refused.status == 2 && refused.stderr.contains("at least 2"), "\(refused.status) \(refused.stderr)")

        // Training options go to the job, and the version records them.
        let titanic = SharedDatasetFiles.path("titanic")
        let options = try Self.run(["train", "alice", titanic, "--time-limit", "10", "--preset", "fast", "--algorithms", "gbdt,linear",
                                    "--exclude", "embarked", "--validation", "cv:3", "--seed", "5", "--model-id", "titanic-cli", "--json"],
                                   server: warehouse)
        #expect(options.status == 0, "\(options.stderr)")
        let job = try #require(try JSONSerialization.jsonObject(with: Data(options.stdout.utf8)) as? [String: Any])
        let resolved = try #require((job["result"] as? [String: Any])?["training_options"] as? [String: Any])
        #expect(resolved["preset"] as? String == "fast")
        #expect(resolved["algorithms"] as? [String] == ["linear", "gbdt"])
        #expect(resolved["exclude_columns"] as? [String] == ["embarked"])
        #expect(resolved["seed"] as? Int == 5)
        #expect((resolved["validation"] as? [String: Any])?["folds"] as? Int == 3)
        let record = try warehouse.client.get("/ai-models/alice/titanic-cli").object
        #expect(((record["custom_metadata"] as? [String: Any])?["training_options"] as? [String: Any])?["preset"] as? String == "fast")
        // A bad option is the server's 400, and nothing trains.
        let bad = try Self.run(["train", "alice", titanic, "--algorithms", "svm", "--model-id", "never"], server: warehouse)
        #expect(bad.status == 2 && bad.stderr.contains("valid algorithms"), "\(bad.status) \(bad.stderr)")
        #expect(try warehouse.client.get("/ai-models/alice/never").status == 404)
        #expect(try Self.run(["train", "alice", titanic, "--validation", "loo"], server: warehouse).status == 64)
    }

    /// Bytes the server received on the part route (from /metrics).
    static func partBytes(_ warehouse: TestWarehouse) throws -> Int {
        let line = try warehouse.client.get("/metrics").text.split(separator: "\n").first {
            $0.hasPrefix("warehouse_http_request_bytes_total{method=\"PUT\",route=\"/ai-models/upload/sessions/{session_id}/parts/{part_number}\"}")
        }
        return line.flatMap { $0.split(separator: " ").last }.flatMap { Int($0) } ?? 0
    }

    /// A push killed at 60% resumes where it stopped: the second run sends only the parts the
    /// server lacks (counted by the server), and the version is byte-exact; pull then fetches
    /// it in parallel ranges and checks its SHA-256.
    @Test func aKilledPushResumesWithTheMissingPartsOnly() throws {
        let warehouse = try TestWarehouse()
        let work = try TemporaryDirectory()
        let size = 120 << 20
        let weights = (0..<size).map { UInt8(truncatingIfNeeded: ($0 >> 12) &* 2_654_435_761 &+ $0) }
        try Data(weights).write(to: URL(fileURLWithPath: work.path + "/big.bin"))
        let state = work.path + "/push-state.json"
        // A bare file name: the state file goes in the working directory.
        let arguments = ["push", "big.bin", "--user", "alice", "--model", "big", "--part-size", "5M", "--parallel", "2",
                         "--state-file", "push-state.json"]

        let first = Process()
        first.executableURL = URL(fileURLWithPath: ServeCommandTests.binary)
        first.arguments = arguments
        first.currentDirectoryURL = URL(fileURLWithPath: work.path)
        first.environment = ProcessInfo.processInfo.environment.merging([
            "WAREHOUSE_URL": "http://127.0.0.1:\(warehouse.client.port)", "WAREHOUSE_TOKEN": TestWarehouse.adminToken]) { $1 }
        first.standardOutput = FileHandle.nullDevice
        first.standardError = FileHandle.nullDevice
        try first.run()
        var session = ""
        var received = 0
        let deadline = Date().addingTimeInterval(60)
        while first.isRunning, Date() < deadline {
            if session.isEmpty, let data = FileManager.default.contents(atPath: state),
               let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] {
                session = object["session_id"] as? String ?? ""
            }
            if !session.isEmpty {
                let files = try warehouse.client.get("/ai-models/upload/sessions/\(session)").object["files"] as? [[String: Any]]
                received = files?.first?["received_parts"].flatMap { ($0 as? [Int])?.count } ?? 0
                if received >= 14 { break }   // 14 of 24 parts: 60%
            }
            usleep(2_000)
        }
        kill(first.processIdentifier, SIGKILL)
        first.waitUntilExit()
        try #require(!session.isEmpty && received >= 14 && received < 24, "the push was caught mid-way (\(received) of 24 parts)")
        usleep(500_000)   // the server finishes the cut requests

        let status = try warehouse.client.get("/ai-models/upload/sessions/\(session)").object
        let missing = (status["files"] as? [[String: Any]])?.first?["missing_parts"] as? [Int] ?? []
        #expect(!missing.isEmpty)
        let missingBytes = missing.reduce(0) { $0 + min(5 << 20, size - ($1 - 1) * (5 << 20)) }
        let before = try Self.partBytes(warehouse)
        let second = try Self.run(arguments, server: warehouse, directory: work.path)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stderr.contains("resuming upload session \(session)"), "\(second.stderr)")
        #expect(second.stdout.contains("alice/big@v1"), "\(second.stdout)")
        let resent = try Self.partBytes(warehouse) - before
        #expect(resent == missingBytes, "the second push sent \(resent) bytes; \(missingBytes) were missing")
        #expect(!FileManager.default.fileExists(atPath: state), "a finished push forgets its session")

        let pulled = try Self.run(["pull", "alice/big", "-o", "copy", "--parallel", "3"], server: warehouse, directory: work.path)
        #expect(pulled.status == 0, "\(pulled.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: work.path + "/copy/big.bin")) == Data(weights))

        // Bytes changed in place with the timestamp put back get past the server's drift
        // check (same size, inode and mtime); pull's SHA-256 check refuses them.
        let object = warehouse.dataDirectory + "/objects/models/alice/big/v1/big.bin"
        let reference = work.path + "/mtime-reference"
        #expect(try TestProcess.run("cp", ["-p", object, reference]).status == 0)
        #expect(try TestProcess.run("dd", ["if=/dev/zero", "of=" + object, "bs=1", "count=16", "seek=70000000", "conv=notrunc"]).status == 0)
        #expect(try TestProcess.run("touch", ["-r", reference, object]).status == 0)
        let corrupt = try Self.run(["pull", "alice/big", "-o", "corrupt"], server: warehouse, directory: work.path)
        #expect(corrupt.status == 1, "\(corrupt.stderr)")
        #expect(corrupt.stderr.contains("SHA-256") && corrupt.stderr.contains("removed"), "\(corrupt.stderr)")
        #expect(!FileManager.default.fileExists(atPath: work.path + "/corrupt/big.bin"))
        #expect(!FileManager.default.fileExists(atPath: work.path + "/corrupt/big.bin.partial"))
    }

    /// `push --presigned` on an S3 store: every part goes to the bucket through its presigned
    /// URL (the service's part route receives nothing), and the version is byte-exact. On a
    /// local store the server refuses the session and push exits 2 with its reason.
    @Test func aPresignedPushSendsItsPartsToTheBucket() throws {
        let server = try S3TestServer.shared(TestWarehouse.s3Backend ?? .moto)
        let warehouse = try TestWarehouse { TestWarehouse.useS3(server, in: &$0) }
        let work = try TemporaryDirectory()
        let weights = (0..<(12 << 20)).map { UInt8(truncatingIfNeeded: ($0 >> 10) &* 2_654_435_761 &+ $0) }
        try Data(weights).write(to: URL(fileURLWithPath: work.path + "/direct.bin"))
        let arguments = ["push", "direct.bin", "--user", "alice", "--model", "direct", "--part-size", "5M", "--presigned",
                         "--state-file", "direct.state"]
        let pushed = try Self.run(arguments, server: warehouse, directory: work.path)
        #expect(pushed.status == 0, "\(pushed.stderr)")
        #expect(pushed.stdout.contains("alice/direct@v1"), "\(pushed.stdout)")
        #expect(try Self.partBytes(warehouse) == 0, "no part came through the service")
        #expect(try warehouse.client.get("/ai-models/alice/direct/download?filename=direct.bin").body == weights)

        let local = try TestWarehouse { $0.storage = .filesystem }
        let refused = try Self.run(arguments, server: local, directory: work.path)
        #expect(refused.status == 2, "\(refused.status) \(refused.stderr)")
        #expect(refused.stderr.contains("need an S3 store"), "\(refused.stderr)")
    }
}
