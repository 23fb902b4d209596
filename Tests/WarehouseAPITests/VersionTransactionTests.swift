import Foundation
import Testing
import WarehouseCore
import WarehouseCrypto
import WarehouseService
import WarehouseTesting

/// The version transaction's derived versions (a parent's files plus additions minus
/// deletions, as the Hub's and MLflow's commits make them), and what a failure at each step
/// leaves: nothing. Runs on the local store and, in the S3 pass, on a bucket.
@Suite struct VersionTransactionTests {
    /// v1 with three files, uploaded one by one into the same version.
    func makeParent(_ warehouse: TestWarehouse) throws -> [String: [UInt8]] {
        let contents: [String: [UInt8]] = [
            "model.safetensors": Array(SecureRandom.bytes(300_000)),
            "config.json": Array("{\"model_type\": \"bert\"}".utf8),
            "README.md": Array("# the first one".utf8),
        ]
        for name in ["model.safetensors", "config.json", "README.md"] {
            let response = try warehouse.uploadSingle([("user_id", "u"), ("model_id", "m"), ("version", "v1")], filename: name,
                                                      content: .bytes(contents[name]!))
            #expect(response.status == 200, "\(response.text)")
        }
        return contents
    }

    func spool(_ warehouse: TestWarehouse, _ path: String, _ bytes: [UInt8]) -> IncomingFile {
        let spoolPath = warehouse.application.spoolDirectory + "/test-\(UUID().uuidString)"
        FileManager.default.createFile(atPath: spoolPath, contents: Data(bytes))
        return IncomingFile(filename: path, contentType: nil, spoolPath: spoolPath, size: UInt64(bytes.count),
                            sha256: SHA256.hex(of: bytes))
    }

    func download(_ warehouse: TestWarehouse, version: String, file: String) throws -> (status: Int, bytes: [UInt8]) {
        var bytes: [UInt8] = []
        let response = try warehouse.client.download("/ai-models/u/m/download?version=\(version)&filename=\(file)") {
            bytes.append(contentsOf: $0)
        }
        return (response.status, bytes)
    }

    @Test func derivedVersionCarriesTheParentsFilesWithTheChanges() throws {
        let warehouse = try TestWarehouse()
        let parent = try makeParent(warehouse)
        let newConfig = Array("{\"model_type\": \"roberta\"}".utf8)
        let tokenizer = Array("{\"version\": \"1.0\"}".utf8)
        let derived = try warehouse.application.service.deriveVersion(
            user: "u", model: "m", parent: nil,
            changes: VersionChanges(additions: [spool(warehouse, "config.json", newConfig), spool(warehouse, "tok/tokenizer.json", tokenizer)],
                                    deletions: ["README.md"]),
            requireLatest: true) { record in
            record.description = "second commit"
        }
        #expect(derived.version == "v2")
        #expect(derived.description == "second commit")
        #expect(derived.files.map(\.filePath) == ["config.json", "model.safetensors", "tok/tokenizer.json"])
        #expect(derived.primaryFilePath == "model.safetensors")
        #expect(derived.files.first { $0.filePath == "config.json" }?.fileHash == SHA256.hex(of: newConfig))
        #expect(derived.files.first { $0.filePath == "model.safetensors" }?.fileHash == SHA256.hex(of: parent["model.safetensors"]!))

        // The parent is untouched, and the child's bytes are its own: they outlive the parent.
        let v1 = try warehouse.client.get("/ai-models/u/m?version=v1")
        #expect((v1.object["files"] as? [[String: Any]])?.count == 3)
        #expect(try download(warehouse, version: "v1", file: "config.json").bytes == parent["config.json"])
        #expect(try warehouse.client.delete("/ai-models/u/m?version=v1").status == 200)
        for (file, expected) in [("model.safetensors", parent["model.safetensors"]!), ("config.json", newConfig),
                                 ("tok/tokenizer.json", tokenizer)] {
            let fetched = try download(warehouse, version: "v2", file: file)
            #expect(fetched.status == 200, "\(file)")
            #expect(fetched.bytes == expected, "\(file)")
        }
        #expect(try download(warehouse, version: "v2", file: "README.md").status == 404)
        // The manifest says the same, so a reindex brings back the same version.
        let manifest = try Manifest.decode(try warehouse.store.getData(key: "manifests/models/u/m/v2.json"))
        #expect(manifest.files.map(\.filePath) == derived.files.map(\.filePath))
    }

