import Foundation
import Testing
import WarehouseCrypto
import WarehouseTesting

@Suite struct UploadTests {
    @Test func singleUploadReturnsTheFullRecord() throws {
        let warehouse = try TestWarehouse()
        let response = try warehouse.uploadSingle(
            [("user_id", "alice"), ("model_id", "iris"), ("name", "Iris classifier"), ("description", "A small tree"),
             ("model_type", "classification"), ("algorithm", "random_forest"), ("tags", "tabular, prod ,tabular"),
             ("training_accuracy", "0.97"), ("validation_accuracy", "0.95"), ("test_accuracy", "0.94"),
             ("training_loss", "0.1"), ("python_version", "3.11"), ("hardware_requirements", "cpu"), ("is_primary", "True")],
            filename: "model.pkl", content: .bytes(Array("weights".utf8)))
        #expect(response.status == 200, "\(response.text)")
        let record = response.object
        #expect(record["user_id"] as? String == "alice")
        #expect(record["model_id"] as? String == "iris")
        #expect(record["name"] as? String == "Iris classifier")
        #expect(record["version"] as? String == "v1")
        #expect(record["framework"] as? String == "sklearn") // detected from .pkl
        #expect(record["model_type"] as? String == "classification")
        #expect(record["tags"] as? [String] == ["tabular", "prod"])
        #expect(record["training_accuracy"] as? Double == 0.97)
        #expect(record["is_active"] as? Bool == true)
        #expect(record["is_production_ready"] as? Bool == false)
        #expect(record["primary_file_path"] as? String == "model.pkl")
        #expect(abs((record["model_size_mb"] as? Double ?? 0) - 7.0 / 1_048_576) < 1e-15)
        for key in ["input_shape", "output_shape", "num_parameters", "training_dataset", "dependencies", "custom_metadata",
                    "created_at", "updated_at"] {
            #expect(record.keys.contains(key), "record lacks \(key)")
        }
        let files = try #require(record["files"] as? [[String: Any]])
        #expect(files.count == 1)
        #expect(files[0]["file_hash"] as? String == SHA256.hex(of: Array("weights".utf8)))
        #expect(files[0]["file_size"] as? Int == 7)
        #expect(files[0]["filename"] as? String == "model.pkl")
        #expect(files[0]["file_type"] as? String == "pkl")
        #expect(files[0]["is_primary"] as? Bool == true)
        #expect(warehouse.storedObjectKeys() == ["manifests/models/alice/iris/v1.json", "models/alice/iris/v1/model.pkl"])
        #expect(warehouse.spoolFiles().isEmpty)
    }

    @Test func versionsAreNumberedAndExplicitVersionsKept() throws {
        let warehouse = try TestWarehouse()
        let base = [("user_id", "bob"), ("model_id", "net")]
        #expect(try warehouse.uploadSingle(base).object["version"] as? String == "v1")
        #expect(try warehouse.uploadSingle(base).object["version"] as? String == "v2")
        #expect(try warehouse.uploadSingle(base + [("version", "v7.1")]).object["version"] as? String == "v7.1")
        #expect(try warehouse.uploadSingle(base).object["version"] as? String == "v8")
        let latest = try warehouse.client.get("/ai-models/bob/net")
        #expect(latest.object["version"] as? String == "v8")
    }

    @Test func refusedUploadDoesNotConsumeAVersionNumber() throws {
        let warehouse = try TestWarehouse()
        let base = [("user_id", "bob"), ("model_id", "net")]
        #expect(try warehouse.uploadSingle(base).status == 200)
        #expect(try warehouse.uploadSingle(base + [("framework", "caffe")]).status == 400)
        #expect(try warehouse.uploadSingle(base, filename: "../evil.pkl").status == 400)
        #expect(try warehouse.uploadSingle(base).object["version"] as? String == "v2")
        #expect(warehouse.spoolFiles().isEmpty)
    }

    @Test func singleUploadIntoExistingVersionAddsAFile() throws {
        let warehouse = try TestWarehouse()
        let base = [("user_id", "carol"), ("model_id", "bert"), ("version", "v1")]
        #expect(try warehouse.uploadSingle(base, filename: "config.json", content: .bytes(Array("{}".utf8))).status == 200)
        let added = try warehouse.uploadSingle(base + [("is_primary", "yes")], filename: "weights.bin",
                                               content: .bytes([UInt8](repeating: 1, count: 1000)))
        #expect(added.status == 200, "\(added.text)")
        #expect(added.object["version"] as? String == "v1")
        let files = added.object["files"] as? [[String: Any]] ?? []
        #expect(files.map { $0["file_path"] as? String } == ["config.json", "weights.bin"])
        #expect(added.object["primary_file_path"] as? String == "weights.bin")
        #expect(abs((added.object["model_size_mb"] as? Double ?? 0) - 1002.0 / 1_048_576) < 1e-15)

        let duplicate = try warehouse.uploadSingle(base, filename: "weights.bin")
        #expect(duplicate.status == 409)
        #expect(duplicate.detail?.contains("weights.bin") == true)
        // The manifest lists both files.
        let manifest = warehouse.storedText("manifests/models/carol/bert/v1.json")
        #expect(manifest.contains("weights.bin") && manifest.contains("config.json"))
        #expect(warehouse.storedObjectKeys().count == 3)
    }

