import Foundation
import Testing
import WarehouseTesting

/// reindex, gc and fsck, run as the built binary against a warehouse's data folder.
@Suite struct MaintenanceCommandTests {
    func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let result = try TestProcess.run(ServeCommandTests.binary, arguments)
        return (result.status, result.output)
    }

    func seed(_ warehouse: TestWarehouse) throws -> [String: Any] {
        #expect(try warehouse.uploadSingle([("user_id", "u"), ("model_id", "a"), ("tags", "x,y")], filename: "a.pkl").status == 200)
        #expect(try warehouse.uploadSingle([("user_id", "u"), ("model_id", "a"), ("version", "v1")], filename: "extra.bin",
                                           content: .bytes([1, 2, 3])).status == 200)
        return try warehouse.client.get("/ai-models/u/a?version=v1").object
    }

    @Test func reindexRebuildsALostCatalog() throws {
        let directory = try TemporaryDirectory()
        let before: [String: Any]
        do {
            let warehouse = try TestWarehouse(directory: directory)
            before = try seed(warehouse)
            let alias = try warehouse.client.request("PUT", "/ai-models/u/a/aliases/production", headers: [("Content-Type", "application/json")],
                                                     body: Array(#"{"version": "v1"}"#.utf8))
            #expect(alias.status == 200, "\(alias.text)")
            warehouse.stop()
        }
        let data = directory.path + "/data"
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: data + "/catalog.sqlite3" + suffix) }
        let result = try run(["reindex", "--data-dir", data])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("1 version(s) imported"))
        #expect(result.output.contains("restored alias u/a @production → v1"), "\(result.output)")

        let after = try TestWarehouse(directory: directory)
        let record = try after.client.get("/ai-models/u/a?version=v1").object
        #expect(record["tags"] as? [String] == ["x", "y"])
        let hashes = { (r: [String: Any]) in (r["files"] as? [[String: Any]] ?? []).compactMap { $0["file_hash"] as? String } }
        #expect(hashes(record) == hashes(before))
        #expect(hashes(record).count == 2)
        #expect(record["created_at"] as? String == before["created_at"] as? String)
        #expect(try after.client.get("/ai-models/search/u?query=a").array.count == 1)
        #expect(record["is_production_ready"] as? Bool == true)
    }

    @Test func gcReportsThenRemovesOrphans() throws {
        let warehouse = try TestWarehouse()
        _ = try seed(warehouse)
        try warehouse.store.putData(key: "models/u/ghost/v1/w.bin", data: [1])
        try warehouse.store.putData(key: "manifests/models/u/ghost/v2.json", data: Array("{}".utf8))
        try warehouse.store.putData(key: "models/u/a/v1/stray.bin", data: [2])
        let data = warehouse.dataDirectory

        let dry = try run(["gc", "--dry-run", "--data-dir", data])
        #expect(dry.status == 0)
        #expect(dry.output.contains("gc: would remove 1 manifest(s), 2 object(s), 0 expired upload session(s) and 0 abandoned parted upload(s)"), "\(dry.output)")
        #expect(warehouse.storedObjectKeys().count == 6)

        let real = try run(["gc", "--data-dir", data])
        #expect(real.status == 0, "\(real.output)")
        #expect(warehouse.storedObjectKeys() == ["manifests/models/u/a/v1.json", "models/u/a/v1/a.pkl", "models/u/a/v1/extra.bin"])
        #expect(try warehouse.client.get("/ai-models/u/a/download?filename=extra.bin").body == [1, 2, 3])
    }

    @Test func fsckFindsDamagedAndMissingFiles() throws {
        let warehouse = try TestWarehouse()
        _ = try seed(warehouse)
        let data = warehouse.dataDirectory
        let clean = try run(["fsck", "--data-dir", data])
        #expect(clean.status == 0, "\(clean.output)")
        #expect(clean.output.contains("2 file(s) checked, 0 mismatch(es)"))

        try warehouse.store.putData(key: "models/u/a/v1/extra.bin", data: [9, 9, 9]) // same size, other bytes
        try warehouse.store.delete(key: "models/u/a/v1/a.pkl")
        let damaged = try run(["fsck", "--data-dir", data])
        #expect(damaged.status == 1)
        #expect(damaged.output.contains("models/u/a/v1/extra.bin: SHA-256"), "\(damaged.output)")
        #expect(damaged.output.contains("models/u/a/v1/a.pkl: missing"), "\(damaged.output)")
    }
}

@Suite struct TokenCommandTests {
    @Test func createListRevokeFromTheCommandLine() throws {
        let warehouse = try TestWarehouse()
        let maintenance = MaintenanceCommandTests()
        let data = warehouse.dataDirectory
        let created = try maintenance.run(["token", "create", "carol", "--data-dir", data])
        #expect(created.status == 0, "\(created.output)")
        let lines = created.output.split(separator: "\n").map(String.init)
        let secret = try #require(lines.last)
        let id = try #require(lines.first?.split(separator: " ").dropFirst().first.map(String.init))
        let carol = warehouse.client.with(token: secret)
        #expect(try carol.get("/ai-models/carol").status == 200)
        #expect(try carol.get("/ai-models/dave").status == 403)
        let listed = try maintenance.run(["token", "list", "--data-dir", data])
        #expect(listed.output.contains(id) && listed.output.contains("carol") && !listed.output.contains(secret))
        #expect(try maintenance.run(["token", "revoke", id, "--data-dir", data]).status == 0)
        #expect(try carol.get("/ai-models/carol").status == 401)
        #expect(try maintenance.run(["token", "frobnicate"]).status == 64)
    }
}
