import Foundation
import Synchronization
import WarehouseCrypto
import Testing
import WarehouseCatalog
import WarehouseCore
import WarehouseTesting

@Suite struct UpdateDeleteTests {
    @Test func partialUpdateChangesOnlyGivenFieldsAndTheManifest() throws {
        let warehouse = try TestWarehouse()
        let created = try warehouse.uploadSingle([("user_id", "u"), ("model_id", "m"), ("name", "Old"), ("tags", "a")])
        let response = try warehouse.client.put("/ai-models/u/m?version=v1", json: """
            {"description": "Now described", "tags": ["x", "y"], "validation_accuracy": 0.91,
             "custom_metadata": {"epochs": 10, "nested": {"lr": 0.01}}, "input_shape": [1, 3, 224, 224], "is_active": false}
            """)
        #expect(response.status == 200, "\(response.text)")
        #expect(response.object["name"] as? String == "Old")
        #expect(response.object["description"] as? String == "Now described")
        #expect(response.object["tags"] as? [String] == ["x", "y"])
        #expect(response.object["validation_accuracy"] as? Double == 0.91)
        #expect(response.object["is_active"] as? Bool == false)
        #expect((response.object["custom_metadata"] as? [String: Any])?["epochs"] as? Int == 10)
        #expect(response.object["input_shape"] as? [Int] == [1, 3, 224, 224])
        #expect(response.object["created_at"] as? String == created.object["created_at"] as? String)
        #expect(response.object["updated_at"] as? String != created.object["updated_at"] as? String)

        let manifest = warehouse.storedText("manifests/models/u/m/v1.json")
        #expect(manifest.contains("Now described"))
        // Search sees the new text and tags.
        #expect(try warehouse.client.get("/ai-models/search/u?query=described").array.count == 1)
        #expect(try warehouse.client.get("/ai-models/u?tags=y").array.count == 1)
        #expect(try warehouse.client.get("/ai-models/u?tags=a").array.isEmpty)
    }

    @Test func badUpdatesAreRefused() throws {
        let warehouse = try TestWarehouse()
        _ = try warehouse.uploadSingle([("user_id", "u"), ("model_id", "m")])
        let cases: [(String, Int, String)] = [
            ("{\"colour\": \"red\"}", 400, "colour"),
            ("{\"version\": \"v2\"}", 400, "version"),
            ("{\"files\": []}", 400, "files"),
            ("{\"framework\": \"caffe\"}", 400, "framework"),
            ("{\"training_accuracy\": \"high\"}", 400, "training_accuracy"),
            ("{\"name\": \"\"}", 400, "name"),
            ("{\"custom_metadata\": [1]}", 400, "custom_metadata"),
            ("not json", 400, "JSON"),
            ("[1, 2]", 400, "object"),
            ("{}", 400, "empty"),
        ]
        for (body, status, mention) in cases {
            let response = try warehouse.client.put("/ai-models/u/m", json: body)
            #expect(response.status == status, "\(body): \(response.text)")
            #expect(response.detail?.contains(mention) == true, "\(body): \(response.detail ?? "")")
        }
        #expect(try warehouse.client.request("PUT", "/ai-models/u/m").status == 400)
        #expect(try warehouse.client.put("/ai-models/u/other", json: "{\"name\": \"x\"}").status == 404)
        #expect(try warehouse.client.put("/ai-models/u/m?version=v5", json: "{\"name\": \"x\"}").status == 404)
    }

    @Test func deletingAVersionThenTheModelLeavesNothing() throws {
        let warehouse = try TestWarehouse()
        let base = [("user_id", "u"), ("model_id", "m")]
        _ = try warehouse.uploadSingle(base)
        _ = try warehouse.uploadSingle(base)
        _ = try warehouse.uploadSingle([("user_id", "u"), ("model_id", "keep")])

        let one = try warehouse.client.delete("/ai-models/u/m?version=v1")
        #expect(one.status == 200)
        #expect(one.object["deleted_versions"] as? [String] == ["v1"])
        #expect(try warehouse.client.get("/ai-models/u/m?version=v1").status == 404)
        #expect(try warehouse.client.get("/ai-models/u/m").object["version"] as? String == "v2")
        #expect(try warehouse.client.delete("/ai-models/u/m?version=v1").status == 404)

        let all = try warehouse.client.delete("/ai-models/u/m")
        #expect(all.status == 200)
        #expect(try warehouse.client.get("/ai-models/u/m").status == 404)
        #expect(try warehouse.client.delete("/ai-models/u/m").status == 404)
        #expect(warehouse.storedObjectKeys() == ["manifests/models/u/keep/v1.json", "models/u/keep/v1/model.pkl"])
        #expect(try warehouse.client.get("/ai-models/search/u?query=m").array.map { $0["model_id"] as? String } == [])
        // Empty directories are not left behind either (local storage).
        if TestWarehouse.s3Backend == nil {
            #expect(!FileManager.default.fileExists(atPath: warehouse.dataDirectory + "/objects/models/u/m"))
        }
    }

