import Foundation
import WarehouseAutoML
import WarehouseCatalog
import WarehouseCore
import WarehouseReplication
import WarehouseCrypto

/// Aliases, score-gated promotion after training, rollback, and the notifications that say
/// what happened.
public final class ModelLifecycle: Sendable {
    let models: ModelService
    let logger: Logger

    public init(models: ModelService, logger: Logger) {
        self.models = models
        self.logger = logger
    }

    var catalog: Catalog { models.catalog }

    // MARK: - Aliases

    public struct AliasState: Sendable {
        public let userID: String
        public let modelID: String
        public let aliases: [String: String]
        public let history: [AliasEvent]
    }

    public func aliases(user: String, model: String) throws -> AliasState {
        _ = try models.record(user: user, model: model, version: nil)
        return AliasState(userID: user, modelID: model, aliases: try catalog.aliases(user: user, model: model),
                          history: try catalog.aliasHistory(user: user, model: model))
    }

    /// Points `alias` at `version` (a version, or `@other-alias`).
    public func setAlias(user: String, model: String, alias: String, version: String) throws -> AliasState {
        let target = try models.record(user: user, model: model, version: version)
        let previous = try models.movingAliases(user: user, model: model) { publish in
            try catalog.setAlias(user: user, model: model, alias: alias, version: target.version, now: Timestamps.now(), publish: publish)
        }
        if alias == Catalog.productionAlias, previous != target.version {
            notify(user: user, model: model, [
                "outcome": .string("promoted"), "version": .string(target.version), "production_version": previous.map(JSONValue.string) ?? .null,
                "reason": .string("the production alias was set by hand"),
            ])
        }
        return try aliases(user: user, model: model)
    }

    public func removeAlias(user: String, model: String, alias: String) throws -> AliasState {
        _ = try models.record(user: user, model: model, version: nil)
        guard try models.movingAliases(user: user, model: model, { publish in
            try catalog.removeAlias(user: user, model: model, alias: alias, reason: "removed by hand", now: Timestamps.now(), publish: publish)
        }) != nil else {
            throw WarehouseError.notFound("model '\(model)' has no alias '\(alias)'")
        }
        return try aliases(user: user, model: model)
    }

    /// Moves `production` back to its previous holder; 409 without one.
    public func rollback(user: String, model: String, reason: String?) throws -> (from: String, to: String) {
        _ = try models.record(user: user, model: model, version: nil)
        let why = reason ?? "rolled back by hand"
        let moved = try models.movingAliases(user: user, model: model) { publish in
            try catalog.rollback(user: user, model: model, reason: why, now: Timestamps.now(), publish: publish)
        }
        notify(user: user, model: model, [
            "outcome": .string("rolled_back"), "version": .string(moved.to), "production_version": .string(moved.from),
            "reason": .string(why),
        ])
        return moved
    }

    // MARK: - Promotion

    /// After a training: the new version takes `production` unless its validation score on
    /// the job's metric is worse than the holder's. Answers (promoted, reason).
    func promoteAfterTraining(_ record: ModelVersionRecord, report: AutoMLReport, jobID: String) -> (promoted: Bool, reason: String) {
        let metric = report.metric
        let score = report.validationScore
        let higherIsBetter = Metric(rawValue: metric)?.higherIsBetter ?? true
        do {
            let outcome = try models.movingAliases(user: record.userID, model: record.modelID) { publish in
              try catalog.promote(user: record.userID, model: record.modelID, version: record.version, now: Timestamps.now(),
                                  publish: publish) { holder in
                guard let holder else { return (true, "first production version (validation \(metric) \(Self.format(score)))") }
                guard let held = Self.validationScore(of: holder, metric: metric) else {
                    return (false, "production \(holder.version) has no validation \(metric) to compare with; move the alias by hand")
                }
                let notWorse = higherIsBetter ? score >= held : score <= held
                let relation = score == held ? "=" : (score > held ? ">" : "<")
                return (notWorse, "validation \(metric) \(Self.format(score)) \(relation) \(Self.format(held)) of production \(holder.version)")
              }
            }
            notify(user: record.userID, model: record.modelID, [
                "outcome": .string(outcome.promoted ? "promoted" : "not_promoted"), "version": .string(record.version),
                "metric": .string(metric), "score": .double(score),
                "production_version": outcome.holder.map { .string($0.version) } ?? .null,
                "production_score": outcome.holder.flatMap { Self.validationScore(of: $0, metric: metric) }.map(JSONValue.double) ?? .null,
                "reason": .string(outcome.reason), "job_id": .string(jobID),
            ])
            return (outcome.promoted, outcome.reason)
        } catch {
            logger.error("promotion of \(record.modelID) \(record.version) failed: \(error)")
            let reason = "promotion failed: \(error)"
            notify(user: record.userID, model: record.modelID, [
                "outcome": .string("not_promoted"), "version": .string(record.version), "metric": .string(metric),
                "score": .double(score), "reason": .string(reason), "job_id": .string(jobID),
            ])
            return (false, reason)
        }
    }

