import WarehouseCore
import WarehouseSQLite


extension Catalog {
    /// Reserves the next version number of a dataset as a pending row.
    /// `atLeast`: a number below it is taken on another replica.
    public func insertPendingDataset(user: String, dataset: String, createdAt: String, atLeast: Int = 1) throws -> (id: Int64, version: Int) {
        try database.write { db in
            let highest = try db.queryOne("SELECT MAX(version) AS highest FROM datasets WHERE user_id = ? AND dataset_id = ?",
                                          [.text(user), .text(dataset)])?.int("highest") ?? 0
            let version = max(highest + 1, atLeast)
            try db.run("INSERT INTO datasets (user_id, dataset_id, version, state, created_at) VALUES (?, ?, ?, 'pending', ?)",
                       [.text(user), .text(dataset), .init(version), .text(createdAt)])
            return (db.lastInsertRowID, version)
        }
    }

    public func commitDataset(id: Int64, record: String) throws {
        try database.write { db in
            _ = try db.run("UPDATE datasets SET state = 'ready', record = ? WHERE id = ?", [.text(record), .integer(id)])
        }
    }

    public func abandonDataset(id: Int64) throws {
        try database.write { db in _ = try db.run("DELETE FROM datasets WHERE id = ? AND state = 'pending'", [.integer(id)]) }
    }

    private static func dataset(_ row: SQLiteRow) -> StoredDataset {
        StoredDataset(id: Int64(row.int("id")!), userID: row.string("user_id")!, datasetID: row.string("dataset_id")!,
                      version: row.int("version")!, record: row.string("record")!)
    }

    /// One ready version (nil: the latest).
    public func dataset(user: String, dataset: String, version: Int?) throws -> StoredDataset? {
        try database.read { db in
            let row: SQLiteRow?
            if let version {
                row = try db.queryOne("""
                    SELECT id, user_id, dataset_id, version, record FROM datasets
                    WHERE user_id = ? AND dataset_id = ? AND version = ? AND state = 'ready'
                    """, [.text(user), .text(dataset), .init(version)])
            } else {
                row = try db.queryOne("""
                    SELECT id, user_id, dataset_id, version, record FROM datasets
                    WHERE user_id = ? AND dataset_id = ? AND state = 'ready' ORDER BY version DESC LIMIT 1
                    """, [.text(user), .text(dataset)])
            }
            return row.map(Self.dataset)
        }
    }

    /// The latest ready version of each of a user's datasets.
    public func latestDatasets(user: String) throws -> [StoredDataset] {
        try database.read { db in
            try db.query("""
                SELECT d.id, d.user_id, d.dataset_id, d.version, d.record FROM datasets d
                WHERE d.user_id = ? AND d.state = 'ready' AND d.version = (
                    SELECT MAX(version) FROM datasets WHERE user_id = d.user_id AND dataset_id = d.dataset_id AND state = 'ready')
                ORDER BY d.dataset_id
                """, [.text(user)]).map(Self.dataset)
        }
    }

    /// Every row of a dataset, pending ones included (for deletion).
    public func datasetVersions(user: String, dataset: String) throws -> [StoredDataset] {
        try database.read { db in
            try db.query("SELECT id, user_id, dataset_id, version, record FROM datasets WHERE user_id = ? AND dataset_id = ? ORDER BY version",
                         [.text(user), .text(dataset)]).map(Self.dataset)
        }
    }

    public func deleteDatasetRow(id: Int64) throws {
        try database.write { db in _ = try db.run("DELETE FROM datasets WHERE id = ?", [.integer(id)]) }
    }

    /// Pending dataset rows (uploads that never finished), for startup recovery.
    public func pendingDatasets() throws -> [StoredDataset] {
        try database.read { db in
            try db.query("SELECT id, user_id, dataset_id, version, record FROM datasets WHERE state = 'pending'").map(Self.dataset)
        }
    }
}
