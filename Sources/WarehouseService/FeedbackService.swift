import Foundation
import WarehouseAutoML
import WarehouseCatalog
import WarehouseCore

/// When retraining starts by itself, unless a model says otherwise (config keys
/// `retrain_enabled`, `retrain_accuracy_threshold`, `retrain_feedback_count`,
/// `retrain_min_feedback`).
public struct RetrainingDefaults: Sendable, Equatable {
    public var enabled = true
    /// Live accuracy of the production version below this starts a retraining...
    public var accuracyThreshold = 0.7
    /// ...judged once this many outcomes have arrived since the last training.
    public var minimumFeedback = 10
    /// This many outcomes since the last training start one anyway.
    public var feedbackCount = 50

    public init() {}
}

/// Actual outcomes of predictions, live performance per version, and retraining: on demand,
/// or by itself when live accuracy sinks or enough new outcomes have arrived.
public final class FeedbackService: Sendable {
    let models: ModelService
    let training: TrainingService
    let lifecycle: ModelLifecycle
    let defaults: RetrainingDefaults

    public init(models: ModelService, training: TrainingService, lifecycle: ModelLifecycle, defaults: RetrainingDefaults) {
        self.models = models
        self.training = training
        self.lifecycle = lifecycle
        self.defaults = defaults
    }

    var catalog: Catalog { models.catalog }

    // MARK: - Feedback

    public struct Receipt: Sendable {
        public let recorded: Int
        public let new: Int
        public let updated: Int
        /// The retraining this feedback started, if any.
        public let retraining: TrainingJob?
        public let retrainingReason: String?
    }

    /// Items are (prediction id, actual outcome); all are recorded or none.
    public func record(user: String, model: String, items: [(String, JSONValue)]) throws -> Receipt {
        guard !items.isEmpty else { throw WarehouseError.invalid("no feedback: send {\"prediction_id\", \"actual\"} or {\"items\": […]}") }
        guard items.count <= 100_000 else { throw WarehouseError.tooLarge("at most 100000 feedback items per request") }
        _ = try models.record(user: user, model: model, version: nil)
        let outcomes = try items.enumerated().map { index, item in
            (predictionID: item.0, actual: try Self.outcome(item.1, item: index))
        }
        let counts = try catalog.recordFeedback(outcomes, user: user, model: model, now: Timestamps.now())
        let started = try? retrainIfDue(user: user, model: model)
        return Receipt(recorded: items.count, new: counts.new, updated: counts.updated, retraining: started?.job,
                       retrainingReason: started?.reason)
    }

    /// An actual outcome as text: a label or a number (integers without a fraction).
    static func outcome(_ value: JSONValue, item: Int) throws -> String {
        switch value {
        case .string(let text):
            let trimmed = text.trimmingCharacters(in: .whitespaces)
            guard !trimmed.isEmpty else { throw WarehouseError.invalid("feedback item \(item): 'actual' is empty") }
            return trimmed
        case .int(let number): return String(number)
        case .double(let number) where number.isFinite:
            return number == number.rounded() && abs(number) < 1e15 ? String(Int64(number)) : String(number)
        case .bool(let flag): return flag ? "true" : "false"
        default: throw WarehouseError.invalid("feedback item \(item): 'actual' must be a label or a number")
        }
    }

    // MARK: - Performance

    public struct VersionPerformance: Sendable {
        public let version: String
        public let isProduction: Bool
        public let predictions: Int
        public let feedback: Int
        /// accuracy, f1_macro (classification) or mae, rmse (regression), from the feedback.
        public let live: [String: Double]
        /// The training's own scores: metric, validation score, test metrics.
        public let training: [String: JSONValue]
    }

    public struct Performance: Sendable {
        public let userID: String
        public let modelID: String
        public let task: String
        public let productionVersion: String?
        public let versions: [VersionPerformance]
        public let retraining: [String: JSONValue]
    }

