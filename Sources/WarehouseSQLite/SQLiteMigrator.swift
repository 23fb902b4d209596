/// Applies an ordered list of migrations, each once, each in its own IMMEDIATE transaction,
/// recording applied ids in `schema_migrations`. An applied migration is never edited: add a
/// new one instead.
public struct SQLiteMigrator: Sendable {
    public struct Migration: Sendable {
        public let id: String
        public let sql: String
        /// Runs after `sql`, in the same transaction: for data the migration must compute in
        /// Swift (values derived the way the application derives them).
        public let backfill: (@Sendable (SQLiteConnection) throws -> Void)?
        public init(_ id: String, _ sql: String, backfill: (@Sendable (SQLiteConnection) throws -> Void)? = nil) {
            self.id = id
            self.sql = sql
            self.backfill = backfill
        }
    }

    public let migrations: [Migration]

    public init(_ migrations: [Migration]) {
        self.migrations = migrations
    }

    public func migrate(_ connection: SQLiteConnection) throws {
        try connection.execute("CREATE TABLE IF NOT EXISTS schema_migrations (id TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
        for migration in migrations {
            try connection.transaction {
                let applied = try connection.queryOne("SELECT 1 FROM schema_migrations WHERE id = ?", [.text(migration.id)])
                guard applied == nil else { return }
                try connection.execute(migration.sql)
                try migration.backfill?(connection)
                try connection.run("INSERT INTO schema_migrations (id, applied_at) VALUES (?, datetime('now'))",
                                   [.text(migration.id)])
            }
        }
    }
}
