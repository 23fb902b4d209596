import Foundation
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
    public func registerModel(_ model: RegisteredModel) throws -> Bool {
        let record = try JSONCoding.string(model)
        return try database.write { db in
            try db.run("INSERT OR IGNORE INTO registered_models (user_id, model_id, created_at, record) VALUES (?, ?, ?, ?)",
                       [.text(model.userID), .text(model.modelID), .text(model.createdAt), .text(record)]) > 0
        }
    }

    /// Stores the model's record, whether or not it had a row.
    public func replaceRegisteredModel(_ model: RegisteredModel) throws {
        let record = try JSONCoding.string(model)
        try database.write { db in
            try db.run("INSERT OR REPLACE INTO registered_models (user_id, model_id, created_at, record) VALUES (?, ?, ?, ?)",
                       [.text(model.userID), .text(model.modelID), .text(model.createdAt), .text(record)])
        }
    }

    /// The record of `user/model` itself, if it was created before its versions or had its
    /// own fields set.
    public func registeredModel(user: String, model: String) throws -> RegisteredModel? {
        try database.read { db in
            try db.queryOne("SELECT * FROM registered_models WHERE user_id = ? AND model_id = ?", [.text(user), .text(model)])
                .map(Self.registeredModel)
        }
    }

    /// Model records of `user` (nil user: everyone's).
    public func registeredModels(user: String?) throws -> [RegisteredModel] {
        try database.read { db in
            let rows = try user.map {
                try db.query("SELECT * FROM registered_models WHERE user_id = ? ORDER BY model_id", [.text($0)])
            } ?? db.query("SELECT * FROM registered_models ORDER BY user_id, model_id")
            return rows.map(Self.registeredModel)
        }
    }

    private static func registeredModel(_ row: SQLiteRow) -> RegisteredModel {
        if let text = row.string("record"), let model = try? JSONDecoder().decode(RegisteredModel.self, from: Data(text.utf8)) {
            return model
        }
        return RegisteredModel(userID: row.string("user_id")!, modelID: row.string("model_id")!, createdAt: row.string("created_at")!)
    }

    @discardableResult
    public func unregisterModel(user: String, model: String) throws -> Bool {
        try database.write { db in
            try db.run("DELETE FROM registered_models WHERE user_id = ? AND model_id = ?", [.text(user), .text(model)]) > 0
        }
    }
}