    public func performance(user: String, model: String) throws -> Performance {
        let versions = try models.versions(user: user, model: model)
        guard let latest = versions.last else { throw WarehouseError.notFound("model '\(model)' not found for user '\(user)'") }
        let task = Self.task(of: latest)
        let feedback = try catalog.feedback(user: user, model: model)
        let counts = try catalog.predictionCounts(user: user, model: model)
        let production = try catalog.aliases(user: user, model: model)[Catalog.productionAlias]
        let byVersion = Dictionary(grouping: feedback, by: \.version)
        let rows = versions.map { record -> VersionPerformance in
            let outcomes = byVersion[record.version] ?? []
            var trained: [String: JSONValue] = [:]
            for key in ["metric", "validation_score"] { if let value = record.customMetadata[key] { trained[key] = value } }
            if case .object(let metrics)? = record.customMetadata["metrics"], let test = metrics["test"] { trained["test"] = test }
            if trained.isEmpty, let accuracy = record.validationAccuracy { trained["validation_accuracy"] = .double(accuracy) }
            return VersionPerformance(version: record.version, isProduction: record.version == production,
                                      predictions: counts[record.version] ?? 0, feedback: outcomes.count,
                                      live: Self.liveMetrics(outcomes, task: task), training: trained)
        }
        let settings = try effectiveSettings(user: user, model: model)
        let since = try catalog.lastJobCreatedAt(user: user, model: model)
        var retraining: [String: JSONValue] = [
            "enabled": .bool(settings.enabled), "accuracy_threshold": .double(settings.accuracyThreshold),
            "feedback_count": .int(Int64(settings.feedbackCount)), "min_feedback": .int(Int64(defaults.minimumFeedback)),
            "feedback_since_last_training": .int(Int64(try catalog.feedbackCount(user: user, model: model, since: since))),
            "last_training_at": since.map(JSONValue.string) ?? .null,
        ]
        if let serving = rows.first(where: \.isProduction) ?? rows.last, let accuracy = serving.live["accuracy"] {
            retraining["live_accuracy"] = .double(accuracy)
        }
        return Performance(userID: user, modelID: model, task: task, productionVersion: production, versions: rows, retraining: retraining)
    }

    static func task(of record: ModelVersionRecord) -> String {
        record.customMetadata["task"]?.stringValue ?? (record.modelType == .regression ? "regression" : "classification")
    }

    static func liveMetrics(_ outcomes: [FeedbackRow], task: String) -> [String: Double] {
        guard !outcomes.isEmpty else { return [:] }
        if task == "regression" {
            let errors = outcomes.compactMap { row -> Double? in
                guard let predicted = Double(row.predicted), let actual = Double(row.actual) else { return nil }
                return predicted - actual
            }
            guard !errors.isEmpty else { return [:] }
            let n = Double(errors.count)
            return ["mae": errors.reduce(0) { $0 + abs($1) } / n, "rmse": (errors.reduce(0) { $0 + $1 * $1 } / n).squareRoot()]
        }
        let correct = outcomes.filter { Self.sameLabel($0.predicted, $0.actual) }.count
        // Macro F1 over every label seen as a prediction or an outcome.
        let labels = Set(outcomes.map(\.predicted)).union(outcomes.map(\.actual))
        var f1Sum = 0.0
        for label in labels {
            let truePositives = outcomes.filter { Self.sameLabel($0.predicted, label) && Self.sameLabel($0.actual, label) }.count
            let predicted = outcomes.filter { Self.sameLabel($0.predicted, label) }.count
            let actual = outcomes.filter { Self.sameLabel($0.actual, label) }.count
            f1Sum += predicted + actual == 0 ? 0 : 2 * Double(truePositives) / Double(predicted + actual)
        }
        return ["accuracy": Double(correct) / Double(outcomes.count), "f1_macro": f1Sum / Double(labels.count)]
    }

    /// Labels match as text, or as numbers ("1" and "1.0").
    static func sameLabel(_ a: String, _ b: String) -> Bool {
        if a == b { return true }
        if let x = Double(a), let y = Double(b) { return x == y }
        return false
    }

    // MARK: - Retraining

    public struct EffectiveSettings: Sendable {
        public let enabled: Bool
        public let accuracyThreshold: Double
        public let feedbackCount: Int
        public let overrides: RetrainingSettings
    }

    public func effectiveSettings(user: String, model: String) throws -> EffectiveSettings {
        let own = try catalog.retrainingSettings(user: user, model: model)
        return EffectiveSettings(enabled: own.enabled ?? defaults.enabled, accuracyThreshold: own.accuracyThreshold ?? defaults.accuracyThreshold,
                                 feedbackCount: own.feedbackCount ?? defaults.feedbackCount, overrides: own)
    }

