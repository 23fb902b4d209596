import Foundation
import WarehouseAutoML
import WarehouseCore
import WarehouseCrypto
import WarehouseFormats
import WarehouseONNX

/// Registers an AutoML result as the next version of the job's model: `model.onnx` (the whole
/// pipeline as one ONNX graph, the primary file), `model.json` (the pipeline `/predict`
/// runs), `metrics.json`, `leaderboard.json` and `profile.json`, with the record's algorithm,
/// scores, dataset reference, ONNX inputs/outputs and custom metadata filled in.
struct TrainedModelRegistration {
    let models: ModelService

    func register(result: AutoMLResult, request: TrainingRequest, dataset: DatasetRecord, profile: DatasetProfile,
                  jobID: String, feedbackRows: Int = 0) throws -> ModelVersionRecord {
        let report = result.report
        let isClassification = profile.taskType == .classification
        let scoreName = isClassification ? "accuracy" : "r2"
        let lossName = isClassification ? "log_loss" : "rmse"
        let now = Timestamps.now()
        var record = ModelVersionRecord(modelID: request.modelID, userID: request.userID,
                                        name: request.name ?? "\(request.datasetID) AutoML", version: "v0",
                                        framework: .onnx, modelType: isClassification ? .classification : .regression,
                                        createdAt: now)
        record.description = request.description ?? "Trained by the warehouse on dataset \(request.datasetID) \(dataset.version): \(report.bestModel), \(report.validationMethod), \(report.metric) \(Self.format(report.validationScore)) on validation."
        record.algorithm = report.bestModel
        record.trainingAccuracy = report.trainingMetrics[scoreName]
        record.validationAccuracy = report.validationMetrics[scoreName]
        record.testAccuracy = report.testMetrics[scoreName]
        record.trainingLoss = report.trainingMetrics[lossName]
        record.trainingDataset = "\(request.datasetID)@\(dataset.version) sha256:\(dataset.fileHash)"
            + (feedbackRows > 0 ? " + \(feedbackRows) feedback rows" : "")
        record.tags = ["automl", "tabular", profile.problemType.rawValue]
        let exportStarted = Date()
        let onnx = try PipelineExport.model(result.pipeline, producerVersion: "\(TrainedPipeline.formatName) \(TrainedPipeline.currentVersion)")
        let onnxBytes = Data(onnx.encoded())
        let exportSeconds = Date().timeIntervalSince(exportStarted)
        record.inputShape = .object(Dictionary(uniqueKeysWithValues: onnx.graph.inputs.map { ($0.name, Self.shape($0)) }))
        record.outputShape = .object(Dictionary(uniqueKeysWithValues: onnx.graph.outputs.map { ($0.name, Self.shape($0)) }))
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
            "training_options": try JSONValue.from(report.options),
            "permutation_importances": try report.permutationImportances.map { try JSONValue.from($0) } ?? .null,
            "time_limit_s": .double(request.timeLimit),
            "elapsed_s": .double(report.elapsedSeconds),
            "dataset": .object([
                "dataset_id": .string(request.datasetID), "version": .string(dataset.version),
                "sha256": .string(dataset.fileHash), "rows": .int(Int64(dataset.rows)),
            ]),
            "training_job": .string(jobID),
            "automatic": .bool(request.automatic),
            "trigger": .string(request.trigger ?? "request"),
            "feedback_rows": .int(Int64(feedbackRows)),
            "pipeline_format": .string("\(TrainedPipeline.formatName)@\(TrainedPipeline.currentVersion)"),
        ]

        let files: [(path: String, data: Data)] = [
            ("model.onnx", onnxBytes),
            ("model.json", try result.pipeline.encoded()),
            ("metrics.json", try Self.json(MetricsFile(report: report))),
            ("leaderboard.json", try Self.json(report.leaderboard)),
            ("profile.json", try Self.json(profile)),
        ]
        var spooled: [(path: String, spool: String, size: Int, digest: String)] = []
        defer { for file in spooled { try? FileManager.default.removeItem(atPath: file.spool) } }
        for file in files {
            let spool = models.spoolDirectory + "/trained-\(UUID().uuidString)-\(file.path)"
            guard FileManager.default.createFile(atPath: spool, contents: file.data) else {
                throw WarehouseError.storageUnavailable("cannot write \(spool)")
            }
            let hasher = SHA256()
            hasher.update(file.data)
            spooled.append((file.path, spool, file.data.count, Hex.encode(hasher.finalize())))
        }
        // Our own ONNX reader checks what the exporter wrote and lists its inputs, outputs and
        // operators, as it does for uploaded models.
        let analysis = FormatDetector.analyze(path: spooled[0].spool, name: "model.onnx")
        guard analysis.format == "onnx" else {
            throw ONNXExportError.unsupported("the exported model.onnx does not read back: \(analysis.warnings.joined(separator: "; "))")
        }
        var details = analysis.details
        details["export_s"] = .double((exportSeconds * 1000).rounded() / 1000)
        record.customMetadata["onnx"] = .object(details)

        return try models.createVersion(record, requestedVersion: nil, primary: "model.onnx") { transaction in
            for file in spooled {
                let isONNX = file.path == "model.onnx"
                let modelFile = ModelFile(filename: file.path, filePath: file.path, fileSize: UInt64(file.size),
                                          fileType: isONNX ? "onnx" : "json", fileHash: file.digest,
                                          contentType: isONNX ? "application/octet-stream" : "application/json", isPrimary: isONNX,
                                          description: Self.descriptions[file.path],
                                          format: isONNX ? "onnx" : file.path == "model.json" ? "automl-pipeline" : "json")
                try transaction.add(modelFile, spoolPath: file.spool)
            }
        }
    }

    static let descriptions = [
        "model.onnx": "the whole pipeline as one ONNX graph (ai.onnx \(PipelineExport.opset), ai.onnx.ml \(PipelineExport.mlOpset)): one input per feature column",
        "model.json": "the fitted pipeline (\(TrainedPipeline.formatName) version \(TrainedPipeline.currentVersion))",
        "metrics.json": "test, validation and training metrics",
        "leaderboard.json": "every candidate with its validation score, fit and prediction time",
        "profile.json": "the dataset profile the model was trained on",
    ]

    /// A graph input's or output's shape, symbolic dimensions as null.
    static func shape(_ info: ONNXValueInfo) -> JSONValue {
        .array(info.shape.map { $0.map(JSONValue.int) ?? .null })
    }

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
        case predictedVsActual = "predicted_vs_actual"
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
        try c.encodeIfPresent(report.predictedVsActual, forKey: .predictedVsActual)
        try c.encode(report.seed, forKey: .seed)
        try c.encode(report.timeLimitSeconds, forKey: .timeLimit)
        try c.encode(report.elapsedSeconds, forKey: .elapsed)
    }
}