    @Test func restartRecoversInterruptedWork() throws {
        let directory = try TemporaryDirectory()
        let store: any ObjectStore
        do {
            let first = try TestWarehouse(directory: directory)
            _ = try first.uploadSingle([("user_id", "u"), ("model_id", "done")])
            first.stop()
            store = first.store
        }
        // Simulate a crash mid-upload: a pending row, its object and a spool file, and a
        // version caught mid-delete.
        let data = directory.path + "/data"
        let catalog = try Catalog(path: data + "/catalog.sqlite3")
        var draft = ModelVersionRecord(modelID: "crashed", userID: "u", name: "crashed", version: "v1",
                                       framework: .other, modelType: .other, createdAt: Timestamps.now())
        draft.files = []
        _ = try catalog.insertPendingVersion(draft, requestedVersion: nil)
        try store.putData(key: "models/u/crashed/v1/half.bin", data: [1, 2, 3])
        FileManager.default.createFile(atPath: data + "/tmp/upload-stale.part", contents: Data([1]))
        _ = try catalog.beginDelete(user: "u", model: "done", version: "v1")

        let second = try TestWarehouse(directory: directory)
        #expect(second.storedObjectKeys().isEmpty)
        #expect(second.spoolFiles().isEmpty)
        #expect(try second.client.get("/ai-models/u/done").status == 404)
        #expect(try catalog.leftovers().isEmpty)
        #expect(try catalog.integrityCheck() == "ok")
        // The interrupted version number is free again.
        #expect(try second.uploadSingle([("user_id", "u"), ("model_id", "crashed")]).object["version"] as? String == "v1")
    }

    @Test func concurrentUploadsOfTheSameVersionConflict() throws {
        let warehouse = try TestWarehouse()
        let results = ConcurrentResults()
        DispatchQueue.concurrentPerform(iterations: 8) { index in
            let response = try? warehouse.uploadSingle([("user_id", "u"), ("model_id", "race"), ("version", "v1")],
                                                       filename: "file\(index).bin")
            results.append(response?.status ?? -1)
        }
        // Every upload either created v1 or added its own file to it: none is lost.
        #expect(results.values.allSatisfy { $0 == 200 || $0 == 409 })
        let record = try warehouse.client.get("/ai-models/u/race?version=v1")
        let files = record.object["files"] as? [[String: Any]] ?? []
        #expect(files.count == results.values.filter { $0 == 200 }.count)
        #expect(warehouse.storedObjectKeys().count == files.count + 1)
    }
}

@Suite struct ConcurrencyTests {
    /// Ten clients upload the same new version and file name with different bytes: exactly
    /// one wins, nine get 409, and the stored bytes are the winner's.
    @Test func tenClientsOneWinner() throws {
        let warehouse = try TestWarehouse()
        let outcomes = Mutex<[(status: Int, hash: String?)]>([])
        DispatchQueue.concurrentPerform(iterations: 10) { index in
            let bytes = [UInt8](repeating: UInt8(index), count: 100_000 + index)
            let response = try? warehouse.uploadSingle([("user_id", "u"), ("model_id", "race"), ("version", "v1")],
                                                       filename: "weights.bin", content: .bytes(bytes))
            let hash = (response?.object["files"] as? [[String: Any]])?.first?["file_hash"] as? String
            outcomes.withLock { $0.append((response?.status ?? -1, hash)) }
        }
        let results = outcomes.withLock { $0 }
        #expect(results.filter { $0.status == 200 }.count == 1, "\(results.map(\.status))")
        #expect(results.filter { $0.status == 409 }.count == 9)
        let winner = try #require(results.first { $0.status == 200 }?.hash)
        let stored = SHA256.hex(of: try warehouse.store.getData(key: "models/u/race/v1/weights.bin"))
        #expect(stored == winner)
        #expect(warehouse.storedObjectKeys() == ["manifests/models/u/race/v1.json", "models/u/race/v1/weights.bin"])
    }
}

final class ConcurrentResults: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: [Int] = []
    func append(_ value: Int) { lock.lock(); storage.append(value); lock.unlock() }
    var values: [Int] { lock.lock(); defer { lock.unlock() }; return storage }
}
