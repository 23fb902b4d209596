import WarehouseCore
import WarehouseSQLite

/// Commit ids and models created before any version.
extension Catalog {
    /// The ready version whose commit id is `sha`, or that alone starts with it (7 to 39 hex
    /// digits); nil when none or several do.
    public func version(user: String, model: String, commit sha: String) throws -> String? {
        try database.read { db in
            let rows: [SQLiteRow]
            if sha.utf8.count == 40 {
                rows = try db.query("""
                    SELECT version FROM versions WHERE user_id = ? AND model_id = ? AND commit_sha = ? AND state = 'ready'
                    """, [.text(user), .text(model), .text(sha)])
            } else {
                rows = try db.query("""
                    SELECT version FROM versions WHERE user_id = ? AND model_id = ? AND commit_sha >= ? AND commit_sha < ?
                        AND state = 'ready' LIMIT 2
                    """, [.text(user), .text(model), .text(sha), .text(sha + "g")])
            }
            return rows.count == 1 ? rows[0].string("version") : nil
        }
    }

    /// Ready versions whose records have no commit id yet (written before commit ids existed).
    public func recordsWithoutCommit() throws -> [ModelVersionRecord] {
        try database.read { db in
            try db.query("SELECT id FROM versions WHERE state = 'ready' AND commit_sha IS NULL")
                .compactMap { try loadRecord(db, id: Int64($0.int("id")!)) }
        }
    }

    /// Records that `user/model` exists before it has versions; false when it was already.
    @discardableResult
    public func registerModel(user: String, model: String, createdAt: String) throws -> Bool {
        try database.write { db in
            try db.run("INSERT OR IGNORE INTO registered_models (user_id, model_id, created_at) VALUES (?, ?, ?)",
                       [.text(user), .text(model), .text(createdAt)]) > 0
        }
    }

    /// When `user/model` was created, if it was created before its versions.
    public func registeredModel(user: String, model: String) throws -> String? {
        try database.read { db in
            try db.queryOne("SELECT created_at FROM registered_models WHERE user_id = ? AND model_id = ?",
                            [.text(user), .text(model)])?.string("created_at")
        }
    }

    /// Models of `user` created before their versions, with when (nil user: everyone's).
    public func registeredModels(user: String?) throws -> [(user: String, model: String, createdAt: String)] {
        try database.read { db in
            let rows = try user.map {
                try db.query("SELECT * FROM registered_models WHERE user_id = ? ORDER BY model_id", [.text($0)])
            } ?? db.query("SELECT * FROM registered_models ORDER BY user_id, model_id")
            return rows.map { ($0.string("user_id")!, $0.string("model_id")!, $0.string("created_at")!) }
        }
    }

    @discardableResult
    public func unregisterModel(user: String, model: String) throws -> Bool {
        try database.write { db in
            try db.run("DELETE FROM registered_models WHERE user_id = ? AND model_id = ?", [.text(user), .text(model)]) > 0
        }
    }
}
