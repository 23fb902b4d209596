import Foundation
import Synchronization
import WarehouseCore
import WarehouseSQLite

/// The SQLite index of models, versions and files. Owns every SQL statement of the service.
///
/// The bucket is the source of truth; this is an index that can be rebuilt from manifests.
/// Versions are `pending` while uploading, `ready` when committed, `deleting` while their
/// objects are removed; readers only ever see `ready` ones.
public final class Catalog: Sendable {
    let database: SQLiteDatabase
    /// Versions committed since the query planner's statistics were last refreshed.
    private let commitsSinceStatistics = Mutex(0)
    /// Decoded records of recent search hits by row id, with the revision they were read at.
    let recentRecords = Mutex<[Int64: (revision: Int64, record: ModelVersionRecord)]>([:])
    static let recentRecordCapacity = 4096

    /// Rows a filtered listing walks in key order before it collects every match instead
    /// (see `Catalog.search`); small in tests, to reach both plans with little data.
    let filterWindow: Int
    /// The statements searches run, while a test records them (nil otherwise).
    let searchTrace = Mutex<[(sql: String, bindings: [SQLiteValue])]?>(nil)

    public init(path: String, filterWindow: Int = 2000) throws {
        database = try SQLiteDatabase(path: path, migrator: Schema.migrator)
        self.filterWindow = filterWindow
        try refreshStatistics()
    }

    /// Samples the indexes for the query planner (ANALYZE, limited to 1,000 rows an index: 80 ms
    /// at 100,000 models). Without statistics SQLite picks the search indexes badly, and they go
    /// stale as a catalog grows from empty, so this also runs every 2,000 commits.
    public func refreshStatistics() throws {
        try database.withWriter { db in try db.execute("PRAGMA analysis_limit=1000; ANALYZE") }
    }

    private func noteCommit() {
        let due = commitsSinceStatistics.withLock { count in
            count += 1
            if count >= 2000 { count = 0; return true }
            return false
        }
        if due { try? refreshStatistics() }
    }

    // MARK: - Creating versions

    /// Inserts a `pending` version row. With `requestedVersion` nil the version is the next
    /// integer after the highest major version of the model (pending ones included, so two
    /// concurrent uploads never pick the same number; a refused upload's row is removed, so
    /// its number is not consumed).
    public func insertPendingVersion(_ record: ModelVersionRecord, requestedVersion: String?) throws -> PendingVersion {
        try mappingConstraints(conflict: { "version \(requestedVersion ?? "?") of model '\(record.modelID)' already exists" }) {
            try database.write { db in
                let version: String
                if let requestedVersion {
                    if let state = try db.queryOne(
                        "SELECT state FROM versions WHERE user_id = ? AND model_id = ? AND version = ?",
                        [.text(record.userID), .text(record.modelID), .text(requestedVersion)])?.string("state") {
                        throw WarehouseError.alreadyExists(state == "pending"
                            ? "version \(requestedVersion) of model '\(record.modelID)' is being uploaded right now"
                            : "version \(requestedVersion) of model '\(record.modelID)' already exists")
                    }
                    version = requestedVersion
                } else {
                    let highest = try db.queryOne(
                        "SELECT MAX(major) AS highest FROM versions WHERE user_id = ? AND model_id = ?",
                        [.text(record.userID), .text(record.modelID)])?.int("highest") ?? 0
                    version = "v\(highest + 1)"
                }
                let number = try ModelVersionNumber.parse(version)
                var pendingRecord = record
                pendingRecord.version = version
                let id = try insertPendingRow(db, record: record, version: version, number: number)
                try db.run("INSERT INTO version_records (version_id, record) VALUES (?, ?)",
                           [.integer(id), .text(try Self.encode(pendingRecord))])
                return PendingVersion(id: id, version: version)
            }
        }
    }