    @Test func fieldsMayFollowTheFilePart() throws {
        let warehouse = try TestWarehouse()
        let response = try warehouse.client.upload(
            "/ai-models/upload/single", fields: [("user_id", "dan"), ("model_id", "late-fields")],
            files: [("file", "m.onnx", .bytes([1, 2, 3]))], fieldsAfterFiles: true)
        #expect(response.status == 200, "\(response.text)")
        #expect(response.object["framework"] as? String == "onnx")
    }

    struct BadFields: Sendable, CustomTestStringConvertible {
        let fields: [String]
        let named: String
        var testDescription: String { named + " in " + fields.joined(separator: "&") }
        var pairs: [(String, String)] {
            fields.map { pair in
                let parts = pair.split(separator: "=", maxSplits: 1)
                return (String(parts[0]), String(parts[1]))
            }
        }
    }

    static let badFieldCases: [BadFields] = [
        BadFields(fields: ["model_id=m"], named: "user_id"),
        BadFields(fields: ["user_id=u"], named: "model_id"),
        BadFields(fields: ["user_id=u", "model_id=m", "framework=caffe"], named: "framework"),
        BadFields(fields: ["user_id=u", "model_id=m", "model_type=magic"], named: "model_type"),
        BadFields(fields: ["user_id=bad id", "model_id=m"], named: "user_id"),
        BadFields(fields: ["user_id=u", "model_id=-m"], named: "model_id"),
        BadFields(fields: ["user_id=search", "model_id=m"], named: "reserved"),
        BadFields(fields: ["user_id=u", "model_id=m", "version=1.0"], named: "version"),
        BadFields(fields: ["user_id=u", "model_id=m", "training_accuracy=high"], named: "training_accuracy"),
        BadFields(fields: ["user_id=u", "model_id=m", "is_primary=maybe"], named: "is_primary"),
    ]

    @Test(arguments: badFieldCases)
    func badFieldsAre400AndNameTheField(_ bad: BadFields) throws {
        let warehouse = try TestWarehouse()
        let response = try warehouse.uploadSingle(bad.pairs)
        #expect(response.status == 400)
        #expect(response.detail?.contains(bad.named) == true, "\(response.detail ?? "no detail")")
        #expect(warehouse.storedObjectKeys().isEmpty)
        #expect(warehouse.spoolFiles().isEmpty)
    }

    @Test(arguments: ["../escape.pkl", "/etc/passwd", "a/../../b.pkl", "dir//x.pkl", "..\\..\\win.pkl"])
    func pathTraversalInFilenamesIsRefused(filename: String) throws {
        let warehouse = try TestWarehouse()
        let response = try warehouse.uploadSingle([("user_id", "u"), ("model_id", "m")], filename: filename)
        #expect(response.status == 400, "\(filename): \(response.text)")
        #expect(warehouse.storedObjectKeys().isEmpty)
    }

    @Test func missingFileIs400() throws {
        let warehouse = try TestWarehouse()
        let response = try warehouse.client.upload("/ai-models/upload/single", fields: [("user_id", "u"), ("model_id", "m")], files: [])
        #expect(response.status == 400)
        #expect(response.detail?.contains("file") == true)
        let notAFile = try warehouse.client.upload("/ai-models/upload/single",
                                                   fields: [("user_id", "u"), ("model_id", "m"), ("file", "text")], files: [])
        #expect(notAFile.status == 400)
    }

    @Test func malformedBodiesAre400() throws {
        let warehouse = try TestWarehouse()
        let client = warehouse.client
        // Empty body.
        let empty = try client.request("POST", "/ai-models/upload/single", headers: [("Content-Type", "multipart/form-data; boundary=xyz")])
        #expect(empty.status == 400, "\(empty.text)")
        // Not multipart.
        let json = try client.request("POST", "/ai-models/upload/single", headers: [("Content-Type", "application/json")],
                                      body: Array("{}".utf8))
        #expect(json.status == 400)
        #expect(json.detail?.contains("multipart/form-data") == true)
        // Truncated: no closing boundary.
        let truncated = "--xyz\r\nContent-Disposition: form-data; name=\"user_id\"\r\n\r\nu\r\n--xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.bin\"\r\n\r\nabc"
        let cut = try client.request("POST", "/ai-models/upload/single", headers: [("Content-Type", "multipart/form-data; boundary=xyz")],
                                     body: Array(truncated.utf8))
        #expect(cut.status == 400)
        #expect(cut.detail?.contains("closing boundary") == true)
        // A part without Content-Disposition.
        let noDisposition = "--xyz\r\nContent-Type: text/plain\r\n\r\nu\r\n--xyz--\r\n"
        let bad = try client.request("POST", "/ai-models/upload/single", headers: [("Content-Type", "multipart/form-data; boundary=xyz")],
                                     body: Array(noDisposition.utf8))
        #expect(bad.status == 400)
        #expect(warehouse.storedObjectKeys().isEmpty)
        #expect(warehouse.spoolFiles().isEmpty)
    }

