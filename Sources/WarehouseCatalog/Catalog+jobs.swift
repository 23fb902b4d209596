import WarehouseCore
import WarehouseSQLite


extension Catalog {
    static let jobColumns = "id, user_id, dataset_id, model_id, state, progress, message, request, result, error, created_at, started_at, finished_at"

    static func job(_ row: SQLiteRow) -> StoredJob {
        StoredJob(id: row.string("id")!, userID: row.string("user_id")!, datasetID: row.string("dataset_id")!,
                  modelID: row.string("model_id")!, state: row.string("state")!, progress: row.double("progress") ?? 0,
                  message: row.string("message") ?? "", request: row.string("request")!, result: row.string("result"),
                  error: row.string("error"), createdAt: row.string("created_at")!, startedAt: row.string("started_at"),
                  finishedAt: row.string("finished_at"))
    }

    /// With `exclusive`, a queued or running job for the same model is a 409 (naming it).
    public func insertJob(id: String, user: String, dataset: String, model: String, request: String, createdAt: String,
                          firstEvent: String, exclusive: Bool = false) throws {
        try database.write { db in
            do {
                if exclusive, let active = try db.queryOne("""
                    SELECT id, state FROM training_jobs WHERE user_id = ? AND model_id = ? AND state IN ('queued', 'running') LIMIT 1
                    """, [.text(user), .text(model)]) {
                    throw WarehouseError.conflict("model '\(model)' already has a \(active.string("state")!) training job (\(active.string("id")!))")
                }
                _ = try db.run("""
                    INSERT INTO training_jobs (id, user_id, dataset_id, model_id, state, message, request, created_at)
                    VALUES (?, ?, ?, ?, 'queued', 'queued', ?, ?)
                    """, [.text(id), .text(user), .text(dataset), .text(model), .text(request), .text(createdAt)])
                _ = try db.run("INSERT INTO training_job_events (job_id, seq, data) VALUES (?, 1, ?)", [.text(id), .text(firstEvent)])
            }
        }
    }

    public func job(id: String) throws -> StoredJob? {
        try database.read { db in
            try db.queryOne("SELECT \(Self.jobColumns) FROM training_jobs WHERE id = ?", [.text(id)]).map(Self.job)
        }
    }

    public func jobs(user: String?, limit: Int) throws -> [StoredJob] {
        try database.read { db in
            if let user {
                return try db.query("SELECT \(Self.jobColumns) FROM training_jobs WHERE user_id = ? ORDER BY created_at DESC, id LIMIT ?",
                                    [.text(user), .init(limit)]).map(Self.job)
            }
            return try db.query("SELECT \(Self.jobColumns) FROM training_jobs ORDER BY created_at DESC, id LIMIT ?", [.init(limit)]).map(Self.job)
        }
    }

    /// The newest succeeded jobs of every user (their results hold the candidates' timings).
    public func succeededJobs(limit: Int) throws -> [StoredJob] {
        try database.read { db in
            try db.query("SELECT \(Self.jobColumns) FROM training_jobs WHERE state = 'succeeded' ORDER BY created_at DESC, id LIMIT ?",
                         [.init(limit)]).map(Self.job)
        }
    }

    /// Takes the oldest queued job and marks it running, atomically (one worker gets it).
    public func claimNextJob(startedAt: String) throws -> StoredJob? {
        try database.write { db in
            do {
                guard let row = try db.queryOne(
                    "SELECT \(Self.jobColumns) FROM training_jobs WHERE state = 'queued' ORDER BY created_at, id LIMIT 1") else { return nil }
                let job = Self.job(row)
                _ = try db.run("UPDATE training_jobs SET state = 'running', started_at = ?, message = 'running' WHERE id = ?",
                               [.text(startedAt), .text(job.id)])
                return job
            }
        }
    }

    /// Appends an event and updates the job's progress, state and outcome in one transaction.
    /// A final state is only written over `queued` or `running` (a job ends once).
    @discardableResult
    public func recordJobEvent(id: String, event: String, progress: Double?, message: String?, state: String? = nil,
                               result: String? = nil, error: String? = nil, finishedAt: String? = nil) throws -> Int {
        try database.write { db in
            do {
                if let state {
                    let changed = try db.run("""
                        UPDATE training_jobs SET state = ?, result = COALESCE(?, result), error = COALESCE(?, error),
                            finished_at = COALESCE(?, finished_at)
                        WHERE id = ? AND state IN ('queued', 'running')
                        """, [.text(state), .init(result), .init(error), .init(finishedAt), .text(id)])
                    if changed == 0 { return 0 }
                }
                if let progress {
                    _ = try db.run("UPDATE training_jobs SET progress = ? WHERE id = ?", [.real(progress), .text(id)])
                }
                if let message {
                    _ = try db.run("UPDATE training_jobs SET message = ? WHERE id = ?", [.text(message), .text(id)])
                }
                let next = (try db.queryOne("SELECT MAX(seq) AS last FROM training_job_events WHERE job_id = ?", [.text(id)])?
                    .int("last") ?? 0) + 1
                _ = try db.run("INSERT INTO training_job_events (job_id, seq, data) VALUES (?, ?, ?)",
                               [.text(id), .init(next), .text(event)])
                return next
            }
        }
    }

    /// Events after `after`, in order.
    public func jobEvents(id: String, after: Int) throws -> [(seq: Int, data: String)] {
        try database.read { db in
            try db.query("SELECT seq, data FROM training_job_events WHERE job_id = ? AND seq > ? ORDER BY seq",
                         [.text(id), .init(after)]).map { ($0.int("seq")!, $0.string("data")!) }
        }
    }

    /// Jobs left `running` by a process that stopped.
    public func runningJobs() throws -> [StoredJob] {
        try database.read { db in
            try db.query("SELECT \(Self.jobColumns) FROM training_jobs WHERE state = 'running'").map(Self.job)
        }
    }

    /// When the model's latest training job was created (nil: never trained here).
    public func lastJobCreatedAt(user: String, model: String) throws -> String? {
        try database.read { db in
            try db.queryOne("SELECT MAX(created_at) AS last FROM training_jobs WHERE user_id = ? AND model_id = ?",
                            [.text(user), .text(model)])?.string("last")
        }
    }
}


extension Catalog {
    public func statistics() throws -> CatalogStatistics {
        try database.read { db in
            var statistics = CatalogStatistics()
            if let row = try db.queryOne("""
                SELECT COUNT(DISTINCT user_id || '/' || model_id) AS models, COUNT(*) AS versions FROM versions WHERE state = 'ready'
                """) {
                statistics.models = row.int("models") ?? 0
                statistics.versions = row.int("versions") ?? 0
            }
            if let row = try db.queryOne("""
                SELECT COUNT(*) AS files, COALESCE(SUM(f.file_size), 0) AS bytes FROM files f
                JOIN versions v ON v.id = f.version_id WHERE v.state = 'ready' AND f.state = 'ready'
                """) {
                statistics.files = row.int("files") ?? 0
                statistics.storedBytes = Int64(row.int("bytes") ?? 0)
            }
            statistics.datasets = try db.queryOne("SELECT COUNT(DISTINCT user_id || '/' || dataset_id) AS n FROM datasets WHERE state = 'ready'")?
                .int("n") ?? 0
            for row in try db.query("SELECT state, COUNT(*) AS n FROM training_jobs GROUP BY state") {
                statistics.jobsByState[row.string("state")!] = row.int("n") ?? 0
            }
            return statistics
        }
    }
}