    /// Makes a pending version visible with its files. Its manifest is in the bucket already
    /// (the version transaction writes it first): nothing but SQLite runs under the writer lock.
    public func commitVersion(_ pending: PendingVersion, record: ModelVersionRecord) throws -> ModelVersionRecord {
        let committed = try mappingConstraints(conflict: { "a file of version \(pending.version) is listed twice" }) {
            try database.write { db in
                for file in record.files {
                    try insertFile(db, versionID: pending.id, file: file, state: "ready", createdAt: record.updatedAt)
                }
                guard try db.queryOne("SELECT id FROM versions WHERE id = ? AND state = 'pending'", [.integer(pending.id)]) != nil else {
                    throw WarehouseError.conflict("version \(pending.version) is no longer being uploaded (it was abandoned or removed)")
                }
                try writeRecord(db, id: pending.id, record: record, state: "ready")
                return record
            }
        }
        noteCommit()
        return committed
    }

    /// Removes a pending version that will not be committed.
    public func abandonVersion(_ pending: PendingVersion) throws {
        try database.write { db in
            try db.run("DELETE FROM versions WHERE id = ? AND state = 'pending'", [.integer(pending.id)])
        }
    }

    // MARK: - Adding a file to a ready version

    /// Reserves `file.filePath` in a ready version (409 if the path exists or is being uploaded).
    public func insertPendingFile(user: String, model: String, version: String, file: ModelFile) throws -> Int64 {
        try mappingConstraints(conflict: { "file '\(file.filePath)' already exists in version \(version) of model '\(model)'" }) {
            try database.write { db in
                let id = try readyVersionID(db, user: user, model: model, version: version)
                try insertFile(db, versionID: id, file: file, state: "pending", createdAt: Self.now())
                return id
            }
        }
    }

    /// Makes a pending file visible with the version's new record (its manifest is written
    /// already): a 404 when the version was deleted meanwhile.
    public func commitFile(versionID: Int64, filePath: String, record: ModelVersionRecord) throws -> ModelVersionRecord {
        try database.write { db in
            guard try db.queryOne("SELECT id FROM versions WHERE id = ? AND state = 'ready'", [.integer(versionID)]) != nil else {
                throw WarehouseError.notFound("version \(record.version) was deleted while the file was uploading")
            }
            try db.run("UPDATE files SET state = 'ready' WHERE version_id = ? AND file_path = ?",
                       [.integer(versionID), .text(filePath)])
            try writeFiles(db, versionID: versionID, record: record)
            try writeRecord(db, id: versionID, record: record, state: "ready")
            return try loadRecord(db, id: versionID) ?? record
        }
    }

    public func abandonFile(versionID: Int64, filePath: String) throws {
        try database.write { db in
            try db.run("DELETE FROM files WHERE version_id = ? AND file_path = ? AND state = 'pending'",
                       [.integer(versionID), .text(filePath)])
        }
    }

    // MARK: - Reading

    /// A ready version, or the latest ready version when `version` is nil.
    public func record(user: String, model: String, version: String?) throws -> ModelVersionRecord? {
        try database.read { db in
            guard let id = try versionID(db, user: user, model: model, version: version) else { return nil }
            return try loadRecord(db, id: id)
        }
    }

    /// Every ready version of a model, oldest first.
    public func versions(user: String, model: String) throws -> [ModelVersionRecord] {
        try database.read { db in
            try db.query("""
                SELECT id FROM versions WHERE user_id = ? AND model_id = ? AND state = 'ready'
                ORDER BY major, minor, patch
                """, [.text(user), .text(model)]).compactMap { row in try loadRecord(db, id: Int64(row.int("id")!)) }
        }
    }

    /// The ready versions of a model, oldest first, by name only (no record is read).
    public func versionNames(user: String, model: String) throws -> [String] {
        try database.read { db in
            try db.query("""
                SELECT version FROM versions WHERE user_id = ? AND model_id = ? AND state = 'ready'
                ORDER BY major, minor, patch
                """, [.text(user), .text(model)]).compactMap { $0.string("version") }
        }
    }

    // MARK: - Updating

