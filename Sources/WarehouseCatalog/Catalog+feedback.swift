import WarehouseCore
import WarehouseSQLite



/// Predictions, their feedback, notifications and retraining settings.
extension Catalog {
    // MARK: - Predictions and feedback

    /// Stores what `/predict` answered: (id, predicted, inputs as JSON) for each row.
    public func insertPredictions(_ rows: [(id: String, predicted: String, inputs: String)], user: String, model: String,
                                  version: String, now: String) throws {
        try database.write { db in
            for row in rows {
                try db.run("""
                    INSERT INTO predictions (id, user_id, model_id, version, predicted, inputs, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)
                    """, [.text(row.id), .text(user), .text(model), .text(version), .text(row.predicted), .text(row.inputs), .text(now)])
            }
        }
    }

    /// Records actual outcomes, all or none: an id that is not a prediction of this model is a
    /// 404 naming it. Reporting a prediction again replaces its outcome. Answers how many
    /// outcomes were new and how many replaced (or repeated) earlier ones.
    public func recordFeedback(_ items: [(predictionID: String, actual: String)], user: String, model: String,
                               now: String) throws -> (new: Int, updated: Int) {
        try database.write { db in
            var unknown: [String] = []
            var found: [(id: String, actual: String, version: String, predicted: String)] = []
            for item in items {
                guard let row = try db.queryOne("SELECT version, predicted FROM predictions WHERE id = ? AND user_id = ? AND model_id = ?",
                                                [.text(item.predictionID), .text(user), .text(model)]) else {
                    unknown.append(item.predictionID)
                    continue
                }
                found.append((item.predictionID, item.actual, row.string("version")!, row.string("predicted")!))
            }
            guard unknown.isEmpty else {
                let shown = unknown.prefix(10).map { Identifiers.quoted($0) }.joined(separator: ", ")
                throw WarehouseError.notFound("\(unknown.count) prediction id(s) of model '\(model)' not found: \(shown)\(unknown.count > 10 ? ", …" : "")")
            }
            var new = 0, updated = 0
            for item in found {
                let existed = try db.queryOne("SELECT 1 AS found FROM feedback WHERE prediction_id = ?", [.text(item.id)]) != nil
                try db.run("""
                    INSERT INTO feedback (prediction_id, user_id, model_id, version, predicted, actual, created_at, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (prediction_id) DO UPDATE SET actual = excluded.actual, updated_at = excluded.updated_at
                    """, [.text(item.id), .text(user), .text(model), .text(item.version), .text(item.predicted), .text(item.actual),
                          .text(now), .text(now)])
                if existed { updated += 1 } else { new += 1 }
            }
            return (new, updated)
        }
    }

    /// Every outcome reported for a model, oldest first.
    public func feedback(user: String, model: String) throws -> [FeedbackRow] {
        try database.read { db in
            try db.query("""
                SELECT version, predicted, actual, created_at FROM feedback WHERE user_id = ? AND model_id = ? ORDER BY created_at
                """, [.text(user), .text(model)]).map {
                FeedbackRow(version: $0.string("version")!, predicted: $0.string("predicted")!, actual: $0.string("actual")!,
                            createdAt: $0.string("created_at")!)
            }
        }
    }

    /// Outcomes first reported after `since` (all when nil).
    public func feedbackCount(user: String, model: String, since: String?) throws -> Int {
        try database.read { db in
            try db.queryOne("SELECT COUNT(*) AS n FROM feedback WHERE user_id = ? AND model_id = ? AND created_at > ?",
                            [.text(user), .text(model), .text(since ?? "")])?.int("n") ?? 0
        }
    }

    /// The inputs (JSON) of every prediction with a reported outcome, for retraining.
    public func feedbackExamples(user: String, model: String) throws -> [(inputs: String, actual: String)] {
        try database.read { db in
            try db.query("""
                SELECT p.inputs, f.actual FROM feedback f JOIN predictions p ON p.id = f.prediction_id
                WHERE f.user_id = ? AND f.model_id = ? ORDER BY f.created_at, f.prediction_id
                """, [.text(user), .text(model)]).map { ($0.string("inputs")!, $0.string("actual")!) }
        }
    }

    /// Predictions answered per version.
    public func predictionCounts(user: String, model: String) throws -> [String: Int] {
        try database.read { db in
            var counts: [String: Int] = [:]
            for row in try db.query("SELECT version, COUNT(*) AS n FROM predictions WHERE user_id = ? AND model_id = ? GROUP BY version",
                                    [.text(user), .text(model)]) {
                counts[row.string("version")!] = row.int("n") ?? 0
            }
            return counts
        }
    }

    // MARK: - Notifications

    @discardableResult
    public func insertNotification(user: String, model: String, data: String, now: String) throws -> Int64 {
        try database.write { db in
            try db.run("INSERT INTO notifications (user_id, model_id, data, created_at) VALUES (?, ?, ?, ?)",
                       [.text(user), .text(model), .text(data), .text(now)])
            return db.lastInsertRowID
        }
    }

    /// Newest first; `before` pages back by id.
    public func notifications(user: String, limit: Int, before: Int64?) throws -> [(id: Int64, data: String)] {
        try database.read { db in
            try db.query("SELECT id, data FROM notifications WHERE user_id = ? AND id < ? ORDER BY id DESC LIMIT ?",
                         [.text(user), .integer(before ?? Int64.max), .init(limit)]).map { (Int64($0.int("id")!), $0.string("data")!) }
        }
    }

    // MARK: - Retraining settings

    public func retrainingSettings(user: String, model: String) throws -> RetrainingSettings {
        try database.read { db in
            guard let row = try db.queryOne("""
                SELECT enabled, accuracy_threshold, feedback_count FROM retraining_settings WHERE user_id = ? AND model_id = ?
                """, [.text(user), .text(model)]) else { return RetrainingSettings() }
            return RetrainingSettings(enabled: row.int("enabled").map { $0 != 0 }, accuracyThreshold: row.double("accuracy_threshold"),
                                      feedbackCount: row.int("feedback_count"))
        }
    }

    public func setRetrainingSettings(_ settings: RetrainingSettings, user: String, model: String) throws {
        try database.write { db in
            try db.run("""
                INSERT INTO retraining_settings (user_id, model_id, enabled, accuracy_threshold, feedback_count) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (user_id, model_id) DO UPDATE SET enabled = excluded.enabled,
                    accuracy_threshold = excluded.accuracy_threshold, feedback_count = excluded.feedback_count
                """, [.text(user), .text(model), .init(settings.enabled), .init(settings.accuracyThreshold),
                      .init(settings.feedbackCount)])
        }
    }

    // MARK: - Automatic models

    /// Versions trained automatically from a dataset, as (model, version).
    public func automaticVersions(user: String, dataset: String) throws -> [(model: String, version: String)] {
        try database.read { db in
            try db.query("""
                SELECT model_id, version FROM versions v
                WHERE user_id = ? AND state = 'ready'
                  AND EXISTS (SELECT 1 FROM version_fields f WHERE f.version_id = v.id AND f.path = 'automatic' AND f.number = 1)
                  AND EXISTS (SELECT 1 FROM version_fields f WHERE f.version_id = v.id AND f.path = 'dataset.dataset_id' AND f.text = ?)
                ORDER BY model_id, major, minor, patch
                """, [.text(user), .text(dataset)]).map { ($0.string("model_id")!, $0.string("version")!) }
        }
    }
}