    @Test func bodiesOverTheLimitAre413() throws {
        let warehouse = try TestWarehouse { $0.maxUploadBytes = 1000 }
        let response = try warehouse.uploadSingle([("user_id", "u"), ("model_id", "m")], content: .bytes([UInt8](repeating: 0, count: 5000)))
        #expect(response.status == 413)
        #expect(warehouse.storedObjectKeys().isEmpty)
    }

    @Test func abortedUploadLeavesNothing() throws {
        let warehouse = try TestWarehouse()
        let head = "POST /ai-models/upload/single HTTP/1.1\r\nHost: x\r\n" + warehouse.client.authorizationLine
            + "Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 10000000\r\n\r\n"
        let start = "--b\r\nContent-Disposition: form-data; name=\"user_id\"\r\n\r\nu\r\n--b\r\nContent-Disposition: form-data; name=\"model_id\"\r\n\r\nm\r\n--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.bin\"\r\n\r\n"
        try warehouse.client.abort(after: Array((head + start).utf8) + [UInt8](repeating: 7, count: 200_000))
        // The completion callback runs once the server notices the closed socket.
        var waited = 0
        while !warehouse.spoolFiles().isEmpty, waited < 50 { usleep(100_000); waited += 1 }
        #expect(warehouse.spoolFiles().isEmpty)
        #expect(warehouse.storedObjectKeys().isEmpty)
        #expect(try warehouse.client.get("/ai-models/u/m").status == 404)
    }
}

@Suite struct StagedUploadTests {
    /// On S3, with user_id and model_id before the file, the file goes to the bucket while the
    /// body arrives: the route finds its staged upload (no PutObject of the whole file after
    /// the body; only the manifest is put), and the version holds the bytes sent.
    @Test func theRouteCommitsTheUploadStagedWhileTheBodyArrived() throws {
        let faults = StoreFaults()
        let warehouse = try TestWarehouse(faults: faults) { try? TestWarehouse.useS3(.rclone, in: &$0) }
        let payload = (0..<(12 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 13) }
        let before = faults.calls(.put)
        let response = try warehouse.uploadSingle([("user_id", "u"), ("model_id", "staged")], filename: "w.bin",
                                                  content: .bytes(payload))
        #expect(response.status == 200, "\(response.text)")
        #expect(faults.calls(.put) - before == 1, "puts beyond the manifest: the file went up after the body, not staged")
        var fetched: [UInt8] = []
        _ = try warehouse.client.download("/ai-models/u/staged/download?filename=w.bin") { fetched.append(contentsOf: $0) }
        #expect(fetched == payload)
    }

    /// user_id and model_id before the file, version after it: the early guess (the next
    /// number) is dropped and the version the client asked for is created, with nothing left
    /// of the guess.
    @Test func fieldsAfterTheFileOverrideTheEarlyGuess() throws {
        let warehouse = try TestWarehouse()
        let payload = [UInt8](repeating: 7, count: 11 << 20)
        let boundary = "split-fields"
        var body = Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"user_id\"\r\n\r\nu\r\n".utf8)
        body += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"model_id\"\r\n\r\nm\r\n".utf8)
        body += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"w.bin\"\r\n\r\n".utf8)
        body += payload
        body += Array("\r\n--\(boundary)\r\nContent-Disposition: form-data; name=\"version\"\r\n\r\nv5\r\n--\(boundary)--\r\n".utf8)
        let response = try warehouse.client.request("POST", "/ai-models/upload/single",
                                                     headers: [("Content-Type", "multipart/form-data; boundary=\(boundary)")],
                                                     body: body)
        #expect(response.status == 200, "\(response.text)")
        #expect(response.object["version"] as? String == "v5")
        #expect(warehouse.storedObjectKeys() == ["manifests/models/u/m/v5.json", "models/u/m/v5/w.bin"])
        // Numbering goes on after the highest version; no trace of the guess remains.
        #expect(try warehouse.uploadSingle([("user_id", "u"), ("model_id", "m")]).object["version"] as? String == "v6")
    }
}