    /// Replaces a ready version's record (its manifest is written already): a 404 when the
    /// version is gone.
    public func replace(_ record: ModelVersionRecord) throws -> ModelVersionRecord {
        try database.write { db in
            guard let id = try db.queryOne("SELECT id FROM versions WHERE user_id = ? AND model_id = ? AND version = ? AND state = 'ready'",
                                           [.text(record.userID), .text(record.modelID), .text(record.version)])?.int("id") else {
                throw WarehouseError.notFound(Self.describe(model: record.modelID, version: record.version) + " not found")
            }
            try writeFiles(db, versionID: Int64(id), record: record)
            try writeRecord(db, id: Int64(id), record: record, state: "ready")
            return try loadRecord(db, id: Int64(id)) ?? record
        }
    }

    // MARK: - Deleting

    /// Hides one ready version (or, with nil, every ready version of the model) by marking it
    /// `deleting`, and returns the records whose objects must now be removed. A version that
    /// holds an alias is a 409 unless `force`, which removes its aliases (kept in the history).
    public func beginDelete(user: String, model: String, version: String?, force: Bool = false,
                            now: String = Timestamps.now(), publish: AliasPublisher = { _ in }) throws -> [(id: Int64, record: ModelVersionRecord)] {
        try database.write { db in
            let rows: [SQLiteRow]
            if let version, version.hasPrefix("@") {
                guard let id = try versionID(db, user: user, model: model, version: version) else {
                    throw WarehouseError.notFound(Self.describe(model: model, version: version) + " not found")
                }
                rows = try db.query("SELECT id FROM versions WHERE id = ?", [.integer(id)])
            } else if let version {
                rows = try db.query("SELECT id FROM versions WHERE user_id = ? AND model_id = ? AND version = ? AND state = 'ready'",
                                    [.text(user), .text(model), .text(version)])
            } else {
                rows = try db.query("SELECT id FROM versions WHERE user_id = ? AND model_id = ? AND state = 'ready'",
                                    [.text(user), .text(model)])
            }
            guard !rows.isEmpty else {
                throw WarehouseError.notFound(Self.describe(model: model, version: version) + " not found")
            }
            var doomed: [(id: Int64, record: ModelVersionRecord)] = []
            for row in rows {
                let id = Int64(row.int("id")!)
                guard let record = try loadRecord(db, id: id) else { continue }
                doomed.append((id, record))
            }
            let held = try aliasesHeld(db, user: user, model: model, versions: doomed.map(\.record.version))
            if !held.isEmpty && !force {
                let list = held.map { "'\($0.alias)' → \($0.version)" }.joined(separator: ", ")
                throw WarehouseError.conflict("\(Self.describe(model: model, version: version)) holds the alias \(list); move it first or delete with force=true")
            }
            for alias in held {
                try moveAlias(db, user: user, model: model, alias: alias.alias, to: nil, action: "removed",
                              reason: "version \(alias.version) deleted", now: now)
            }
            if !held.isEmpty { try publish(try aliasMap(db, user: user, model: model)) }
            for (id, _) in doomed {
                try db.run("UPDATE versions SET state = 'deleting' WHERE id = ?", [.integer(id)])
            }
            return doomed
        }
    }

    /// Removes the rows of a version whose objects are gone.
    public func finishDelete(id: Int64) throws {
        try database.write { db in
            // Its predictions and their feedback go with it.
            try db.run("""
                DELETE FROM predictions WHERE (user_id, model_id, version) IN
                    (SELECT user_id, model_id, version FROM versions WHERE id = ?)
                """, [.integer(id)])
            try db.run("DELETE FROM versions WHERE id = ?", [.integer(id)])
        }
    }

    // MARK: - Recovery