    /// A failed job registers nothing; its notification says why.
    func trainingFailed(user: String, model: String, jobID: String, reason: String) {
        notify(user: user, model: model, ["outcome": .string("failed"), "version": .null, "reason": .string(reason), "job_id": .string(jobID)])
    }

    /// The record's validation score on `metric`: the training's own, or from its metrics.
    static func validationScore(of record: ModelVersionRecord, metric: String) -> Double? {
        let custom = record.customMetadata
        if custom["metric"]?.stringValue == metric, let score = custom["validation_score"]?.doubleValue { return score }
        if case .object(let metrics)? = custom["metrics"], case .object(let validation)? = metrics["validation"],
           let score = validation[metric]?.doubleValue {
            return score
        }
        // A hand-uploaded record: its validation_accuracy, when that is the metric.
        if metric == "accuracy" || (metric == "r2" && record.modelType == .regression) { return record.validationAccuracy }
        return nil
    }

    static func format(_ value: Double) -> String { String(format: "%.4f", value) }

    // MARK: - Notifications

    func notify(user: String, model: String, _ fields: [String: JSONValue]) {
        let now = Timestamps.now()
        var data = fields
        data["user_id"] = .string(user)
        data["model_id"] = .string(model)
        data["created_at"] = .string(now)
        do {
            let text = try JSONCoding.string(JSONValue.object(data))
            // Published first (where replicas share the bucket), so every replica lists it;
            // its id makes a second sighting of it a no-op.
            let id = Self.sharedNotificationID()
            let published = try JSONCoding.string(SharedNotification(userID: user, modelID: model, data: text, createdAt: now))
            try models.replication.publish(ObjectKeys.notification(user: user, id: id), data: Array(published.utf8), over: nil,
                                           createOnly: false, announcing: Change(.notification, [user, id]))
            try catalog.insertSharedNotification(sharedID: id, user: user, model: model, data: text, createdAt: now)
        } catch {
            logger.error("cannot store a notification for \(user)/\(model): \(error)")
        }
    }

    /// Newest first, each with its `id`; `before` pages back.
    public func notifications(user: String, limit: Int, before: Int64?) throws -> [JSONValue] {
        try catalog.notifications(user: user, limit: limit, before: before).map { row in
            guard case .object(var object) = try JSONCoding.decode(JSONValue.self, row.data) else { return .null }
            object["id"] = .int(row.id)
            return .object(object)
        }
    }
}

/// A notification as stored in a shared bucket (`manifests/notifications/{user}/{id}.json`).
struct SharedNotification: Codable {
    let userID: String
    let modelID: String
    /// The notification's JSON, as the API returns it.
    let data: String
    let createdAt: String

    enum CodingKeys: String, CodingKey { case userID = "user_id", modelID = "model_id", data, createdAt = "created_at" }
}

extension ModelLifecycle {
    /// Sorts by time; unique across replicas by its random tail.
    static func sharedNotificationID() -> String {
        "n\(SharedBucket.milliseconds())-\(Hex.encode(SecureRandom.bytes(6)))"
    }
}
