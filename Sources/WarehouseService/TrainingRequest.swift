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
    /// Training options (nil: the defaults; optional so that jobs stored before them decode).
    public var preset: TrainingPreset?
    public var algorithms: [AlgorithmFamily]?
    public var featureColumns: [String]?
    public var excludeColumns: [String]?
    public var validation: ValidationPlan?

    public static let defaultTimeLimit = 60.0

    enum CodingKeys: String, CodingKey {
        case userID = "user_id", datasetID = "dataset_id", datasetVersion = "dataset_version", modelID = "model_id"
        case targetColumn = "target_column", taskType = "task_type", timeLimit = "time_limit_s", metric, seed
        case testFraction = "test_fraction", name, description, automatic
        case includeFeedback = "include_feedback", trigger
        case preset, algorithms, featureColumns = "feature_columns", excludeColumns = "exclude_columns", validation
    }

    /// The options as asked for, defaults filled in (the job's `training_options`; the
    /// result's and the version's say what the search resolved them to).
    public var options: JSONValue {
        var fields: [String: JSONValue] = [
            "preset": .string((preset ?? .balanced).rawValue),
            "algorithms": .array((algorithms ?? AlgorithmFamily.allCases).map { .string($0.rawValue) }),
            "exclude_columns": .array((excludeColumns ?? []).map(JSONValue.string)),
            "seed": .int(Int64(seed)),
        ]
        fields["feature_columns"] = featureColumns.map { .array($0.map(JSONValue.string)) } ?? .null
        fields["validation"] = validation.flatMap { try? JSONValue.from($0) } ?? .null
        return .object(fields)
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
        preset = try string("preset").map(Self.parsePreset)
        algorithms = try Self.names(object["algorithms"], field: "algorithms").map(Self.parseAlgorithms)
        featureColumns = try Self.names(object["feature_columns"], field: "feature_columns")
        excludeColumns = try Self.names(object["exclude_columns"], field: "exclude_columns")
        if let features = featureColumns, features.isEmpty {
            throw WarehouseError.invalid("field 'feature_columns' is empty; leave it out to use every usable column")
        }
        validation = try Self.parseValidation(object["validation"])
    }

    public static func parsePreset(_ text: String) throws -> TrainingPreset {
        guard let preset = TrainingPreset(rawValue: text.lowercased()) else {
            throw WarehouseError.invalid("unknown preset \(Identifiers.quoted(text)); valid presets: \(TrainingPreset.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return preset
    }

    public static func parseAlgorithms(_ names: [String]) throws -> [AlgorithmFamily] {
        guard !names.isEmpty else {
            throw WarehouseError.invalid("field 'algorithms' is empty; valid algorithms: \(AlgorithmFamily.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        var families: [AlgorithmFamily] = []
        for name in names {
            guard let family = AlgorithmFamily.parse(name) else {
                throw WarehouseError.invalid("unknown algorithm \(Identifiers.quoted(name)); valid algorithms: \(AlgorithmFamily.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            if !families.contains(family) { families.append(family) }
        }
        return families
    }

    /// A list of names: a JSON array of strings, or one string of comma-separated names.
    static func names(_ value: JSONValue?, field: String) throws -> [String]? {
        switch value {
        case nil, .null?: return nil
        case .string(let text)?:
            return text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        case .array(let items)?:
            return try items.map { item in
                guard case .string(let text) = item, !text.trimmingCharacters(in: .whitespaces).isEmpty else {
                    throw WarehouseError.invalid("field '\(field)' must be a list of names (strings)")
                }
                return text.trimmingCharacters(in: .whitespaces)
            }
        default: throw WarehouseError.invalid("field '\(field)' must be a list of names (strings)")
        }
    }

    /// `{"kind": "holdout", "fraction": 0.2}` or `{"kind": "cv", "folds": 5}` (also the kind
    /// alone as a string, with those defaults).
    public static func parseValidation(_ value: JSONValue?) throws -> ValidationPlan? {
        let fields: [String: JSONValue]
        switch value {
        case nil, .null?: return nil
        case .string(let kind)?: fields = ["kind": .string(kind)]
        case .object(let object)?: fields = object
        default: throw WarehouseError.invalid(#"field 'validation' must be {"kind": "holdout", "fraction": 0.2} or {"kind": "cv", "folds": 5}"#)
        }
        func number(_ key: String) throws -> Double? {
            switch fields[key] {
            case nil, .null?: return nil
            case .int(let int)?: return Double(int)
            case .double(let double)?: return double
            default: throw WarehouseError.invalid("validation '\(key)' must be a number")
            }
        }
        switch fields["kind"]?.stringValue?.lowercased() {
        case "holdout"?:
            let fraction = try number("fraction") ?? 0.2
            guard fraction > 0 && fraction <= 0.5 else {
                throw WarehouseError.invalid("validation fraction must be in (0, 0.5] (got \(fraction))")
            }
            return .holdout(fraction: fraction)
        case "cv"?, "cross_validation"?, "kfold"?:
            let folds = try number("folds") ?? 5
            guard folds == folds.rounded(), ValidationPlan.foldRange.contains(Int(folds)) else {
                throw WarehouseError.invalid("validation folds must be a whole number from \(ValidationPlan.foldRange.lowerBound) to \(ValidationPlan.foldRange.upperBound) (got \(folds))")
            }
            let repeats = try number("repeats") ?? 1
            guard repeats == repeats.rounded(), ValidationPlan.repeatRange.contains(Int(repeats)) else {
                throw WarehouseError.invalid("validation repeats must be a whole number from \(ValidationPlan.repeatRange.lowerBound) to \(ValidationPlan.repeatRange.upperBound) (got \(repeats))")
            }
            return .crossValidation(folds: Int(folds), repeats: Int(repeats))
        default:
            throw WarehouseError.invalid("validation kind must be \"holdout\" or \"cv\" (got \(fields["kind"].map { "\($0)" } ?? "nothing"))")
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
    /// The options as asked for, defaults filled in (the result's `training_options` are the
    /// resolved ones).
    public var trainingOptions: JSONValue?

    enum CodingKeys: String, CodingKey {
        case jobID = "job_id", userID = "user_id", datasetID = "dataset_id", modelID = "model_id", status, progress
        case message, request, result, error, createdAt = "created_at", startedAt = "started_at", finishedAt = "finished_at"
        case trainingOptions = "training_options"
    }

    public var isFinished: Bool { ["succeeded", "failed", "cancelled"].contains(status) }
}

/// One Server-Sent Event of a job, in the seed's shape.
public struct TrainingEvent: Codable, Sendable {
    /// `complete`, `error` and `cancelled` are terminal: the job's stream ends after one.
    public enum Kind: String, Codable, Sendable { case status, progress, complete, error, cancelled }
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