    /// What an interrupted process left: versions never committed or never fully deleted, and
    /// files never committed. Startup recovery removes their objects, then calls `forget`.
    public func leftovers() throws -> [Leftover] {
        try database.read { db in
            var leftovers: [Leftover] = []
            // A pending version an open upload session reserved is not a leftover: the session resumes.
            for row in try db.query("""
                SELECT id, user_id, model_id, version, state FROM versions WHERE state != 'ready'
                AND id NOT IN (SELECT version_id FROM upload_sessions WHERE state = 'open' AND version_id IS NOT NULL)
                """) {
                leftovers.append(Leftover(kind: row.string("state") == "pending" ? .pendingVersion : .deletingVersion,
                                          versionID: Int64(row.int("id")!), user: row.string("user_id")!,
                                          model: row.string("model_id")!, version: row.string("version")!, filePath: nil))
            }
            for row in try db.query("""
                SELECT f.version_id, v.user_id, v.model_id, v.version, f.file_path
                FROM files f JOIN versions v ON v.id = f.version_id
                WHERE f.state = 'pending' AND v.state = 'ready'
                """) {
                leftovers.append(Leftover(kind: .pendingFile, versionID: Int64(row.int("version_id")!),
                                          user: row.string("user_id")!, model: row.string("model_id")!,
                                          version: row.string("version")!, filePath: row.string("file_path")))
            }
            return leftovers
        }
    }

    /// Drops a leftover's rows once its objects are gone.
    public func forget(_ leftover: Leftover) throws {
        try database.write { db in
            switch leftover.kind {
            case .pendingVersion, .deletingVersion:
                try db.run("DELETE FROM versions WHERE id = ? AND state != 'ready'", [.integer(leftover.versionID)])
            case .pendingFile:
                try db.run("DELETE FROM files WHERE version_id = ? AND file_path = ? AND state = 'pending'",
                           [.integer(leftover.versionID), .text(leftover.filePath ?? "")])
            }
        }
    }

    /// `PRAGMA integrity_check`: "ok" or SQLite's list of problems.
    public func integrityCheck() throws -> String {
        try database.withWriter { db in
            try db.query("PRAGMA integrity_check").map { $0.string("integrity_check") ?? "" }.joined(separator: "\n")
        }
    }

    // MARK: - Rows

    /// `version` is a version, `@alias`, or nil for the latest.
    private func versionID(_ db: SQLiteConnection, user: String, model: String, version: String?) throws -> Int64? {
        let row: SQLiteRow?
        if let version, version.hasPrefix("@") {
            row = try db.queryOne("""
                SELECT v.id FROM aliases a
                JOIN versions v ON v.user_id = a.user_id AND v.model_id = a.model_id AND v.version = a.version
                WHERE a.user_id = ? AND a.model_id = ? AND a.alias = ? AND v.state = 'ready'
                """, [.text(user), .text(model), .text(String(version.dropFirst()))])
        } else if let version {
            row = try db.queryOne("SELECT id FROM versions WHERE user_id = ? AND model_id = ? AND version = ? AND state = 'ready'",
                                  [.text(user), .text(model), .text(version)])
        } else {
            row = try db.queryOne("""
                SELECT id FROM versions WHERE user_id = ? AND model_id = ? AND state = 'ready'
                ORDER BY major DESC, minor DESC, patch DESC LIMIT 1
                """, [.text(user), .text(model)])
        }
        return row?.int("id").map(Int64.init)
    }

    private func readyVersionID(_ db: SQLiteConnection, user: String, model: String, version: String) throws -> Int64 {
        guard let id = try versionID(db, user: user, model: model, version: version) else {
            throw WarehouseError.notFound(Self.describe(model: model, version: version) + " not found")
        }
        return id
    }

