import Foundation
import Testing
import WarehouseCrypto
import WarehouseTesting

/// Resumable upload sessions (issue 18), on whichever store WAREHOUSE_TEST_STORAGE names:
/// parts in any order, resumption from the session's own account of what arrived, every
/// refusal changing nothing, and nothing left behind by aborted, expired or failed sessions.
@Suite struct UploadSessionTests {
    static let partSize = 5 << 20

    /// Deterministic bytes that differ from part to part.
    static func bytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        return (0..<count).map { _ in
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return UInt8(truncatingIfNeeded: state)
        }
    }

    static func json(_ body: [String: Any]) throws -> [UInt8] { Array(try JSONSerialization.data(withJSONObject: body)) }

    static func open(_ client: TestClient, _ body: [String: Any]) throws -> TestResponse {
        try client.request("POST", "/ai-models/upload/sessions", headers: [("Content-Type", "application/json")], body: json(body))
    }

    static func put(_ client: TestClient, _ session: String, file: String, part: Int, _ bytes: ArraySlice<UInt8>,
                    sha256: String? = nil) throws -> TestResponse {
        let digest = sha256 ?? SHA256.hex(of: bytes)
        let escaped = file.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed.subtracting(["&", "=", "+"])) ?? file
        return try client.request("PUT", "/ai-models/upload/sessions/\(session)/parts/\(part)?file=\(escaped)",
                                  headers: [("X-Part-SHA256", digest)], body: Array(bytes))
    }

    static func part(_ bytes: [UInt8], _ number: Int) -> ArraySlice<UInt8> {
        bytes[((number - 1) * partSize)..<min(bytes.count, number * partSize)]
    }

    /// Objects of `user/model` in the store, and parted uploads nobody finished.
    static func leftovers(_ warehouse: TestWarehouse, model: String) throws -> [String] {
        warehouse.storedObjectKeys().filter { $0.contains("/\(model)/") || $0.contains("/\(model).json") }
            + (try warehouse.store.pendingPartedUploads()).map(\.uploadID)
    }

    @Test func partsArriveInAnyOrderAndTheSessionSaysWhatIsMissing() throws {
        let warehouse = try TestWarehouse()
        let client = warehouse.client
        let weights = Self.bytes(2 * Self.partSize + 123_457, seed: 1)
        let config = Array(#"{"architectures": ["BertModel"], "model_type": "bert"}"#.utf8)
        let created = try Self.open(client, [
            "user_id": "u", "model_id": "big", "tags": ["large", "resumable"], "description": "sent in parts",
            "custom_metadata": ["team": "nlp"], "part_size": Self.partSize,
            "files": [["path": "weights/model.bin", "size": weights.count, "sha256": SHA256.hex(of: weights)],
                      ["path": "config.json", "size": config.count]],
        ])
        #expect(created.status == 201, "\(created.text)")
        let session = try #require(created.object["session_id"] as? String)
        #expect(created.object["version"] as? String == "v1")
        #expect(created.object["state"] as? String == "open")
        let files = created.object["files"] as? [[String: Any]] ?? []
        #expect(files.map { $0["part_count"] as? Int } == [3, 1])
        // The version is reserved, not visible.
        #expect(try client.get("/ai-models/u/big").status == 404)

        for number in [3, 1] {
            let sent = try Self.put(client, session, file: "weights/model.bin", part: number, Self.part(weights, number))
            #expect(sent.status == 200, "\(sent.text)")
            #expect(sent.object["part_number"] as? Int == number)
        }
        #expect(try Self.put(client, session, file: "config.json", part: 1, config[...]).status == 200)
        let status = try client.get("/ai-models/upload/sessions/\(session)").object
        let weightsStatus = (status["files"] as? [[String: Any]])?.first { $0["path"] as? String == "weights/model.bin" }
        #expect(weightsStatus?["received_parts"] as? [Int] == [1, 3])
        #expect(weightsStatus?["missing_parts"] as? [Int] == [2])

        let early = try client.request("POST", "/ai-models/upload/sessions/\(session)/complete")
        #expect(early.status == 409)
        #expect(early.detail?.contains("'weights/model.bin' 2") == true, "\(early.text)")
        #expect(try client.get("/ai-models/u/big").status == 404)

        #expect(try Self.put(client, session, file: "weights/model.bin", part: 2, Self.part(weights, 2)).status == 200)
        let completed = try client.request("POST", "/ai-models/upload/sessions/\(session)/complete")
        #expect(completed.status == 200, "\(completed.text)")
        let record = completed.object
        #expect(record["version"] as? String == "v1")
        #expect(record["primary_file_path"] as? String == "weights/model.bin")
        #expect(record["tags"] as? [String] == ["large", "resumable"])
        #expect((record["custom_metadata"] as? [String: Any])?["team"] as? String == "nlp")
        let stored = (record["files"] as? [[String: Any]] ?? []).map { ($0["file_path"] as? String ?? "", $0["file_hash"] as? String ?? "") }
        #expect(stored.map(\.0) == ["config.json", "weights/model.bin"])
        #expect(stored.map(\.1) == [SHA256.hex(of: config), SHA256.hex(of: weights)])
        #expect(try client.get("/ai-models/u/big/download?filename=weights/model.bin").body == weights)
        #expect(try client.get("/ai-models/u/big/download?filename=config.json").body == config)
        #expect(try client.get("/ai-models/upload/sessions/\(session)").object["state"] as? String == "completed")
        #expect(try warehouse.store.pendingPartedUploads().isEmpty)

        // Each part's bytes travelled once (plus the resent nothing): the server counts them.
        let metrics = try client.get("/metrics").text
        let line = metrics.split(separator: "\n").first {
            $0.hasPrefix("warehouse_http_request_bytes_total{method=\"PUT\",route=\"/ai-models/upload/sessions/{session_id}/parts/{part_number}\"}")
        }
        #expect(line?.split(separator: " ").last.flatMap { Int($0) } == weights.count + config.count, "\(line ?? "no metric")")
    }

    @Test func badPartsAreRefusedAndChangeNothing() throws {
        let warehouse = try TestWarehouse()
        let client = warehouse.client
        let weights = Self.bytes(Self.partSize + 1000, seed: 2)
        let session = try #require(try Self.open(client, [
            "user_id": "u", "model_id": "m", "part_size": Self.partSize,
            "files": [["path": "model.bin", "size": weights.count, "sha256": SHA256.hex(of: weights)]],
        ]).object["session_id"] as? String)
        func refused(_ response: TestResponse, _ status: Int, _ words: String) {
            #expect(response.status == status, "\(response.text)")
            #expect(response.detail?.contains(words) == true, "\(response.text)")
        }
        refused(try Self.put(client, session, file: "model.bin", part: 3, weights[0..<10]), 400, "parts 1 to 2")
        refused(try Self.put(client, session, file: "model.bin", part: 1, weights[0..<10]), 400, "this request announces 10")
        refused(try Self.put(client, session, file: "other.bin", part: 1, weights[0..<10]), 404, "not part of upload session")
        refused(try client.request("PUT", "/ai-models/upload/sessions/\(session)/parts/1?file=model.bin",
                                   body: Array(Self.part(weights, 1))), 400, "X-Part-SHA256")
        refused(try client.request("PUT", "/ai-models/upload/sessions/us_nope/parts/1", headers: [("X-Part-SHA256", String(repeating: "0", count: 64))],
                                   body: [1]), 404, "not found")
        // A part whose bytes are not what its checksum says: refused, and the session stays usable.
        var corrupted = Array(Self.part(weights, 1))
        corrupted[4242] ^= 0xFF
        refused(try Self.put(client, session, file: "model.bin", part: 1, corrupted[...], sha256: SHA256.hex(of: Self.part(weights, 1))),
                400, "the part is refused")
        #expect((try client.get("/ai-models/upload/sessions/\(session)").object["files"] as? [[String: Any]])?.first?["received_parts"] as? [Int] == [])
        // rclone serve s3 cannot replace a part it began to stream: there the file starts over
        // (said in the detail), and the part sent again is then taken.
        let resent = try Self.put(client, session, file: "model.bin", part: 1, Self.part(weights, 1))
        if TestWarehouse.s3Backend == .rclone {
            refused(resent, 409, "starts over")
            #expect(try Self.put(client, session, file: "model.bin", part: 1, Self.part(weights, 1)).status == 200)
        } else {
            #expect(resent.status == 200, "\(resent.text)")
            // A good part resent with bad bytes loses the good copy (its bytes were overwritten) and says so.
            refused(try Self.put(client, session, file: "model.bin", part: 1, corrupted[...], sha256: SHA256.hex(of: Self.part(weights, 1))),
                    400, "send it again")
            #expect(try Self.put(client, session, file: "model.bin", part: 1, Self.part(weights, 1)).status == 200)
        }

        // Another user's session is not theirs to see, feed, complete or abort.
        let token = try client.request("POST", "/auth/tokens", headers: [("Content-Type", "application/json")],
                                       body: Array(#"{"user_id": "mallory"}"#.utf8)).object["token"] as? String
        let mallory = client.with(token: try #require(token))
        #expect(try mallory.get("/ai-models/upload/sessions/\(session)").status == 403)
        #expect(try Self.put(mallory, session, file: "model.bin", part: 2, Self.part(weights, 2)).status == 403)
        #expect(try mallory.request("POST", "/ai-models/upload/sessions/\(session)/complete").status == 403)
        #expect(try mallory.delete("/ai-models/upload/sessions/\(session)").status == 403)
        #expect(try Self.open(mallory, ["user_id": "u", "model_id": "x", "files": [["path": "a", "size": 1]]]).status == 403)

        refused(try Self.open(client, ["user_id": "u", "model_id": "m", "files": []]), 400, "files")
        refused(try Self.open(client, ["user_id": "u", "model_id": "m", "files": [["path": "../x", "size": 1]]]), 400, "path traversal")
        refused(try Self.open(client, ["user_id": "u", "model_id": "m", "part_size": 1000, "files": [["path": "a", "size": 1]]]), 400, "part_size")
        refused(try Self.open(client, ["user_id": "u", "model_id": "m", "colour": "red", "files": [["path": "a", "size": 1]]]), 400, "colour")
        if TestWarehouse.s3Backend == nil {
            refused(try Self.open(client, ["user_id": "u", "model_id": "m", "presigned": true, "files": [["path": "a", "size": 1]]]),
                    400, "presigned part URLs need an S3 store")
        }

        #expect(try Self.put(client, session, file: "model.bin", part: 2, Self.part(weights, 2)).status == 200)
        #expect(try client.request("POST", "/ai-models/upload/sessions/\(session)/complete").status == 200)
        refused(try client.request("POST", "/ai-models/upload/sessions/\(session)/complete"), 409, "already completed as u/m v1")
        refused(try client.delete("/ai-models/upload/sessions/\(session)"), 409, "already completed")
        refused(try Self.put(client, session, file: "model.bin", part: 2, Self.part(weights, 2)), 409, "already completed")
        #expect(try client.get("/ai-models/u/m/download?filename=model.bin").body == weights)
        // The session's version now exists: a second session for it is a conflict, reserving nothing.
        refused(try Self.open(client, ["user_id": "u", "model_id": "m", "version": "v1", "files": [["path": "a", "size": 1]]]),
                409, "already exists")
        #expect(try warehouse.store.pendingPartedUploads().isEmpty)
    }

    @Test func abortedExpiredAndFailedSessionsLeaveNothing() throws {
        let warehouse = try TestWarehouse()
        let client = warehouse.client
        let weights = Self.bytes(Self.partSize + 77, seed: 3)
        func open(_ model: String, _ extra: [String: Any] = [:], sha256: String? = nil) throws -> String {
            var body: [String: Any] = ["user_id": "u", "model_id": model, "part_size": Self.partSize,
                                       "files": [["path": "model.bin", "size": weights.count, "sha256": sha256 ?? SHA256.hex(of: weights)]]]
            body.merge(extra) { $1 }
            let created = try Self.open(client, body)
            #expect(created.status == 201, "\(created.text)")
            return created.object["session_id"] as? String ?? ""
        }

        let aborted = try open("aborted")
        #expect(try Self.put(client, aborted, file: "model.bin", part: 1, Self.part(weights, 1)).status == 200)
        let abort = try client.delete("/ai-models/upload/sessions/\(aborted)")
        #expect(abort.status == 200, "\(abort.text)")
        #expect(abort.object["aborted"] as? Bool == true)
        #expect(try client.delete("/ai-models/upload/sessions/\(aborted)").status == 409)
        #expect(try Self.put(client, aborted, file: "model.bin", part: 2, Self.part(weights, 2)).status == 409)
        #expect(try client.request("POST", "/ai-models/upload/sessions/\(aborted)/complete").status == 409)
        #expect(try Self.leftovers(warehouse, model: "aborted").isEmpty)

        // The whole file's hash is not what the session announced: refused at completion.
        let lying = try open("lying", sha256: String(repeating: "ab", count: 32))
        for number in [1, 2] { #expect(try Self.put(client, lying, file: "model.bin", part: number, Self.part(weights, number)).status == 200) }
        let refused = try client.request("POST", "/ai-models/upload/sessions/\(lying)/complete")
        #expect(refused.status == 400, "\(refused.text)")
        #expect(refused.detail?.contains("the session announced") == true, "\(refused.text)")
        #expect(try client.get("/ai-models/u/lying").status == 404)
        if TestWarehouse.s3Backend == nil {
            // Local parts are checked before they are joined: the session is still open.
            #expect(try client.get("/ai-models/upload/sessions/\(lying)").object["state"] as? String == "open")
            #expect(try client.delete("/ai-models/upload/sessions/\(lying)").status == 200)
        } else {
            #expect(try client.get("/ai-models/upload/sessions/\(lying)").object["state"] as? String == "failed")
        }
        #expect(try Self.leftovers(warehouse, model: "lying").isEmpty)

        let expiring = try open("expiring", ["expires_in_seconds": 1])
        #expect(try Self.put(client, expiring, file: "model.bin", part: 1, Self.part(weights, 1)).status == 200)
        usleep(1_300_000)
        let late = try Self.put(client, expiring, file: "model.bin", part: 2, Self.part(weights, 2))
        #expect(late.status == 409)
        #expect(late.detail?.contains("expired") == true, "\(late.text)")
        #expect(try Self.leftovers(warehouse, model: "expiring").isEmpty)

        // One that expires with nobody asking is gc's: its parts go from the store too.
        let forgotten = try open("forgotten", ["expires_in_seconds": 1])
        #expect(try Self.put(client, forgotten, file: "model.bin", part: 1, Self.part(weights, 1)).status == 200)
        #expect(try warehouse.store.pendingPartedUploads().count == 1)
        usleep(1_300_000)
        let report = try warehouse.application.uploadSessions.collectGarbage(dryRun: false)
        #expect(report.expiredSessions.count == 1, "\(report)")
        #expect(try Self.leftovers(warehouse, model: "forgotten").isEmpty)
        #expect(try client.get("/ai-models/upload/sessions/\(forgotten)").object["state"] as? String == "expired")
        // Versions were reserved and released: the next upload takes v1.
        #expect(try warehouse.uploadSingle([("user_id", "u"), ("model_id", "forgotten")]).object["version"] as? String == "v1")
    }

    @Test func anOpenSessionSurvivesARestartAndAnEmptyFileNeedsNoParts() throws {
        let directory = try TemporaryDirectory()
        let weights = Self.bytes(2 * Self.partSize, seed: 4)
        var session = ""
        do {
            let first = try TestWarehouse(directory: directory)
            let created = try Self.open(first.client, [
                "user_id": "u", "model_id": "restart", "part_size": Self.partSize, "primary_file": "model.bin",
                "files": [["path": "model.bin", "size": weights.count], ["path": "empty.txt", "size": 0]],
            ])
            session = try #require(created.object["session_id"] as? String)
            #expect(try Self.put(first.client, session, file: "model.bin", part: 1, Self.part(weights, 1)).status == 200)
            first.stop()
        }
        // Startup recovery leaves the open session's reserved version and parts alone.
        let second = try TestWarehouse(directory: directory)
        let status = try second.client.get("/ai-models/upload/sessions/\(session)")
        #expect(status.object["state"] as? String == "open", "\(status.text)")
        #expect((status.object["files"] as? [[String: Any]])?.first?["missing_parts"] as? [Int] == [2])
        #expect(try Self.put(second.client, session, file: "model.bin", part: 2, Self.part(weights, 2)).status == 200)
        let completed = try second.client.request("POST", "/ai-models/upload/sessions/\(session)/complete")
        #expect(completed.status == 200, "\(completed.text)")
        #expect(try second.client.get("/ai-models/u/restart/download?filename=model.bin").body == weights)
        #expect(try second.client.get("/ai-models/u/restart/download?filename=empty.txt").body == [])
        #expect(completed.object["primary_file_path"] as? String == "model.bin")
    }

    @Test func aSafetensorsFolderIsOneVersionWithoutAZip() throws {
        let warehouse = try TestWarehouse()
        let folder = warehouse.directory.path + "/hf"
        let script = """
            import sys, json, os
            from safetensors.numpy import save_file
            import numpy as np
            os.makedirs(sys.argv[1], exist_ok=True)
            save_file({"embed.weight": np.arange(4096 * 384, dtype=np.float32).reshape(4096, 384)}, sys.argv[1] + "/model.safetensors")
            json.dump({"model_type": "bert", "architectures": ["BertModel"]}, open(sys.argv[1] + "/config.json", "w"))
            """
        let made = try TestProcess.run(TestProcess.peer("python3"), ["-c", script, folder])
        try #require(made.status == 0, "\(made.stderr)")
        let names = ["config.json", "model.safetensors"]
        let contents = try names.map { Array(try Data(contentsOf: URL(fileURLWithPath: folder + "/" + $0))) }
        let created = try Self.open(warehouse.client, ["user_id": "u", "model_id": "hf", "part_size": Self.partSize,
                                                       "files": zip(names, contents).map { ["path": $0, "size": $1.count] }])
        let session = try #require(created.object["session_id"] as? String, "\(created.text)")
        for (name, bytes) in zip(names, contents) {
            for number in 1...max(1, (bytes.count + Self.partSize - 1) / Self.partSize) {
                #expect(try Self.put(warehouse.client, session, file: name, part: number, Self.part(bytes, number)).status == 200)
            }
        }
        let record = try warehouse.client.request("POST", "/ai-models/upload/sessions/\(session)/complete")
        #expect(record.status == 200, "\(record.text)")
        #expect(record.object["framework"] as? String == "huggingface")
        #expect(record.object["num_parameters"] as? Int == 4096 * 384)
        #expect(record.object["primary_file_path"] as? String == "model.safetensors")
    }

    /// With `presigned`, the client PUTs each part to the bucket itself (here with `curl -T`: the
    /// form Content-Type of `--data-binary` makes moto read the body twice and wait forever): the
    /// service sees no part bytes, and at completion checks sizes from ListParts and every
    /// part's SHA-256 as it reads the joined object once. Always on S3 (moto unless the run
    /// names another server).
    @Test func presignedPartsGoStraightToTheBucket() throws {
        let kind = TestWarehouse.s3Backend ?? .moto
        let server = try S3TestServer.shared(kind)
        let warehouse = try TestWarehouse { TestWarehouse.useS3(server, in: &$0) }
        let client = warehouse.client
        let weights = Self.bytes(Self.partSize + 4321, seed: 5)
        func open(_ model: String) throws -> String {
            let created = try Self.open(client, ["user_id": "u", "model_id": model, "presigned": true, "part_size": Self.partSize,
                                                 "files": [["path": "model.bin", "size": weights.count, "sha256": SHA256.hex(of: weights)]]])
            #expect(created.status == 201, "\(created.text)")
            #expect(created.object["presigned"] as? Bool == true)
            return created.object["session_id"] as? String ?? ""
        }
        func send(_ session: String, part number: Int, announcing sha256: String? = nil) throws {
            let bytes = Self.part(weights, number)
            let signed = try client.get("/ai-models/upload/sessions/\(session)/parts/\(number)/url?file=model.bin&sha256=\(sha256 ?? SHA256.hex(of: bytes))")
            #expect(signed.status == 200, "\(signed.text)")
            let url = try #require(signed.object["url"] as? String)
            #expect(signed.object["size"] as? Int == bytes.count)
            let body = warehouse.directory.path + "/part-\(number)"
            try Data(bytes).write(to: URL(fileURLWithPath: body))
            let put = try TestProcess.run("curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "120", "-T", body, url])
            #expect(put.stdout == "200", "the bucket took the part itself: \(put.stdout) \(put.stderr)")
        }

        let session = try open("direct")
        // Parts sent through the service are refused for a presigned session.
        #expect(try Self.put(client, session, file: "model.bin", part: 1, Self.part(weights, 1)).status == 400)
        try send(session, part: 2)
        // A part whose URL was handed out but whose bytes never reached the bucket is missing.
        #expect(try client.get("/ai-models/upload/sessions/\(session)/parts/1/url?file=model.bin&sha256=\(SHA256.hex(of: Self.part(weights, 1)))").status == 200)
        let status = try client.get("/ai-models/upload/sessions/\(session)")
        let listed = (status.object["files"] as? [[String: Any]])?.first
        #expect(listed?["received_parts"] as? [Int] == [2], "\(status.text)")
        #expect(listed?["missing_parts"] as? [Int] == [1], "\(status.text)")
        #expect(listed?["received_bytes"] as? Int == 4321, "\(status.text)")
        let early = try client.request("POST", "/ai-models/upload/sessions/\(session)/complete")
        #expect(early.status == 409, "\(early.text)")
        #expect(early.detail?.contains("'model.bin' 1") == true, "\(early.text)")
        try send(session, part: 1)
        let completed = try client.request("POST", "/ai-models/upload/sessions/\(session)/complete")
        #expect(completed.status == 200, "\(completed.text)")
        #expect(try client.get("/ai-models/u/direct/download?filename=model.bin").body == weights)
        let received = try client.get("/metrics").text.split(separator: "\n").contains {
            $0.contains("route=\"/ai-models/upload/sessions/{session_id}/parts/{part_number}\"") && $0.hasPrefix("warehouse_http_request_bytes_total")
                && !$0.hasSuffix(" 0") && !$0.hasSuffix(" \(Self.partSize)")
        }
        #expect(!received, "no part bytes came through the service, except the refused one")

        // A part whose bytes are not what was announced is caught when the object is read.
        let lying = try open("lying")
        try send(lying, part: 1)
        try send(lying, part: 2, announcing: String(repeating: "0", count: 64))
        let refused = try client.request("POST", "/ai-models/upload/sessions/\(lying)/complete")
        #expect(refused.status == 400, "\(refused.text)")
        #expect(refused.detail?.contains("part 2 of 'model.bin'") == true, "\(refused.text)")
        #expect(try client.get("/ai-models/u/lying").status == 404)
        #expect(try Self.leftovers(warehouse, model: "lying").isEmpty)
    }
}
