import WarehouseCore
import WarehouseSQLite


extension Catalog {
    public func insertToken(id: String, userID: String, hash: String, createdAt: String) throws {
        try database.write { db in
            try db.run("INSERT INTO tokens (id, user_id, token_hash, created_at) VALUES (?, ?, ?, ?)",
                       [.text(id), .text(userID), .text(hash), .text(createdAt)])
        }
    }

    /// The token whose secret hashes to `hash`.
    public func token(hash: String) throws -> StoredToken? {
        try database.read { db in
            try db.queryOne("SELECT id, user_id, created_at FROM tokens WHERE token_hash = ?", [.text(hash)]).map {
                StoredToken(id: $0.string("id")!, userID: $0.string("user_id")!, createdAt: $0.string("created_at")!)
            }
        }
    }

    public func tokens(userID: String?) throws -> [StoredToken] {
        try database.read { db in
            let rows = try userID.map {
                try db.query("SELECT id, user_id, created_at FROM tokens WHERE user_id = ? ORDER BY created_at, id", [.text($0)])
            } ?? db.query("SELECT id, user_id, created_at FROM tokens ORDER BY user_id, created_at, id")
            return rows.map { StoredToken(id: $0.string("id")!, userID: $0.string("user_id")!, createdAt: $0.string("created_at")!) }
        }
    }

    /// Removes a token; false when there was none with that id.
    public func deleteToken(id: String) throws -> Bool {
        try database.write { db in try db.run("DELETE FROM tokens WHERE id = ?", [.text(id)]) > 0 }
    }
}