    func loadRecord(_ db: SQLiteConnection, id: Int64) throws -> ModelVersionRecord? {
        guard let row = try db.queryOne("SELECT record FROM version_records WHERE version_id = ?", [.integer(id)]),
              let json = row.string("record") else { return nil }
        var record = try JSONDecoder().decode(ModelVersionRecord.self, from: Data(json.utf8))
        record.files = try db.query("""
            SELECT filename, file_path, file_size, file_type, file_hash, content_type, is_primary, description, format, store_etag
            FROM files WHERE version_id = ? AND state = 'ready' ORDER BY file_path
            """, [.integer(id)]).map { file in
            var stored = ModelFile(filename: file.string("filename")!, filePath: file.string("file_path")!,
                                   fileSize: UInt64(file.int("file_size")!), fileType: file.string("file_type")!,
                                   fileHash: file.string("file_hash")!, contentType: file.string("content_type")!,
                                   isPrimary: file.bool("is_primary"), description: file.string("description"), format: file.string("format"))
            stored.storeETag = file.string("store_etag")
            return stored
        }
        record.primaryFilePath = record.files.first(where: \.isPrimary)?.filePath
        // Mirrors the alias table, whatever the stored record says.
        record.aliases = try db.query("""
            SELECT alias FROM aliases WHERE user_id = ? AND model_id = ? AND version = ? ORDER BY alias
            """, [.text(record.userID), .text(record.modelID), .text(record.version)]).compactMap { $0.string("alias") }
        record.isProductionReady = record.aliases.contains(Self.productionAlias)
        return record
    }

    /// A `pending` row for `version` of the record's model; its id.
    func insertPendingRow(_ db: SQLiteConnection, record: ModelVersionRecord, version: String,
                          number: ModelVersionNumber) throws -> Int64 {
        try db.run("""
            INSERT INTO versions (user_id, model_id, version, major, minor, patch, state, created_at, updated_at)
            VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?)
            """, [.text(record.userID), .text(record.modelID), .text(version),
                  .init(number.parts.major), .init(number.parts.minor), .init(number.parts.patch),
                  .text(record.createdAt), .text(record.updatedAt)])
        return db.lastInsertRowID
    }

