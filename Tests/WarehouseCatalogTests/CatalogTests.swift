import Foundation
import Testing
@testable import WarehouseCatalog
import WarehouseCore

@Suite struct CatalogTests {
    func makeCatalog() throws -> (Catalog, String) {
        let directory = FileManager.default.temporaryDirectory.path + "/catalog-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return (try Catalog(path: directory + "/catalog.sqlite3"), directory)
    }

    func draft(_ model: String, name: String = "n") -> ModelVersionRecord {
        ModelVersionRecord(modelID: model, userID: "u", name: name, version: "v0", framework: .other, modelType: .other,
                           createdAt: Timestamps.now())
    }

    func commit(_ catalog: Catalog, _ record: ModelVersionRecord, version: String? = nil) throws -> ModelVersionRecord {
        let pending = try catalog.insertPendingVersion(record, requestedVersion: version)
        var ready = record
        ready.version = pending.version
        ready.files = [ModelFile(filename: "a", filePath: "a", fileSize: 1, fileType: "", fileHash: "00", contentType: "x", isPrimary: true)]
        return try catalog.commitVersion(pending, record: ready)
    }

    @Test func pendingVersionsAreInvisibleAndHoldTheirNumber() throws {
        let (catalog, directory) = try makeCatalog()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let pending = try catalog.insertPendingVersion(draft("m"), requestedVersion: nil)
        #expect(pending.version == "v1")
        #expect(try catalog.record(user: "u", model: "m", version: nil) == nil)
        #expect(try catalog.insertPendingVersion(draft("m"), requestedVersion: nil).version == "v2")
        #expect(throws: WarehouseError.self) { try catalog.insertPendingVersion(draft("m"), requestedVersion: "v1") }
        try catalog.abandonVersion(pending)
        #expect(try catalog.insertPendingVersion(draft("m"), requestedVersion: "v1").version == "v1")
    }

    @Test func anAbandonedVersionCannotBeCommitted() throws {
        let (catalog, directory) = try makeCatalog()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let pending = try catalog.insertPendingVersion(draft("m"), requestedVersion: nil)
        try catalog.abandonVersion(pending)
        var ready = draft("m")
        ready.version = pending.version
        #expect(throws: WarehouseError.self) { try catalog.commitVersion(pending, record: ready) }
        #expect(try catalog.record(user: "u", model: "m", version: "v1") == nil)
        #expect(try catalog.leftovers().isEmpty)
    }

    @Test func latestFollowsVersionOrderNotUploadOrder() throws {
        let (catalog, directory) = try makeCatalog()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        _ = try commit(catalog, draft("m"), version: "v2.0")
        _ = try commit(catalog, draft("m"), version: "v10")
        _ = try commit(catalog, draft("m"), version: "v9.9.9")
        #expect(try catalog.record(user: "u", model: "m", version: nil)?.version == "v10")
        #expect(try catalog.versions(user: "u", model: "m").map(\.version) == ["v2.0", "v9.9.9", "v10"])
    }

    @Test func fullTextQueriesAreAlwaysValid() {
        #expect(FullTextQuery.make(from: "resnet") == "\"resnet\"*")
        #expect(FullTextQuery.make(from: "a \"b") == "\"a\"* \"\"\"b\"*")
        #expect(FullTextQuery.make(from: "  ") == nil)
        #expect(FullTextQuery.make(from: "* ( )") == nil)
    }

    @Test func versionNumbersParseAndOrder() {
        #expect(ModelVersionNumber("v1") != nil)
        #expect(ModelVersionNumber("v1.2.3") != nil)
        for bad in ["1", "v", "v1.", "v1.2.3.4", "va", "v-1", "V1", "v1..2"] { #expect(ModelVersionNumber(bad) == nil, "\(bad)") }
        #expect(ModelVersionNumber("v1")! < ModelVersionNumber("v1.0")!)
        #expect(ModelVersionNumber("v2")! < ModelVersionNumber("v10")!)
    }
}
