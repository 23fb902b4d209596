import Foundation
import WarehouseCore
import WarehouseHTTPServer
import WarehouseService

/// `/datasets`: upload a CSV (profiled while it is local) and read records and profiles;
/// deleting is in LifecycleRoutes, as it also removes the dataset's automatic models.
struct DatasetRoutes {
    let datasets: DatasetService
    let training: TrainingService
    let access: AccessControl
    let uploadBody: HTTPBodyKind

    var definitions: [RouteDefinition] {
        let datasets = self.datasets
        let training = self.training
        let access = self.access
        return [
            RouteDefinition("POST", "/datasets/upload", body: uploadBody) { request in
                let form = try ModelRoutes.form(of: request)
                let fields = try DatasetUploadFields(form.fields)
                try request.principal().authorize(user: fields.userID)
                let file = try ModelRoutes.incomingFile(named: "file", in: form)
                let record = try datasets.upload(fields: fields, file: file)
                var job: TrainingJob?
                // The dataset is kept whatever training would make of it: when it cannot be
                // trained on, no job is queued and `training_refusal` says why.
                if fields.autoTrain, record.profile.trainingRefusal == nil {
                    var trainingRequest = try TrainingRequest(userID: fields.userID, datasetID: fields.datasetID,
                                                              datasetVersion: record.version, timeLimit: fields.timeLimit,
                                                              automatic: true)
                    trainingRequest.name = "\(record.name) AutoML"
                    trainingRequest.trigger = "dataset_upload"
                    job = try training.submit(trainingRequest)
                }
                return JSON.response(DatasetUploadDTO(dataset: record, trainingJob: job))
            },
            RouteDefinition("GET", "/datasets/search/{user_id}") { request in
                let text = request.nonEmptyQuery("query") ?? request.nonEmptyQuery("q") ?? ""
                let page = try datasets.search(user: try request.userParameter(), text: text,
                                               limit: try request.integerQuery("limit", default: 100, range: 1...1000),
                                               skip: try request.integerQuery("skip", default: 0, range: 0...Int(Int32.max)))
                var response = JSON.response(page.hits.map { DatasetHitDTO(record: $0.record, snippet: $0.snippet) })
                response.headers.add("X-Total-Count", String(page.total))
                return response
            },
            RouteDefinition("GET", "/datasets/{user_id}/{dataset_id}/models") { request in
                let records = try training.modelsTrained(user: try request.userParameter(), dataset: try request.datasetParameter())
                return JSON.response(["models": records])
            },
            RouteDefinition("GET", "/datasets/{user_id}/{dataset_id}/analysis") { request in
                JSON.response(try training.analysis(user: try request.userParameter(), dataset: try request.datasetParameter(),
                                                    version: request.nonEmptyQuery("version")))
            },
            RouteDefinition("POST", "/datasets/{user_id}/{dataset_id}/recommendations", body: .buffered(maxBytes: 1 << 16)) { request in
                let body = request.body.bytes.isEmpty ? [:] : try JSON.object(from: request.body.bytes)
                let target = body["target_column"]?.stringValue
                var limit: Double?
                switch body["time_limit_s"] {
                case nil, .null?: break
                case .int(let value)?: limit = Double(value)
                case .double(let value)?: limit = value
                default: throw WarehouseError.invalid("field 'time_limit_s' must be a number")
                }
                if let value = limit { limit = try TrainingRequest.parseTimeLimit(String(value)) }
                return JSON.response(try training.recommendations(user: try request.userParameter(), dataset: try request.datasetParameter(),
                                                                  version: body["version"]?.stringValue ?? request.nonEmptyQuery("version"),
                                                                  targetColumn: target, timeLimit: limit))
            },
            RouteDefinition("GET", "/datasets/{user_id}") { request in
                JSON.response(try datasets.list(user: try request.userParameter()).map(DatasetSummaryDTO.init))
            },
            RouteDefinition("GET", "/datasets/{user_id}/{dataset_id}") { request in
                JSON.response(DatasetDTO(try datasets.record(user: try request.userParameter(), dataset: try request.datasetParameter(),
                                                             version: request.nonEmptyQuery("version"))))
            },
        ]
    }
}

extension HTTPRequest {
    func datasetParameter() throws -> String {
        try Identifiers.name(parameter("dataset_id"), field: "dataset_id")
    }
}

/// A dataset record with the profile's main parts also at the top level (DESIGN.md: rows,
/// columns, target_column, task_type, sample_data).
struct DatasetDTO: Encodable {
    let record: DatasetRecord
    init(_ record: DatasetRecord) { self.record = record }

    enum CodingKeys: String, CodingKey {
        case columns, sampleData = "sample_data", features, droppedColumns = "dropped_columns", problemType = "problem_type"
        case trainingRefusal = "training_refusal"
    }

    func encode(to encoder: any Encoder) throws {
        try record.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(record.profile.columns, forKey: .columns)
        try container.encode(record.profile.sampleData, forKey: .sampleData)
        try container.encode(record.profile.features, forKey: .features)
        try container.encode(record.profile.droppedColumns, forKey: .droppedColumns)
        try container.encode(record.profile.problemType, forKey: .problemType)
        try container.encode(record.profile.trainingRefusal, forKey: .trainingRefusal)
    }
}

/// The upload's answer: the dataset, and the automatic model and job it queued (null when
/// `auto_train` was false or the dataset cannot be trained on, `training_refusal` says why).
struct DatasetUploadDTO: Encodable {
    let dataset: DatasetRecord
    let trainingJob: TrainingJob?

    enum CodingKeys: String, CodingKey { case trainingJob = "training_job", automaticModel = "automatic_model" }

    func encode(to encoder: any Encoder) throws {
        try DatasetDTO(dataset).encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(trainingJob, forKey: .trainingJob)
        try container.encode(trainingJob.map { ["user_id": $0.userID, "model_id": $0.modelID, "job_id": $0.jobID] }, forKey: .automaticModel)
    }
}

/// A dataset search hit: the summary plus `snippet` (HTML-escaped, matches in `<mark>`).
struct DatasetHitDTO: Encodable {
    let record: DatasetRecord
    let snippet: String?

    enum CodingKeys: String, CodingKey { case snippet }

    func encode(to encoder: any Encoder) throws {
        try DatasetSummaryDTO(record).encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(snippet.map(SearchHitEncoding.markedHTML), forKey: .snippet)
    }
}

/// A dataset in a listing: the record without sample rows and per-column details.
struct DatasetSummaryDTO: Encodable {
    let record: DatasetRecord
    init(_ record: DatasetRecord) { self.record = record }

    enum CodingKeys: String, CodingKey {
        case userID = "user_id", datasetID = "dataset_id", version, name, description, filename, fileSize = "file_size"
        case fileHash = "file_hash", rows, columns, targetColumn = "target_column", taskType = "task_type", createdAt = "created_at"
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(record.userID, forKey: .userID)
        try c.encode(record.datasetID, forKey: .datasetID)
        try c.encode(record.version, forKey: .version)
        try c.encode(record.name, forKey: .name)
        try c.encode(record.description, forKey: .description)
        try c.encode(record.filename, forKey: .filename)
        try c.encode(record.fileSize, forKey: .fileSize)
        try c.encode(record.fileHash, forKey: .fileHash)
        try c.encode(record.rows, forKey: .rows)
        try c.encode(record.profile.columns.count, forKey: .columns)
        try c.encode(record.targetColumn, forKey: .targetColumn)
        try c.encode(record.taskType, forKey: .taskType)
        try c.encode(record.createdAt, forKey: .createdAt)
    }
}
