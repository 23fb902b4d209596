import Foundation
import WarehouseAutoML
import WarehouseCore
import WarehouseCrypto

/// Registers an AutoML result as the next version of the job's model: `model.json` (the
/// pipeline), `metrics.json`, `leaderboard.json` and `profile.json`, with the record's
/// algorithm, scores, dataset reference and custom metadata filled in.
struct TrainedModelRegistration {
    let models: ModelService

    func register(result: AutoMLResult, request: TrainingRequest, dataset: DatasetRecord, profile: DatasetProfile,
                  jobID: String) throws -> ModelVersionRecord {
        let report = result.report
        let isClassification = profile.taskType == .classification
        let scoreName = isClassification ? "accuracy" : "r2"
        let lossName = isClassification ? "log_loss" : "rmse"
        let now = Timestamps.now()
        var record = ModelVersionRecord(modelID: request.modelID, userID: request.userID,
                                        name: request.name ?? "\(request.datasetID) AutoML", version: "v0",
                                        framework: .other, modelType: isClassification ? .classification : .regression,
                                        createdAt: now)
        record.description = request.description ?? "Trained by the warehouse on dataset \(request.datasetID) \(dataset.version): \(report.bestModel), \(report.validationMethod), \(report.metric) \(Self.format(report.validationScore)) on validation."
        record.algorithm = report.bestModel
        record.trainingAccuracy = report.trainingMetrics[scoreName]
        record.validationAccuracy = report.validationMetrics[scoreName]
        record.testAccuracy = report.testMetrics[scoreName]
        record.trainingLoss = report.trainingMetrics[lossName]
        record.trainingDataset = "\(request.datasetID)@\(dataset.version) sha256:\(dataset.fileHash)"
        record.tags = ["automl", "tabular", profile.problemType.rawValue]
        record.inputShape = .array([.null, .int(Int64(result.pipeline.features.count))])
        record.outputShape = .array([.null, .int(Int64(result.pipeline.target.classes?.count ?? 1))])
        record.customMetadata = [
            "task": .string(profile.taskType.rawValue),
            "problem_type": .string(profile.problemType.rawValue),
            "target": .string(profile.targetColumn),
            "features": .array(result.pipeline.features.map { .string($0.name) }),
            "classes": result.pipeline.target.classes.map { .array($0.map(JSONValue.string)) } ?? .null,
            "metric": .string(report.metric),
            "validation_score": .double(report.validationScore),
            "validation_method": .string(report.validationMethod),
            "metrics": .object([
                "test": .object(report.testMetrics.mapValues(JSONValue.double)),
                "validation": .object(report.validationMetrics.mapValues(JSONValue.double)),
                "training": .object(report.trainingMetrics.mapValues(JSONValue.double)),
            ]),
            "seed": .int(Int64(request.seed)),
            "time_limit_s": .double(request.timeLimit),
            "elapsed_s": .double(report.elapsedSeconds),
            "dataset": .object([
                "dataset_id": .string(request.datasetID), "version": .string(dataset.version),
                "sha256": .string(dataset.fileHash), "rows": .int(Int64(dataset.rows)),
            ]),
            "training_job": .string(jobID),
            "automatic": .bool(request.automatic),
            "pipeline_format": .string("\(TrainedPipeline.formatName)@\(TrainedPipeline.currentVersion)"),
        ]

        let files: [(path: String, data: Data)] = [
            ("model.json", try result.pipeline.encoded()),
            ("metrics.json", try Self.json(MetricsFile(report: report))),
            ("leaderboard.json", try Self.json(report.leaderboard)),
            ("profile.json", try Self.json(profile)),
        ]
        var spooled: [String] = []
        defer { for path in spooled { try? FileManager.default.removeItem(atPath: path) } }
        return try models.createVersion(record, requestedVersion: nil, primary: "model.json") { sink in
            for file in files {
                let path = models.spoolDirectory + "/trained-\(UUID().uuidString)-\(file.path)"
                guard FileManager.default.createFile(atPath: path, contents: file.data) else {
                    throw WarehouseError.storageUnavailable("cannot write \(path)")
                }
                spooled.append(path)
                let hasher = SHA256()
                hasher.update(file.data)
                let digest = Hex.encode(hasher.finalize())
                let modelFile = ModelFile(filename: file.path, filePath: file.path, fileSize: UInt64(file.data.count), fileType: "json",
                                          fileHash: digest, contentType: "application/json", isPrimary: file.path == "model.json",
                                          description: Self.descriptions[file.path],
                                          format: file.path == "model.json" ? "automl-pipeline" : "json")
                try sink.add(modelFile, spoolPath: path, size: UInt64(file.data.count), sha256: digest)
            }
        }
    }

    static let descriptions = [
        "model.json": "the fitted pipeline (\(TrainedPipeline.formatName) version \(TrainedPipeline.currentVersion))",
        "metrics.json": "test, validation and training metrics",
        "leaderboard.json": "every candidate with its validation score, fit and prediction time",
        "profile.json": "the dataset profile the model was trained on",
    ]

    static func json<T: Encodable>(_ value: T) throws -> Data {
        Data(try JSONCoding.string(value).utf8)
    }

    static func format(_ value: Double) -> String { String(format: "%.4f", value) }
}

/// `metrics.json`.
struct MetricsFile: Encodable {
    let report: AutoMLReport

    enum CodingKeys: String, CodingKey {
        case metric, bestModel = "best_model", validationScore = "validation_score", validationMethod = "validation_method"
        case trainRows = "train_rows", testRows = "test_rows", test, validation, training
        case confusionMatrix = "confusion_matrix", seed, timeLimit = "time_limit_s", elapsed = "elapsed_s"
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(report.metric, forKey: .metric)
        try c.encode(report.bestModel, forKey: .bestModel)
        try c.encode(report.validationScore, forKey: .validationScore)
        try c.encode(report.validationMethod, forKey: .validationMethod)
        try c.encode(report.trainRows, forKey: .trainRows)
        try c.encode(report.testRows, forKey: .testRows)
        try c.encode(report.testMetrics, forKey: .test)
        try c.encode(report.validationMetrics, forKey: .validation)
        try c.encode(report.trainingMetrics, forKey: .training)
        try c.encode(report.confusionMatrix, forKey: .confusionMatrix)
        try c.encode(report.seed, forKey: .seed)
        try c.encode(report.timeLimitSeconds, forKey: .timeLimit)
        try c.encode(report.elapsedSeconds, forKey: .elapsed)
    }
}
