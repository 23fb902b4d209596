import Foundation
import WarehouseCore
import WarehouseSQLite

/// The SQLite index of models, versions and files. Owns every SQL statement of the service.
///
/// The bucket is the source of truth; this is an index that can be rebuilt from manifests.
/// Versions are `pending` while uploading, `ready` when committed, `deleting` while their
/// objects are removed; readers only ever see `ready` ones.
public final class Catalog: Sendable {
    let database: SQLiteDatabase

    public init(path: String) throws {
        database = try SQLiteDatabase(path: path, migrator: Schema.migrator)
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
                try db.run("""
                    INSERT INTO versions (user_id, model_id, version, major, minor, patch, state, record, created_at, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)
                    """, [.text(record.userID), .text(record.modelID), .text(version),
                          .init(number.parts.major), .init(number.parts.minor), .init(number.parts.patch),
                          .text(try Self.encode(pendingRecord)), .text(record.createdAt), .text(record.updatedAt)])
                return PendingVersion(id: db.lastInsertRowID, version: version)
            }
        }
    }

    /// Makes a pending version visible with its files. `publish` runs inside the transaction
    /// (it writes the manifest): if it throws, nothing is committed.
    public func commitVersion(_ pending: PendingVersion, record: ModelVersionRecord,
                              publish: (ModelVersionRecord) throws -> Void) throws -> ModelVersionRecord {
        try mappingConstraints(conflict: { "a file of version \(pending.version) is listed twice" }) {
            try database.write { db in
                for file in record.files {
                    try insertFile(db, versionID: pending.id, file: file, state: "ready", createdAt: record.updatedAt)
                }
                try writeRecord(db, id: pending.id, record: record, state: "ready")
                try publish(record)
                return record
            }
        }
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

    /// Makes a pending file visible, updating the version's record (primary file, time) and
    /// publishing it (manifest) inside the same transaction.
    public func commitFile(versionID: Int64, filePath: String, makePrimary: Bool, updatedAt: String,
                           change: (inout ModelVersionRecord) -> Void = { _ in },
                           publish: (ModelVersionRecord) throws -> Void) throws -> ModelVersionRecord {
        try database.write { db in
            try db.run("UPDATE files SET state = 'ready' WHERE version_id = ? AND file_path = ?",
                       [.integer(versionID), .text(filePath)])
            guard var record = try loadRecord(db, id: versionID) else {
                throw WarehouseError.notFound("version was deleted while the file was uploading")
            }
            if makePrimary || record.primaryFilePath == nil {
                record.choosePrimary(filePath)
            }
            record.updatedAt = updatedAt
            change(&record)
            try writeFiles(db, versionID: versionID, record: record)
            try writeRecord(db, id: versionID, record: record, state: "ready")
            try publish(record)
            return record
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

    /// The latest matching ready version of each matching model, ranked by relevance when the
    /// query has text, else by model id. Also answers the total count before paging.
    public func search(_ query: ModelQuery) throws -> (records: [ModelVersionRecord], total: Int, nextCursor: String?) {
        var conditions = ["v.user_id = ?", "v.state = 'ready'"]
        var bindings: [SQLiteValue] = []
        var hits = ""
        var from = "versions v"
        var rank = "0"
        if let text = query.text, let match = FullTextQuery.make(from: text) {
            // bm25() only works in a plain FTS query, so rank in a materialized CTE first.
            // Column weights: name, description, tags, algorithm, model_id, details.
            hits = """
                hits AS MATERIALIZED (
                    SELECT rowid AS id, bm25(versions_fts, 10.0, 2.0, 5.0, 3.0, 8.0, 2.0) AS rank
                    FROM versions_fts WHERE versions_fts MATCH ?
                ),
                """
            bindings.append(.text(match))
            from = "hits h JOIN versions v ON v.id = h.id"
            rank = "h.rank"
        }
        let order = try SearchOrder.parse(query.orderBy, hasText: !hits.isEmpty)
        bindings += order.bindings
        bindings.append(.text(query.userID))
        if let framework = query.framework {
            conditions.append("v.framework = ?")
            bindings.append(.text(framework.rawValue))
        }
        if let modelType = query.modelType {
            conditions.append("v.model_type = ?")
            bindings.append(.text(modelType.rawValue))
        }
        if let format = query.format {
            conditions.append("(' ' || v.formats || ' ') LIKE ('% ' || ? || ' %')")
            bindings.append(.text(format))
        }
        if let minimum = query.minParameters {
            conditions.append("v.num_parameters >= ?")
            bindings.append(.integer(minimum))
        }
        if let maximum = query.maxParameters {
            conditions.append("v.num_parameters <= ?")
            bindings.append(.integer(maximum))
        }
        for tag in query.tags {
            conditions.append("EXISTS (SELECT 1 FROM version_tags t WHERE t.version_id = v.id AND t.tag = ?)")
            bindings.append(.text(tag))
        }
        if let filter = query.filter {
            let expression = try FilterExpression.parse(filter)
            conditions.append("(" + expression.sql + ")")
            bindings += expression.bindings
        }
        let matches = """
            WITH \(hits)
            matches AS (
                SELECT v.id, v.model_id, \(rank) AS rank, \(order.key) AS sort_key,
                       ROW_NUMBER() OVER (PARTITION BY v.model_id ORDER BY v.major DESC, v.minor DESC, v.patch DESC) AS position
                FROM \(from) WHERE \(conditions.joined(separator: " AND "))
            )
            """
        return try database.read { db in
            let total = try db.queryOne(matches + " SELECT COUNT(*) AS total FROM matches WHERE position = 1", bindings)?
                .int("total") ?? 0
            var page = ""
            var pageBindings: [SQLiteValue] = []
            if let cursor = query.cursor {
                let after = try order.after(cursor)
                page = " AND " + after.sql
                pageBindings = after.bindings
            }
            let direction = order.descending ? "DESC" : "ASC"
            let rows = try db.query(
                matches + " SELECT id, model_id, sort_key FROM matches WHERE position = 1\(page) ORDER BY sort_key \(direction), model_id LIMIT ? OFFSET ?",
                bindings + pageBindings + [.init(query.limit), .init(query.cursor == nil ? query.skip : 0)])
            let records = try rows.compactMap { row in try loadRecord(db, id: Int64(row.int("id")!)) }
            let next = rows.count == query.limit ? rows.last.map { order.cursor(key: $0["sort_key"], model: $0.string("model_id")!) } : nil
            return (records, total, next)
        }
    }

    // MARK: - Updating

    /// Applies `change` to a ready version's record and publishes the result, in one transaction.
    public func update(user: String, model: String, version: String?,
                       change: (inout ModelVersionRecord) throws -> Void,
                       publish: (ModelVersionRecord) throws -> Void) throws -> ModelVersionRecord {
        try database.write { db in
            guard let id = try versionID(db, user: user, model: model, version: version),
                  var record = try loadRecord(db, id: id) else {
                throw WarehouseError.notFound(Self.describe(model: model, version: version) + " not found")
            }
            try change(&record)
            try writeFiles(db, versionID: id, record: record)
            try writeRecord(db, id: id, record: record, state: "ready")
            try publish(record)
            return record
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
            for row in try db.query("SELECT id, user_id, model_id, version, state FROM versions WHERE state != 'ready'") {
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
        guard let row = try db.queryOne("SELECT record FROM versions WHERE id = ?", [.integer(id)]),
              let json = row.string("record") else { return nil }
        var record = try JSONDecoder().decode(ModelVersionRecord.self, from: Data(json.utf8))
        record.files = try db.query("""
            SELECT filename, file_path, file_size, file_type, file_hash, content_type, is_primary, description, format
            FROM files WHERE version_id = ? AND state = 'ready' ORDER BY file_path
            """, [.integer(id)]).map { file in
            ModelFile(filename: file.string("filename")!, filePath: file.string("file_path")!,
                      fileSize: UInt64(file.int("file_size")!), fileType: file.string("file_type")!,
                      fileHash: file.string("file_hash")!, contentType: file.string("content_type")!,
                      isPrimary: file.bool("is_primary"), description: file.string("description"), format: file.string("format"))
        }
        record.primaryFilePath = record.files.first(where: \.isPrimary)?.filePath
        // Mirrors the production alias, whatever the stored record says.
        record.isProductionReady = try db.queryOne("""
            SELECT 1 AS held FROM aliases WHERE user_id = ? AND model_id = ? AND alias = ? AND version = ?
            """, [.text(record.userID), .text(record.modelID), .text(Self.productionAlias), .text(record.version)]) != nil
        return record
    }

    func insertFile(_ db: SQLiteConnection, versionID: Int64, file: ModelFile, state: String, createdAt: String) throws {
        try db.run("""
            INSERT INTO files (version_id, file_path, state, filename, file_size, file_type, file_hash, content_type,
                               is_primary, description, created_at, format)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, [.integer(versionID), .text(file.filePath), .text(state), .text(file.filename),
                  .integer(Int64(file.fileSize)), .text(file.fileType), .text(file.fileHash), .text(file.contentType),
                  .init(file.isPrimary), .init(file.description), .text(createdAt), .init(file.format)])
    }

    /// Writes back the per-file fields a record change may touch (primary flag, description).
    private func writeFiles(_ db: SQLiteConnection, versionID: Int64, record: ModelVersionRecord) throws {
        for file in record.files {
            try db.run("UPDATE files SET is_primary = ?, description = ? WHERE version_id = ? AND file_path = ?",
                       [.init(file.isPrimary), .init(file.description), .integer(versionID), .text(file.filePath)])
        }
    }

    func writeRecord(_ db: SQLiteConnection, id: Int64, record: ModelVersionRecord, state: String) throws {
        try db.run("""
            UPDATE versions SET state = ?, name = ?, description = ?, algorithm = ?, framework = ?, model_type = ?,
                tags = ?, record = ?, updated_at = ?, formats = ?, num_parameters = ?, details = ?
            WHERE id = ?
            """, [.text(state), .text(record.name), .text(record.description ?? ""), .text(record.algorithm ?? ""),
                  .text(record.framework.rawValue), .text(record.modelType.rawValue),
                  .text(record.tags.joined(separator: " ")), .text(try Self.encode(record)), .text(record.updatedAt),
                  .text(record.formats.joined(separator: " ")), .init(record.numParameters), .text(record.searchDetails),
                  .integer(id)])
        try db.run("DELETE FROM version_tags WHERE version_id = ?", [.integer(id)])
        for tag in record.tags {
            try db.run("INSERT OR IGNORE INTO version_tags (version_id, tag) VALUES (?, ?)", [.integer(id), .text(tag)])
        }
    }

    static func encode(_ record: ModelVersionRecord) throws -> String {
        var stored = record
        stored.files = []
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
    /// had that key (the bucket is the source of truth). One transaction per version.
    public func importVersion(_ record: ModelVersionRecord) throws {
        let number = try ModelVersionNumber.parse(record.version)
        try database.write { db in
            try db.run("DELETE FROM versions WHERE user_id = ? AND model_id = ? AND version = ?",
                       [.text(record.userID), .text(record.modelID), .text(record.version)])
            try db.run("""
                INSERT INTO versions (user_id, model_id, version, major, minor, patch, state, record, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, 'pending', '{}', ?, ?)
                """, [.text(record.userID), .text(record.modelID), .text(record.version),
                      .init(number.parts.major), .init(number.parts.minor), .init(number.parts.patch),
                      .text(record.createdAt), .text(record.updatedAt)])
            let id = db.lastInsertRowID
            for file in record.files {
                try insertFile(db, versionID: id, file: file, state: "ready", createdAt: record.updatedAt)
            }
            try writeRecord(db, id: id, record: record, state: "ready")
        }
    }

    /// Keys (user, model, version) of every version in the catalog, whatever its state, with it.
    public func allVersions() throws -> [(user: String, model: String, version: String, state: String)] {
        try database.read { db in
            try db.query("SELECT user_id, model_id, version, state FROM versions ORDER BY user_id, model_id, major, minor, patch")
                .map { ($0.string("user_id")!, $0.string("model_id")!, $0.string("version")!, $0.string("state")!) }
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