    func insertFile(_ db: SQLiteConnection, versionID: Int64, file: ModelFile, state: String, createdAt: String) throws {
        try db.run("""
            INSERT INTO files (version_id, file_path, state, filename, file_size, file_type, file_hash, content_type,
                               is_primary, description, created_at, format, store_etag)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, [.integer(versionID), .text(file.filePath), .text(state), .text(file.filename),
                  .integer(Int64(file.fileSize)), .text(file.fileType), .text(file.fileHash), .text(file.contentType),
                  .init(file.isPrimary), .init(file.description), .text(createdAt), .init(file.format), .init(file.storeETag)])
    }

    /// Writes back the per-file fields a record change may touch (primary flag, description).
    private func writeFiles(_ db: SQLiteConnection, versionID: Int64, record: ModelVersionRecord) throws {
        for file in record.files {
            try db.run("UPDATE files SET is_primary = ?, description = ?, store_etag = ? WHERE version_id = ? AND file_path = ?",
                       [.init(file.isPrimary), .init(file.description), .init(file.storeETag), .integer(versionID), .text(file.filePath)])
        }
    }

    func writeRecord(_ db: SQLiteConnection, id: Int64, record: ModelVersionRecord, state: String) throws {
        try db.run("""
            UPDATE versions SET state = ?, name = ?, description = ?, algorithm = ?, framework = ?, model_type = ?,
                tags = ?, created_at = ?, updated_at = ?, formats = ?, num_parameters = ?, details = ?, commit_sha = ?,
                revision = random()
            WHERE id = ?
            """, [.text(state), .text(record.name), .text(record.description ?? ""), .text(record.algorithm ?? ""),
                  .text(record.framework.rawValue), .text(record.modelType.rawValue),
                  .text(record.tags.joined(separator: " ")), .text(record.createdAt), .text(record.updatedAt),
                  .text(record.formats.joined(separator: " ")), .init(record.numParameters), .text(record.searchDetails),
                  .init(record.commitSHA), .integer(id)])
        try db.run("INSERT OR REPLACE INTO version_records (version_id, record) VALUES (?, ?)",
                   [.integer(id), .text(try Self.encode(record))])
        try Self.writeSearchColumns(db, id: id, record: record)
        try db.run("DELETE FROM version_tags WHERE version_id = ?", [.integer(id)])
        for tag in record.tags {
            try db.run("INSERT OR IGNORE INTO version_tags (version_id, tag) VALUES (?, ?)", [.integer(id), .text(tag)])
        }
    }

    static func encode(_ record: ModelVersionRecord) throws -> String {
        var stored = record
        stored.files = []
        stored.aliases = []
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(stored), as: UTF8.self)
    }

    public static func describe(model: String, version: String?) -> String {
        guard let version else { return "model '\(model)'" }
        if version.hasPrefix("@") { return "alias '\(version.dropFirst())' of model '\(model)'" }
        return "version \(version) of model '\(model)'"
    }

    public static func now() -> String {
        Timestamps.now()
    }

    /// Unique violations become `alreadyExists` (409) by result code, never by message text.
    private func mappingConstraints<T>(conflict: () -> String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as SQLiteError where error.isUniqueViolation {
            throw WarehouseError.alreadyExists(conflict())
        }
    }
}

/// Something an interrupted process left behind in the catalog.
public struct Leftover: Sendable {
    public enum Kind: Sendable { case pendingVersion, deletingVersion, pendingFile }
    public let kind: Kind
    public let versionID: Int64
    public let user: String
    public let model: String
    public let version: String
    public let filePath: String?
}

extension Catalog {
    /// A cheap liveness probe of the database (for /health).
    public func integrityCheckQuick() throws -> Bool {
        try database.read { db in try db.queryOne("SELECT 1 AS ok")?.int("ok") == 1 }
    }
}

// MARK: - Rebuilding from manifests

extension Catalog {
    /// Puts a manifest's record into the catalog as a ready version, replacing whatever row
    /// had that key (the bucket is the source of truth).
    public func importVersion(_ record: ModelVersionRecord) throws {
        try importVersions([record])
    }

    /// Imports records in one transaction: reindex passes a few hundred at a time (one
    /// transaction each made rebuilding 160,000 versions take three times as long).
    public func importVersions(_ records: [ModelVersionRecord]) throws {
        let numbers = try records.map { try ModelVersionNumber.parse($0.version) }
        try database.write { db in
            for (record, number) in zip(records, numbers) {
                try db.run("DELETE FROM versions WHERE user_id = ? AND model_id = ? AND version = ?",
                           [.text(record.userID), .text(record.modelID), .text(record.version)])
                let id = try insertPendingRow(db, record: record, version: record.version, number: number)
                for file in record.files {
                    try insertFile(db, versionID: id, file: file, state: "ready", createdAt: record.updatedAt)
                }
                try writeRecord(db, id: id, record: record, state: "ready")
            }
        }
    }

    /// Keys (user, model, version) of every version in the catalog, whatever its state, with it.
    public func allVersions() throws -> [(user: String, model: String, version: String, state: String)] {
        try database.read { db in
            try db.query("SELECT user_id, model_id, version, state FROM versions ORDER BY user_id, model_id, major, minor, patch")
                .map { ($0.string("user_id")!, $0.string("model_id")!, $0.string("version")!, $0.string("state")!) }
        }
    }

    /// Every ready version of `user`'s models (nil: everyone's), by user, model and version.
    public func readyRecords(user: String?) throws -> [ModelVersionRecord] {
        guard let user else { return try allReadyRecords() }
        return try database.read { db in
            try db.query("SELECT id FROM versions WHERE user_id = ? AND state = 'ready' ORDER BY model_id, major, minor, patch", [.text(user)])
                .compactMap { try loadRecord(db, id: Int64($0.int("id")!)) }
        }
    }

    /// Every ready version's record (for fsck).
    public func allReadyRecords() throws -> [ModelVersionRecord] {
        try database.read { db in
            try db.query("SELECT id FROM versions WHERE state = 'ready' ORDER BY user_id, model_id, major, minor, patch")
                .compactMap { try loadRecord(db, id: Int64($0.int("id")!)) }
        }
    }
}

/// A full disk is the catalog's one SQLite failure with a status of its own (507).
extension SQLiteError: WarehouseErrorConvertible {
    public var warehouseError: WarehouseError? {
        code == .full ? .insufficientStorage("the catalog's disk is full") : nil
    }
}