    @Test func badChangesAndStaleParentsCreateNothing() throws {
        let warehouse = try TestWarehouse()
        _ = try makeParent(warehouse)
        let service = warehouse.application.service
        #expect(throws: WarehouseError.notFound("file 'absent.bin' is not in version v1 of model 'm'")) {
            try service.deriveVersion(user: "u", model: "m", parent: "v1", changes: VersionChanges(deletions: ["absent.bin"]))
        }
        #expect(throws: WarehouseError.self) {
            try service.deriveVersion(user: "u", model: "m", parent: "v1", changes: VersionChanges(deletions: ["../etc/passwd"]))
        }
        #expect(throws: WarehouseError.self) {
            try service.deriveVersion(user: "u", model: "m", parent: "v1",
                                      changes: VersionChanges(deletions: ["model.safetensors", "config.json", "README.md"]))
        }
        _ = try service.deriveVersion(user: "u", model: "m", parent: "v1", changes: VersionChanges(deletions: ["README.md"]))
        // v1 is no longer the latest: a commit on top of it is a conflict, not a silent fork.
        #expect {
            try service.deriveVersion(user: "u", model: "m", parent: "v1", changes: VersionChanges(deletions: ["config.json"]),
                                      requireLatest: true)
        } throws: { error in
            guard case WarehouseError.conflict(let detail) = error else { return false }
            return detail.contains("no longer the latest")
        }
        #expect(try service.versions(user: "u", model: "m").map(\.version) == ["v1", "v2"])
        #expect(!warehouse.storedObjectKeys().contains { $0.contains("/v3") }, "\(warehouse.storedObjectKeys())")
    }

    /// A store failure at each step of a derivation (copying a kept file, storing an addition,
    /// writing the manifest) leaves no version, no object and no row behind.
    @Test(arguments: [ObjectStoreOperation.copy, .put])
    func aFailureAtAnyStepLeavesNothing(_ operation: ObjectStoreOperation) throws {
        let faults = StoreFaults()
        let warehouse = try TestWarehouse(faults: faults)
        _ = try makeParent(warehouse)
        let before = warehouse.storedObjectKeys()
        let prefixes = operation == .copy ? ["models/u/m/v2/"] : ["models/u/m/v2/added.bin", "manifests/models/u/m/v2"]
        for prefix in prefixes {
            faults.fail(operation, keyPrefix: prefix)
            #expect(throws: WarehouseError.self) {
                try warehouse.application.service.deriveVersion(
                    user: "u", model: "m", parent: "v1",
                    changes: VersionChanges(additions: [spool(warehouse, "added.bin", [1, 2, 3])]))
            }
            #expect(faults.pendingFaults == 0, "the fault at \(prefix) was not reached")
            #expect(warehouse.storedObjectKeys() == before, "\(prefix): \(warehouse.storedObjectKeys())")
            #expect(try warehouse.client.get("/ai-models/u/m?version=v2").status == 404)
        }
        // The number was not consumed, and the next derivation works.
        let next = try warehouse.application.service.deriveVersion(
            user: "u", model: "m", parent: "v1", changes: VersionChanges(additions: [spool(warehouse, "added.bin", [1, 2, 3])]))
        #expect(next.version == "v2")
    }
}

/// Alias moves write the bucket first, outside the catalog's transaction: a bucket that
/// refuses the alias manifest leaves the alias where it was, in the catalog and the bucket.
@Suite struct AliasManifestTests {
    @Test func aRefusedAliasManifestMovesNothing() throws {
        let faults = StoreFaults()
        let warehouse = try TestWarehouse(faults: faults)
        for _ in 0..<2 { #expect(try warehouse.uploadSingle([("user_id", "u"), ("model_id", "m")]).status == 200) }
        #expect(try warehouse.client.put("/ai-models/u/m/aliases/production", json: #"{"version": "v1"}"#).status == 200)
        let manifest = warehouse.storedText("manifests/aliases/u/m.json")
        #expect(manifest.contains("\"production\" : \"v1\""), "\(manifest)")

        faults.fail(.put, keyPrefix: "manifests/aliases/u/m")
        let refused = try warehouse.client.put("/ai-models/u/m/aliases/production", json: #"{"version": "v2"}"#)
        #expect(refused.status == 503, "\(refused.text)")
        #expect(faults.pendingFaults == 0)
        #expect(try warehouse.client.get("/ai-models/u/m?version=@production").object["version"] as? String == "v1")
        #expect(warehouse.storedText("manifests/aliases/u/m.json") == manifest)

        // Removing the last alias removes the manifest; a refused removal keeps both.
        faults.fail(.delete, keyPrefix: "manifests/aliases/u/m")
        #expect(try warehouse.client.delete("/ai-models/u/m/aliases/production").status == 503)
        #expect(try warehouse.client.get("/ai-models/u/m?version=@production").status == 200)
        #expect(try warehouse.client.delete("/ai-models/u/m/aliases/production").status == 200)
        #expect(try warehouse.client.get("/ai-models/u/m?version=@production").status == 404)
        #expect(!warehouse.storedObjectKeys().contains("manifests/aliases/u/m.json"))
    }
}
