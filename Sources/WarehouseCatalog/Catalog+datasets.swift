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

    /// The latest ready version of each of a user's datasets that matches the text, best
    /// first (bm25 weighted like model search: name, description, columns, target, id), one
    /// page from `skip`, with the number of matches.
    public func searchDatasets(user: String, text: String, limit: Int, skip: Int) throws -> (datasets: [StoredDataset], total: Int) {
        guard let match = FullTextQuery.make(from: text) else { return ([], 0) }
        return try database.read { db in
            let matching = """
                FROM datasets_fts CROSS JOIN datasets d ON d.id = datasets_fts.rowid
                WHERE datasets_fts MATCH ? AND d.user_id = ? AND d.state = 'ready' AND d.version = (
                    SELECT MAX(version) FROM datasets WHERE user_id = d.user_id AND dataset_id = d.dataset_id AND state = 'ready')
                """
            let total = try db.queryOne("SELECT COUNT(*) AS total " + matching, [.text(match), .text(user)])?.int("total") ?? 0
            let rows = try db.query("""
                SELECT d.id, d.user_id, d.dataset_id, d.version, d.record \(matching)
                ORDER BY bm25(datasets_fts, 10.0, 2.0, 3.0, 5.0, 8.0), d.dataset_id LIMIT ? OFFSET ?
                """, [.text(match), .text(user), .init(limit), .init(skip)]).map(Self.dataset)
            return (rows, total)
        }
    }

    /// Every ready version trained from a dataset (its `custom_metadata.dataset.dataset_id`),
    /// by model and version order.
    public func versionsTrained(user: String, dataset: String) throws -> [(model: String, version: String)] {
        try database.read { db in
            try db.query("""
                SELECT model_id, version FROM versions v
                WHERE user_id = ? AND state = 'ready'
                  AND EXISTS (SELECT 1 FROM version_fields f WHERE f.version_id = v.id AND f.path = 'dataset.dataset_id' AND f.text = ?)
                ORDER BY model_id, major, minor, patch
                """, [.text(user), .text(dataset)]).map { ($0.string("model_id")!, $0.string("version")!) }
        }
    }
}
