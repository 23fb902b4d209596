import Foundation
import Testing
import WarehouseTesting

/// The eight interoperability cases of issue 17, each as a new user meets it through the API
/// (case 5, the Lightning checkpoint, and case 1 for every producer also run in
/// ConformanceCorpusTests with files the real tools wrote; case 8 in TrainingTests).
@Suite struct InteropTests {
    static func json(_ body: [String: Any]) throws -> [UInt8] { Array(try JSONSerialization.data(withJSONObject: body)) }

    static func metadata(_ custom: [String: Any]) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: custom), as: UTF8.self)
    }

    func names(_ response: TestResponse) -> [String] {
        response.array.compactMap { $0["model_id"] as? String }.sorted()
    }

    // 1. A folder ZIP written with zipfile.writestr: permission bits without type bits, for
    //    files and for a ZipInfo("dir/") directory alike.
    @Test func pythonWritestrArchiveIsAFolder() throws {
        let warehouse = try TestWarehouse()
        let archive = warehouse.directory.path + "/writestr.zip"
        let script = """
            import sys, zipfile
            with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
                z.writestr("model.pkl", b"\\x80\\x04N.")
                z.writestr(zipfile.ZipInfo("weights/"), b"")
                z.writestr("weights/layer.bin", bytes(range(256)) * 64)
            with zipfile.ZipFile(sys.argv[1]) as z:
                print(*(oct(z.getinfo(n).external_attr >> 16 & 0o170000) for n in ("model.pkl", "weights/")))
            """
        let made = try TestProcess.run("python3", ["-c", script, archive])
        try #require(made.status == 0, "\(made.stderr)")
        #expect(made.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "0o0 0o0", "writestr's entries carry no type bits: \(made.stdout)")
        let response = try warehouse.client.upload("/ai-models/upload/folder", fields: [("user_id", "u"), ("model_id", "py")],
                                                   files: [("zip_file", "py.zip", .file(archive))])
        #expect(response.status == 200, "\(response.text)")
        let paths = (response.object["files"] as? [[String: Any]] ?? []).compactMap { $0["file_path"] as? String }.sorted()
        #expect(paths == ["model.pkl", "weights/layer.bin"])
        let layer = try warehouse.client.get("/ai-models/u/py/download?filename=weights/layer.bin")
        #expect(layer.body == Array((0..<64).flatMap { _ in (0...255).map { UInt8($0) } }))
    }

    // 2. Times compare as instants, whatever the literal's precision or zone; versions as
    //    versions; numbers as numbers; booleans as booleans.
    @Test func typedFieldsCompareByTheirType() throws {
        let warehouse = try TestWarehouse()
        let client = warehouse.client
        for (version, approved) in [("v1.9", true), ("v1.10", false)] {
            let custom = try Self.metadata(["approved": approved, "score": version == "v1.9" ? 9 : 10])
            #expect(try warehouse.uploadSingle([("user_id", "u"), ("model_id", "m-\(version)"), ("version", version),
                                                ("custom_metadata", custom)]).status == 200)
        }
        let record = try client.get("/ai-models/u/m-v1.9").object
        let created = try #require(record["created_at"] as? String)
        #expect(created.count == 24 && created.hasSuffix("Z"), "stored as 2026-12-05T21:03:16.890Z: \(created)")
        let seconds = String(created.prefix(19))                       // 2026-12-05T21:03:16
        let day = String(created.prefix(10))

        func count(_ filter: String) throws -> Int {
            let response = try client.get("/ai-models/u?filter=" + filter.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)
            #expect(response.status == 200, "\(filter): \(response.text)")
            return response.array.count
        }
        // Each filter on the first model's own timestamp: true (1 row) or false (0 rows).
        func holds(_ filter: String) throws -> Bool { try count("model_id = 'm-v1.9' AND (\(filter))") == 1 }
        func both(_ filter: String) throws -> Bool { try count(filter) == 2 }
        // The stored instant is at or after its whole second, however the literal says it.
        #expect(try holds("created_at >= '\(seconds)Z'"))
        #expect(try holds("created_at > '\(seconds)Z'") == (created.dropFirst(20).prefix(3) != "000"))
        #expect(try !holds("created_at < '\(seconds)Z'"))
        #expect(try holds("created_at >= '\(seconds)+00:00'") && holds("created_at >= '\(seconds)+0000'"))
        #expect(try holds("created_at >= '\(day)'") && !holds("created_at < '\(day)'"))
        #expect(try holds("created_at = '\(created)'") && !holds("created_at != '\(created)'"))
        #expect(try holds("created_at = '\(created.dropLast())000+00:00'"), "extra zero digits are the same instant")
        #expect(try !holds("created_at = '\(created.dropLast())001Z'"), "a finer instant equals no stored one")
        #expect(try holds("created_at != '\(created.dropLast())001Z'"))
        #expect(try holds("created_at < '\(created.dropLast())001Z'") && !holds("created_at >= '\(created.dropLast())001Z'"))
        #expect(try holds("created_at > '\(created.dropLast())00Z'") == false, "…16.8900 is 16.890 itself")
        // One hour east of UTC: the same instant written an hour later.
        let hour = Int(created.dropFirst(11).prefix(2))!
        if hour < 23 {
            let east = "\(day)T\(String(format: "%02d", hour + 1))\(created.dropFirst(13).dropLast())+01:00"
            #expect(try holds("created_at = '\(east)'"), "\(east)")
        }
        #expect(try both("updated_at <= '9999-12-31' AND updated_at > '1970-01-01T00:00:00.000Z'"))
        #expect(try client.get("/ai-models/u?filter=created_at%20%3E%20%27yesterday%27").status == 400)

        #expect(try names(client.get("/ai-models/u?filter=" + "version > 'v1.9'".addingPercentEncoding(withAllowedCharacters: .alphanumerics)!))
                == ["m-v1.10"])
        #expect(try names(client.get("/ai-models/u?filter=custom.score%20%3E%209.5")) == ["m-v1.10"])
        #expect(try names(client.get("/ai-models/u?filter=custom.approved%20%3D%20true")) == ["m-v1.9"])
        #expect(try names(client.get("/ai-models/u?filter=custom.approved%20%3D%20false")) == ["m-v1.10"])
    }

    // 3. metrics.<name> finds the metrics a user gave, as well as training's.
    @Test func usersOwnMetricsAreMetrics() throws {
        let warehouse = try TestWarehouse()
        let client = warehouse.client
        #expect(try warehouse.uploadSingle([("user_id", "u"), ("model_id", "good"),
                                            ("custom_metadata", try Self.metadata(["metrics": ["f1": 0.93]]))]).status == 200)
        #expect(try warehouse.uploadSingle([("user_id", "u"), ("model_id", "weak"),
                                            ("custom_metadata", try Self.metadata(["metrics": ["f1": 0.41]]))]).status == 200)
        // Training's layout: metrics.test.<name> (also what metrics.<name> reads first).
        #expect(try warehouse.uploadSingle([("user_id", "u"), ("model_id", "trained"),
                                            ("custom_metadata", try Self.metadata(["metrics": ["test": ["f1": 0.95], "f1": 0.1]]))]).status == 200)
        #expect(try warehouse.uploadSingle([("user_id", "u"), ("model_id", "plain")]).status == 200)
        let filter = "metrics.f1 >= 0.9".addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        #expect(try names(client.get("/ai-models/u?filter=\(filter)")) == ["good", "trained"])
        #expect(try names(client.get("/ai-models/search/u?query=good&filter=\(filter)")) == ["good"])
        #expect(try names(client.get("/ai-models/u?filter=custom.metrics.f1%20%3E%3D%200.9")) == ["good"])
        let ordered = try client.get("/ai-models/u?order_by=metrics.f1%20desc").array.compactMap { $0["model_id"] as? String }
        #expect(ordered == ["trained", "good", "weak", "plain"])
        // A metadata update re-indexes them.
        #expect(try client.put("/ai-models/u/weak", json: #"{"custom_metadata": {"metrics": {"f1": 0.99}}}"#).status == 200)
        #expect(try names(client.get("/ai-models/u?filter=\(filter)")) == ["good", "trained", "weak"])
    }

    // 4. A dataset whose only feature looks like an id uploads; training refuses, saying why.
    @Test func datasetUploadNeverFailsOnATrainingHeuristic() throws {
        let warehouse = try TestWarehouse()
        let client = warehouse.client
        let rows = (1...40).map { "\($0),\($0 % 2 == 0 ? "yes" : "no")" }
        let csv = TestFilePart.bytes(Array(("customer_id,churn\n" + rows.joined(separator: "\n") + "\n").utf8))
        let upload = try Training.upload(client, dataset: "ids", csv: csv)
        #expect(upload.status == 200, "\(upload.text)")
        #expect(upload.object["rows"] as? Int == 40)
        let refusal = try #require(upload.object["training_refusal"] as? String)
        #expect(refusal.contains("no usable feature columns") && refusal.contains("customer_id: identifier"), "\(refusal)")
        #expect(try client.get("/datasets/alice/ids").object["target_column"] as? String == "churn")

        let job = try client.request("POST", "/training/jobs", headers: [("Content-Type", "application/json")],
                                     body: try Self.json(["user_id": "alice", "dataset_id": "ids"]))
        #expect(job.status == 400)
        #expect(job.detail?.contains("cannot be trained on: no usable feature columns") == true, "\(job.text)")

        // auto_train=true keeps the dataset and queues nothing, with the same reason.
        let automatic = try Training.upload(client, dataset: "ids2", csv: csv, autoTrain: true)
        #expect(automatic.status == 200, "\(automatic.text)")
        #expect(automatic.object["training_job"] is NSNull)
        #expect((automatic.object["training_refusal"] as? String)?.contains("no usable feature columns") == true)
        #expect(try client.get("/training/jobs?user_id=alice").array.isEmpty)

        // A one-class target is profiled too.
        let constant = (1...10).map { "\(Double($0) * 1.5),\($0 % 3),same" }.joined(separator: "\n")
        let single = try Training.upload(client, dataset: "one-class", csv: .bytes(Array(("x,y,label\n" + constant + "\n").utf8)),
                                         extra: [("target_column", "label")])
        #expect(single.status == 200, "\(single.text)")
        #expect((single.object["training_refusal"] as? String)?.contains("needs at least 2") == true, "\(single.text)")
    }

    // 6. A version says which aliases it holds, exact after every move.
    @Test func versionsCarryTheirAliases() throws {
        let warehouse = try TestWarehouse()
        let client = warehouse.client
        for _ in 1...3 { #expect(try warehouse.uploadSingle([("user_id", "u"), ("model_id", "m")]).status == 200) }
        func put(_ alias: String, _ version: String) throws {
            let response = try client.request("PUT", "/ai-models/u/m/aliases/\(alias)", headers: [("Content-Type", "application/json")],
                                              body: try Self.json(["version": version]))
            #expect(response.status == 200, "\(response.text)")
        }
        func aliases(_ version: String) throws -> [String] {
            try client.get("/ai-models/u/m?version=\(version)").object["aliases"] as? [String] ?? ["?"]
        }
        #expect(try aliases("v1") == [])
        try put("production", "v2")
        try put("staging", "v3")
        try put("champion", "v2")
        #expect(try aliases("v2") == ["champion", "production"] && aliases("v3") == ["staging"] && aliases("v1") == [])
        #expect(try client.get("/ai-models/u/m").object["aliases"] as? [String] == ["staging"])   // latest = v3
        try put("production", "v3")
        #expect(try aliases("v2") == ["champion"] && aliases("v3") == ["production", "staging"])
        #expect(try client.get("/ai-models/u/m").object["is_production_ready"] as? Bool == true)

        // Listing, search and the versions listing say the same.
        #expect(try client.get("/ai-models/u").array.first?["aliases"] as? [String] == ["production", "staging"])
        #expect(try client.get("/ai-models/search/u?query=m").array.first?["aliases"] as? [String] == ["production", "staging"])
        let all = try client.get("/ai-models/u?versions=all").array
        #expect(all.compactMap { $0["aliases"] as? [String] } == [[], ["champion"], ["production", "staging"]])
        let listed = try client.get("/ai-models/u/m/versions").object["versions"] as? [[String: Any]] ?? []
        #expect(listed.compactMap { $0["aliases"] as? [String] } == [[], ["champion"], ["production", "staging"]])

        // Rollback moves production back to v2; a delete of an alias and is_production_ready too.
        let rollback = try client.request("POST", "/ai-models/u/m/rollback")
        #expect(rollback.status == 200, "\(rollback.text)")
        #expect(try aliases("v2") == ["champion", "production"] && aliases("v3") == ["staging"])
        #expect(try client.delete("/ai-models/u/m/aliases/champion").status == 200)
        #expect(try client.put("/ai-models/u/m?version=v1", json: #"{"is_production_ready": true}"#).status == 200)
        #expect(try aliases("v1") == ["production"] && aliases("v2") == [])
        #expect(try client.get("/ai-models/u?versions=all").array.compactMap { $0["aliases"] as? [String] } == [["production"], [], ["staging"]])
        #expect(try client.put("/ai-models/u/m", json: #"{"aliases": ["x"]}"#).status == 400)
        // The manifest is not where aliases live: it says none, whatever moves later.
        #expect(warehouse.storedText("manifests/models/u/m/v1.json").contains("\"aliases\" : [\n\n  ]"))
    }

    // 7. A drifted object is never served as wrong bytes.
    @Test func driftedObjectsAreRefusedBeforeTheStatusLine() throws {
        let warehouse = try TestWarehouse()
        let client = warehouse.client
        let original = Array(repeating: UInt8(7), count: 100_000)
        #expect(try warehouse.uploadSingle([("user_id", "u"), ("model_id", "m")], filename: "weights.bin", content: .bytes(original)).status == 200)
        #expect(try warehouse.uploadSingle([("user_id", "u"), ("model_id", "m"), ("version", "v1")], filename: "config.json",
                                           content: .bytes(Array("{}".utf8))).status == 200)
        #expect(try client.get("/ai-models/u/m/download?filename=weights.bin").body == original)

        // Truncated behind the service's back, in the folder or the bucket alike.
        try warehouse.store.putData(key: "models/u/m/v1/weights.bin", data: Array(original.prefix(60_000)))
        let single = try client.get("/ai-models/u/m/download?filename=weights.bin")
        #expect(single.status == 500)
        #expect(single.detail?.contains("file 'weights.bin' of u/m v1 has 60000 bytes in storage, the catalog records 100000") == true,
                "\(single.text)")
        let ranged = try client.get("/ai-models/u/m/download?filename=weights.bin", headers: [("Range", "bytes=0-99")])
        #expect(ranged.status == 500)
        let archive = try client.get("/ai-models/u/m/download")
        #expect(archive.status == 500 && archive.detail?.contains("'weights.bin'") == true, "\(archive.text)")
        #expect(try client.get("/ai-models/u/m/download?filename=config.json").status == 200, "other files still serve")
        // Removed entirely.
        try warehouse.store.delete(key: "models/u/m/v1/config.json")
        #expect(try client.get("/ai-models/u/m/download?filename=config.json").detail?.contains("is missing from storage") == true)

        // Replaced by as many other bytes: caught by the store's entity tag (S3's ETag; inode
        // and modification time in the folder), for the file and the whole version.
        #expect(try warehouse.uploadSingle([("user_id", "u"), ("model_id", "same")], filename: "weights.bin", content: .bytes(original)).status == 200)
        #expect(try client.get("/ai-models/u/same/download?filename=weights.bin").body == original)
        Thread.sleep(forTimeInterval: 0.01)   // a modification time of its own, even on a coarse clock
        try warehouse.store.putData(key: "models/u/same/v1/weights.bin", data: Array(repeating: 8, count: original.count))
        let same = try client.get("/ai-models/u/same/download?filename=weights.bin")
        #expect(same.status == 500 && same.detail?.contains("same size, other bytes") == true, "\(same.status) \(same.text.prefix(200))")
        #expect(try client.get("/ai-models/u/same/download").status == 500)

        let metrics = try client.get("/metrics").text
        #expect(metrics.contains(#"warehouse_storage_errors_total{operation="download",kind="drift"} 6"#), "\(metrics.split(separator: "\n").filter { $0.contains("storage_errors") })")
        let fsck = try warehouse.application.service.fsck()
        #expect(fsck.mismatches.map(\.key).sorted() == ["models/u/m/v1/config.json", "models/u/m/v1/weights.bin", "models/u/same/v1/weights.bin"])
    }
}
