import Foundation
import WarehouseAutoML
import WarehouseCore

/// What a training job was asked to do (`POST /training/jobs`), validated.
public struct TrainingRequest: Codable, Sendable {
    public var userID: String
    public var datasetID: String
    public var datasetVersion: String?
    public var modelID: String
    public var targetColumn: String?
    public var taskType: TaskType?
    public var timeLimit: Double
    public var metric: String?
    public var seed: UInt64
    public var testFraction: Double
    public var name: String?
    public var description: String?
    /// True when the warehouse queued this job by itself (`auto_train`, a new dataset version,
    /// `recreate-models`, or automatic retraining of such a model): its models are the
    /// dataset's automatic models.
    public var automatic: Bool
    /// Also train on the model's feedback rows (inputs with their actual outcomes).
    public var includeFeedback: Bool?
    /// Why the job exists: `request`, `dataset_upload`, `recreate`, `retrain`, `live_accuracy`, `feedback_count`.
    public var trigger: String?

    public static let defaultTimeLimit = 60.0

    enum CodingKeys: String, CodingKey {
        case userID = "user_id", datasetID = "dataset_id", datasetVersion = "dataset_version", modelID = "model_id"
        case targetColumn = "target_column", taskType = "task_type", timeLimit = "time_limit_s", metric, seed
        case testFraction = "test_fraction", name, description, automatic
        case includeFeedback = "include_feedback", trigger
    }

    public init(userID: String, datasetID: String, datasetVersion: String? = nil, modelID: String? = nil,
                targetColumn: String? = nil, taskType: TaskType? = nil, timeLimit: Double? = nil, metric: String? = nil,
                seed: UInt64 = 0, testFraction: Double = 0.2, automatic: Bool = false) throws {
        self.userID = try Identifiers.userID(userID)
        self.datasetID = try Identifiers.name(datasetID, field: "dataset_id")
        self.datasetVersion = datasetVersion
        self.modelID = try Identifiers.name(modelID ?? (datasetID + "-automl"), field: "model_id")
        self.targetColumn = targetColumn
        self.taskType = taskType
        self.timeLimit = timeLimit ?? Self.defaultTimeLimit
        self.metric = metric
        self.seed = seed
        self.testFraction = testFraction
        self.automatic = automatic
    }

    /// From the JSON body of `POST /training/jobs`.
    public init(json object: [String: JSONValue]) throws {
        func string(_ key: String) throws -> String? {
            guard let value = object[key], value != .null else { return nil }
            guard case .string(let text) = value else { throw WarehouseError.invalid("field '\(key)' must be a string") }
            let trimmed = text.trimmingCharacters(in: .whitespaces)
            return trimmed.isEmpty ? nil : trimmed
        }
        func number(_ key: String) throws -> Double? {
            guard let value = object[key], value != .null else { return nil }
            switch value {
            case .int(let int): return Double(int)
            case .double(let double): return double
            case .string(let text): return try FieldValues.double(text, field: key)
            default: throw WarehouseError.invalid("field '\(key)' must be a number")
            }
        }
        guard let user = try string("user_id") else { throw WarehouseError.invalid("field 'user_id' is required") }
        guard let dataset = try string("dataset_id") else { throw WarehouseError.invalid("field 'dataset_id' is required") }
        let seed = try number("seed")
        if let seed, seed < 0 || seed != seed.rounded() || seed > 9e15 {
            throw WarehouseError.invalid("field 'seed' must be a non-negative integer")
        }
        let testFraction = try number("test_fraction") ?? 0.2
        guard testFraction >= 0 && testFraction <= 0.5 else {
            throw WarehouseError.invalid("field 'test_fraction' must be between 0 and 0.5 (got \(testFraction))")
        }
        let limit = try (number("time_limit_s") ?? number("time_limit")).map(Self.checkTimeLimit)
        try self.init(userID: user, datasetID: dataset, datasetVersion: try string("dataset_version"), modelID: try string("model_id"),
                      targetColumn: try string("target_column"), taskType: try string("task_type").map(Self.parseTask),
                      timeLimit: limit, metric: try string("metric"), seed: UInt64(seed ?? 0), testFraction: testFraction)
        name = try string("name")
        description = try string("description")
        switch object["include_feedback"] {
        case nil, .null?: break
        case .bool(let flag)?: includeFeedback = flag
        default: throw WarehouseError.invalid("field 'include_feedback' must be true or false")
        }
    }

    public static func parseTask(_ text: String) throws -> TaskType {
        switch text.lowercased() {
        case "classification", "binary", "multiclass": return .classification
        case "regression": return .regression
        default: throw WarehouseError.invalid("task_type must be classification or regression (got \(Identifiers.quoted(text)))")
        }
    }

    public static func parseTimeLimit(_ text: String) throws -> Double {
        try checkTimeLimit(try FieldValues.double(text, field: "time_limit"))
    }

    static func checkTimeLimit(_ value: Double) throws -> Double {
        guard value >= 1 && value <= 86_400 else {
            throw WarehouseError.invalid("time_limit must be between 1 and 86400 seconds (got \(value))")
        }
        return value
    }
}

/// A training job as the API shows it.
public struct TrainingJob: Codable, Sendable {
    public var jobID: String
    public var userID: String
    public var datasetID: String
    public var modelID: String
    public var status: String
    /// Percent done, 0–100.
    public var progress: Double
    public var message: String
    public var request: TrainingRequest
    public var result: JSONValue?
    public var error: String?
    public var createdAt: String
    public var startedAt: String?
    public var finishedAt: String?

    enum CodingKeys: String, CodingKey {
        case jobID = "job_id", userID = "user_id", datasetID = "dataset_id", modelID = "model_id", status, progress
        case message, request, result, error, createdAt = "created_at", startedAt = "started_at", finishedAt = "finished_at"
    }

    public var isFinished: Bool { ["succeeded", "failed", "cancelled"].contains(status) }
}

/// One Server-Sent Event of a job, in the seed's shape.
public struct TrainingEvent: Codable, Sendable {
    public enum Kind: String, Codable, Sendable { case status, progress, complete, error }
    public var type: Kind
    public var message: String
    /// Percent done, 0–100.
    public var progress: Double
    public var status: String
    public var elapsedSeconds: Double?
    /// A candidate just scored (progress events).
    public var candidate: LeaderboardEntry?
    /// The job's result (complete events).
    public var result: JSONValue?
    /// The seed's complete event names the registered model at its top level: `model_id`,
    /// `version`, `best_model` and `metrics` (held-out), copied from `result`.
    public var modelID: String?
    public var version: String?
    public var bestModel: String?
    public var metrics: JSONValue?

    public init(type: Kind, message: String, progress: Double, status: String, elapsedSeconds: Double? = nil,
                candidate: LeaderboardEntry? = nil, result: JSONValue? = nil) {
        self.type = type
        self.message = message
        self.progress = progress
        self.status = status
        self.elapsedSeconds = elapsedSeconds
        self.candidate = candidate
        self.result = result
        if type == .complete, case .object(let fields)? = result {
            modelID = fields["model_id"]?.stringValue
            version = fields["version"]?.stringValue
            bestModel = fields["best_model"]?.stringValue
            metrics = fields["metrics"]
        }
    }

    enum CodingKeys: String, CodingKey {
        case type, message, progress, status, candidate, result, elapsedSeconds = "elapsed_s"
        case modelID = "model_id", version, bestModel = "best_model", metrics
    }
}