    public func setSettings(user: String, model: String, _ settings: RetrainingSettings) throws -> EffectiveSettings {
        _ = try models.record(user: user, model: model, version: nil)
        if let threshold = settings.accuracyThreshold, !(0...1).contains(threshold) {
            throw WarehouseError.invalid("accuracy_threshold must be between 0 and 1 (got \(threshold))")
        }
        if let count = settings.feedbackCount, count < 1 {
            throw WarehouseError.invalid("feedback_count must be at least 1 (got \(count))")
        }
        try catalog.setRetrainingSettings(settings, user: user, model: model)
        return try effectiveSettings(user: user, model: model)
    }

    /// `POST …/retrain`: a job on the model's dataset (its latest version) plus the feedback
    /// rows; 409 while the model has a queued or running job.
    public func retrain(user: String, model: String, timeLimit: Double?, includeFeedback: Bool = true,
                        trigger: String = "retrain") throws -> TrainingJob {
        let latest = try models.record(user: user, model: model, version: nil)
        guard case .object(let dataset)? = latest.customMetadata["dataset"], let datasetID = dataset["dataset_id"]?.stringValue else {
            throw WarehouseError.conflict("model '\(model)' was not trained by the warehouse: it has no dataset to retrain on")
        }
        var request = try TrainingRequest(
            userID: user, datasetID: datasetID, modelID: model, targetColumn: latest.customMetadata["target"]?.stringValue,
            taskType: latest.customMetadata["task"]?.stringValue.flatMap { try? TrainingRequest.parseTask($0) },
            timeLimit: timeLimit ?? latest.customMetadata["time_limit_s"]?.doubleValue,
            metric: latest.customMetadata["metric"]?.stringValue,
            seed: latest.customMetadata["seed"]?.doubleValue.map { UInt64(max(0, $0)) } ?? 0,
            automatic: latest.customMetadata["automatic"] == .bool(true))
        request.includeFeedback = includeFeedback
        request.trigger = trigger
        // The same preset, families and excluded columns as the version being replaced (its
        // feature list is not reused: a new dataset version may bring new columns).
        if case .object(let options)? = latest.customMetadata["training_options"] {
            request.preset = options["preset"]?.stringValue.flatMap(TrainingPreset.init(rawValue:))
            if case .array(let names)? = options["algorithms"] {
                request.algorithms = names.compactMap { $0.stringValue.flatMap(AlgorithmFamily.init(rawValue:)) }
            }
            if case .array(let names)? = options["exclude_columns"], !names.isEmpty {
                request.excludeColumns = names.compactMap(\.stringValue)
            }
        }
        return try training.submit(request, exclusive: true)
    }

    /// Starts a retraining when the model's outcomes call for one; answers it and why.
    func retrainIfDue(user: String, model: String) throws -> (job: TrainingJob, reason: String)? {
        let settings = try effectiveSettings(user: user, model: model)
        guard settings.enabled else { return nil }
        let since = try catalog.lastJobCreatedAt(user: user, model: model)
        let fresh = try catalog.feedbackCount(user: user, model: model, since: since)
        var trigger: (name: String, reason: String)?
        if fresh >= settings.feedbackCount {
            trigger = ("feedback_count", "\(fresh) outcomes reported since the last training (threshold \(settings.feedbackCount))")
        } else if fresh >= defaults.minimumFeedback {
            let serving = try models.catalog.record(user: user, model: model, version: "@" + Catalog.productionAlias)
                ?? models.record(user: user, model: model, version: nil)
            let outcomes = try catalog.feedback(user: user, model: model).filter { $0.version == serving.version }
            if Self.task(of: serving) != "regression", outcomes.count >= defaults.minimumFeedback,
               let accuracy = Self.liveMetrics(outcomes, task: "classification")["accuracy"], accuracy < settings.accuracyThreshold {
                trigger = ("live_accuracy", "live accuracy of \(serving.version) is \(ModelLifecycle.format(accuracy)) on \(outcomes.count) outcomes, below \(settings.accuracyThreshold)")
            }
        }
        guard let trigger else { return nil }
        let job: TrainingJob
        do {
            job = try retrain(user: user, model: model, timeLimit: nil, trigger: trigger.name)
        } catch WarehouseError.conflict {
            return nil  // a job is already queued or running, or the model has no dataset
        }
        lifecycle.notify(user: user, model: model, [
            "outcome": .string("retraining_started"), "version": .null, "reason": .string(trigger.reason), "job_id": .string(job.jobID),
        ])
        return (job, trigger.reason)
    }
}
