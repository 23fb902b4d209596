import WarehouseCore
import WarehouseSQLite

/// What a follower replica writes when it applies another replica's change: each statement
/// makes the catalog agree with the bucket's state of one thing, whatever it held before.
extension Catalog {
    public func replicationValue(_ key: String) throws -> String? {
        try database.read { db in
            try db.queryOne("SELECT value FROM replication_state WHERE key = ?", [.text(key)])?.string("value")
        }
    }

    public func setReplicationValue(_ key: String, _ value: String) throws {
        try database.write { db in
            try db.run("""
                INSERT INTO replication_state (key, value) VALUES (?, ?)
                ON CONFLICT (key) DO UPDATE SET value = excluded.value
                """, [.text(key), .text(value)])
        }
    }

    /// Removes a version that another replica deleted (a pending row of this replica's is
    /// left to its own upload, which fails at its claim).
    public func forgetVersion(user: String, model: String, version: String) throws {
        try database.write { db in
            try db.run("DELETE FROM versions WHERE user_id = ? AND model_id = ? AND version = ? AND state = 'ready'",
                       [.text(user), .text(model), .text(version)])
        }
    }

    /// Makes a model's aliases what the bucket says, recording each move in the history.
    public func replaceAliases(user: String, model: String, with aliases: [String: String], now: String) throws {
        try database.write { db in
            let current = try aliasMap(db, user: user, model: model)
            for alias in Set(current.keys).union(aliases.keys).sorted() where current[alias] != aliases[alias] {
                try moveAlias(db, user: user, model: model, alias: alias, to: aliases[alias], action: "replicated",
                              reason: "moved on another replica", now: now)
            }
        }
    }

    public func upsertToken(id: String, userID: String, hash: String, createdAt: String) throws {
        try database.write { db in
            try db.run("""
                INSERT INTO tokens (id, user_id, token_hash, created_at) VALUES (?, ?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, token_hash = excluded.token_hash
                """, [.text(id), .text(userID), .text(hash), .text(createdAt)])
        }
    }

    /// A notification from the bucket, once however often it is applied.
    public func insertSharedNotification(sharedID: String, user: String, model: String, data: String, createdAt: String) throws {
        try database.write { db in
            try db.run("""
                INSERT INTO notifications (user_id, model_id, data, created_at, shared_id) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (shared_id) DO NOTHING
                """, [.text(user), .text(model), .text(data), .text(createdAt), .text(sharedID)])
        }
    }

    /// A dataset version as the bucket holds it (replaces the row of that version).
    public func importDataset(user: String, dataset: String, version: Int, record: String, createdAt: String) throws {
        try database.write { db in
            try db.run("DELETE FROM datasets WHERE user_id = ? AND dataset_id = ? AND version = ?",
                       [.text(user), .text(dataset), .init(version)])
            try db.run("INSERT INTO datasets (user_id, dataset_id, version, state, record, created_at) VALUES (?, ?, ?, 'ready', ?, ?)",
                       [.text(user), .text(dataset), .init(version), .text(record), .text(createdAt)])
        }
    }

    public func forgetDataset(user: String, dataset: String, version: Int) throws {
        try database.write { db in
            try db.run("DELETE FROM datasets WHERE user_id = ? AND dataset_id = ? AND version = ? AND state = 'ready'",
                       [.text(user), .text(dataset), .init(version)])
        }
    }

    /// A training job as the replica running it last published it; `event` (the newest event
    /// it sent, JSON) is appended when it differs from the last one here.
    public func applyJob(_ job: StoredJob, event: String?) throws {
        try database.write { db in
            try db.run("""
                INSERT INTO training_jobs (id, user_id, dataset_id, model_id, state, progress, message, request, result, error,
                                           created_at, started_at, finished_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET state = excluded.state, progress = excluded.progress, message = excluded.message,
                    result = excluded.result, error = excluded.error, started_at = excluded.started_at,
                    finished_at = excluded.finished_at
                """, [.text(job.id), .text(job.userID), .text(job.datasetID), .text(job.modelID), .text(job.state),
                      .real(job.progress), .text(job.message), .text(job.request), .init(job.result), .init(job.error),
                      .text(job.createdAt), .init(job.startedAt), .init(job.finishedAt)])
            guard let event else { return }
            let last = try db.queryOne("SELECT seq, data FROM training_job_events WHERE job_id = ? ORDER BY seq DESC LIMIT 1",
                                       [.text(job.id)])
            guard last?.string("data") != event else { return }
            try db.run("INSERT INTO training_job_events (job_id, seq, data) VALUES (?, ?, ?)",
                       [.text(job.id), .init((last?.int("seq") ?? 0) + 1), .text(event)])
        }
    }

    /// Makes a job taken over from a replica that died `running` here, whatever state the
    /// replica's last snapshot left it in, unless it already finished.
    public func claimJob(id: String, startedAt: String) throws -> StoredJob? {
        try database.write { db in
            let changed = try db.run("""
                UPDATE training_jobs SET state = 'running', started_at = ?, message = 'running'
                WHERE id = ? AND state IN ('queued', 'running')
                """, [.text(startedAt), .text(id)])
            guard changed > 0 else { return nil }
            return try db.queryOne("SELECT \(Self.jobColumns) FROM training_jobs WHERE id = ?", [.text(id)]).map(Self.job)
        }
    }

    /// Queued and running jobs, oldest first (candidates for a replica's workers).
    public func unfinishedJobs() throws -> [StoredJob] {
        try database.read { db in
            try db.query("SELECT \(Self.jobColumns) FROM training_jobs WHERE state IN ('queued', 'running') ORDER BY created_at, id")
                .map(Self.job)
        }
    }

    /// Every token with its hash (to publish them into the bucket).
    public func tokenRows() throws -> [(token: StoredToken, hash: String)] {
        try database.read { db in
            try db.query("SELECT id, user_id, token_hash, created_at FROM tokens ORDER BY id").map {
                (StoredToken(id: $0.string("id")!, userID: $0.string("user_id")!, createdAt: $0.string("created_at")!),
                 $0.string("token_hash")!)
            }
        }
    }
}
