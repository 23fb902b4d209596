import Foundation
import WarehouseAPI
import WarehouseCore
import WarehouseHTTPServer
import WarehouseService

/// The part of MLflow's tracking API that `log_model` needs: logged models (MLflow 3 logs
/// every model as one, uploads its files under the artifact URI the server gives, then
/// registers `models:/{model_id}`) and, under `start_run()`, minimal runs with their params,
/// metrics and tags. Experiments are names only: every name exists, with an id that spells it.
struct MLflowTracking {
    let staging: MLflowStaging

    // MARK: - Experiments

    static let defaultExperiment = "Default"

    static func experimentID(_ name: String) -> String {
        name == defaultExperiment ? "0" : "x" + Base64URL.encode(Array(name.utf8))
    }

    static func experimentName(_ id: String) throws -> String {
        if id == "0" { return defaultExperiment }
        guard id.hasPrefix("x"), let bytes = Base64URL.decode(String(id.dropFirst())), let name = String(bytes: bytes, encoding: .utf8) else {
            throw MLflowError.notFound("Could not find experiment with ID \(id)")
        }
        return name
    }

    func experimentJSON(_ name: String, principal: Principal) -> JSONValue {
        let id = Self.experimentID(name)
        return .object([
            "experiment_id": .string(id), "name": .string(name),
            "artifact_location": .string(""),
            "lifecycle_stage": .string("active"), "tags": .array([]),
        ])
    }

    func experimentByName(_ parameters: MLflowParameters, principal: Principal) throws -> HTTPResponse {
        let name = try parameters.required("experiment_name")
        return JSON.response(JSONValue.object(["experiment": experimentJSON(name, principal: principal)]))
    }

    func experiment(_ parameters: MLflowParameters, principal: Principal) throws -> HTTPResponse {
        let name = try Self.experimentName(try parameters.required("experiment_id"))
        return JSON.response(JSONValue.object(["experiment": experimentJSON(name, principal: principal)]))
    }

    func createExperiment(_ parameters: MLflowParameters, principal: Principal) throws -> HTTPResponse {
        let name = try parameters.required("name")
        return JSON.response(JSONValue.object(["experiment_id": .string(Self.experimentID(name))]))
    }

    // MARK: - Logged models

    func loggedModelJSON(_ record: MLflowStagedRecord) -> JSONValue {
        var info: [String: JSONValue] = [
            "model_id": .string(record.id), "experiment_id": .string(record.experimentID), "name": .string(record.name),
            "artifact_uri": .string(staging.artifactURI(record)), "status": .string(record.status),
            "creation_timestamp_ms": .int(record.createdMS), "last_updated_timestamp_ms": .int(record.updatedMS),
            "model_type": .string(record.modelType ?? ""), "tags": MLflowJSON.tags(record.tags.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }),
        ]
        if let run = record.sourceRunID { info["source_run_id"] = .string(run) }
        return .object([
            "info": .object(info),
            "data": .object([
                "params": MLflowJSON.tags(record.params.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }),
                "metrics": .array(record.metrics.sorted { $0.key < $1.key }.map { .object(["key": .string($0.key), "value": .double($0.value)]) }),
            ]),
        ])
    }

    func createLoggedModel(_ parameters: MLflowParameters, principal: Principal) throws -> HTTPResponse {
        let now = MLflowStaging.nowMS()
        var record = MLflowStagedRecord(id: MLflowStaging.newID(kind: "m"), user: MLflowStaging.user(principal), kind: "model",
                                        experimentID: parameters.string("experiment_id") ?? "0", name: parameters.string("name") ?? "model",
                                        status: "LOGGED_MODEL_PENDING", createdMS: now, updatedMS: now)
        record.sourceRunID = parameters.string("source_run_id")
        record.modelType = parameters.string("model_type")
        record.tags = Dictionary(try parameters.pairs("tags").map { ($0.key, $0.value) }, uniquingKeysWith: { $1 })
        record.params = Dictionary(try parameters.pairs("params").map { ($0.key, $0.value) }, uniquingKeysWith: { $1 })
        try staging.create(record)
        return JSON.response(JSONValue.object(["model": loggedModelJSON(record)]))
    }

    func getLoggedModel(_ id: String, principal: Principal) throws -> HTTPResponse {
        JSON.response(JSONValue.object(["model": loggedModelJSON(try staging.load(id, principal: principal, kind: "model"))]))
    }

    func finalizeLoggedModel(_ id: String, parameters: MLflowParameters, principal: Principal) throws -> HTTPResponse {
        let status = try parameters.required("status")
        guard ["LOGGED_MODEL_READY", "LOGGED_MODEL_UPLOAD_FAILED", "LOGGED_MODEL_PENDING"].contains(status) else {
            throw MLflowError.invalid("unknown logged model status '\(status)'")
        }
        let record = try staging.update(id, principal: principal, kind: "model") { $0.status = status }
        return JSON.response(JSONValue.object(["model": loggedModelJSON(record)]))
    }

    func setLoggedModelTags(_ id: String, parameters: MLflowParameters, principal: Principal) throws -> HTTPResponse {
        let tags = try parameters.pairs("tags")
        _ = try staging.update(id, principal: principal, kind: "model") { record in
            for tag in tags { record.tags[tag.key] = tag.value }
        }
        return JSON.response(JSONValue.object([:]))
    }

    func logLoggedModelParams(_ id: String, parameters: MLflowParameters, principal: Principal) throws -> HTTPResponse {
        let params = try parameters.pairs("params")
        _ = try staging.update(id, principal: principal, kind: "model") { record in
            for param in params { record.params[param.key] = param.value }
        }
        return JSON.response(JSONValue.object([:]))
    }

    /// `logged-models/search`: what `register_model("runs:/{run}/{name}")` asks when the run's
    /// artifacts hold no MLmodel (MLflow 3 logs models apart from runs).
    func searchLoggedModels(_ parameters: MLflowParameters, principal: Principal) throws -> HTTPResponse {
        let experiments = Set(parameters.strings("experiment_ids"))
        let filter = try MLflowFilter(parameters.string("filter"), attributes: [
            "name": false, "model_id": false, "source_run_id": false, "status": false, "model_type": false,
            "creation_timestamp": true, "last_updated_timestamp": true,
        ])
        let found = try staging.records(principal: principal, kind: "model").filter { record in
            guard experiments.isEmpty || experiments.contains(record.experimentID) else { return false }
            var subject = MLflowSearchSubject()
            subject.strings = ["name": record.name, "model_id": record.id, "source_run_id": record.sourceRunID ?? "",
                               "status": record.status, "model_type": record.modelType ?? ""]
            subject.numbers = ["creation_timestamp": Double(record.createdMS), "last_updated_timestamp": Double(record.updatedMS)]
            subject.tags = record.tags
            subject.metrics = record.metrics
            subject.params = record.params
            return filter.matches(subject)
        }.sorted { $0.createdMS > $1.createdMS }
        let limit = try parameters.int("max_results") ?? 100
        let offset = try MLflowJSON.offset(parameters.string("page_token"))
        var answer: [String: JSONValue] = ["models": .array(found.dropFirst(offset).prefix(limit).map(loggedModelJSON))]
        if offset + limit < found.count { answer["next_page_token"] = .string(MLflowJSON.pageToken(offset + limit)) }
        return JSON.response(JSONValue.object(answer))
    }

    // MARK: - Runs

    func runJSON(_ record: MLflowStagedRecord) -> JSONValue {
        .object(["info": runInfo(record), "data": .object([
            "metrics": .array(record.metrics.sorted { $0.key < $1.key }.map { key, value in
                let last = record.metricHistory[key]?.last
                return .object(["key": .string(key), "value": .double(value), "timestamp": .int(last?.timestamp ?? 0), "step": .int(last?.step ?? 0)])
            }),
            "params": MLflowJSON.tags(record.params.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }),
            "tags": MLflowJSON.tags(record.tags.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }),
        ])])
    }

    func runInfo(_ record: MLflowStagedRecord) -> JSONValue {
        var info: [String: JSONValue] = [
            "run_id": .string(record.id), "run_uuid": .string(record.id), "run_name": .string(record.name),
            "experiment_id": .string(record.experimentID), "user_id": .string(record.user), "status": .string(record.status),
            "start_time": .int(record.createdMS), "artifact_uri": .string(staging.artifactURI(record)),
            "lifecycle_stage": .string("active"),
        ]
        if let end = record.endMS { info["end_time"] = .int(end) }
        return .object(info)
    }

    func createRun(_ parameters: MLflowParameters, principal: Principal) throws -> HTTPResponse {
        let now = MLflowStaging.nowMS()
        var record = MLflowStagedRecord(id: MLflowStaging.newID(kind: "r"), user: MLflowStaging.user(principal), kind: "run",
                                        experimentID: parameters.string("experiment_id") ?? "0", name: parameters.string("run_name") ?? "",
                                        status: "RUNNING", createdMS: Int64(try parameters.int("start_time") ?? Int(now)), updatedMS: now)
        record.tags = Dictionary(try parameters.pairs("tags").map { ($0.key, $0.value) }, uniquingKeysWith: { $1 })
        if record.name.isEmpty { record.name = record.tags["mlflow.runName"] ?? record.id }
        try staging.create(record)
        return JSON.response(JSONValue.object(["run": runJSON(record)]))
    }

    func runID(_ parameters: MLflowParameters) throws -> String {
        guard let id = parameters.string("run_id") ?? parameters.string("run_uuid"), !id.isEmpty else {
            throw MLflowError.invalid("missing value for required parameter 'run_id'")
        }
        return id
    }

    func getRun(_ parameters: MLflowParameters, principal: Principal) throws -> HTTPResponse {
        JSON.response(JSONValue.object(["run": runJSON(try staging.load(try runID(parameters), principal: principal, kind: "run"))]))
    }

    func updateRun(_ parameters: MLflowParameters, principal: Principal) throws -> HTTPResponse {
        let record = try staging.update(try runID(parameters), principal: principal, kind: "run") { record in
            if let status = parameters.string("status") { record.status = status }
            if let end = try parameters.int("end_time") { record.endMS = Int64(end) }
            if let name = parameters.string("run_name"), !name.isEmpty { record.name = name }
        }
        return JSON.response(JSONValue.object(["run_info": runInfo(record)]))
    }

    /// `log-batch`, `log-metric`, `log-parameter`, `set-tag`: metrics that name a logged model
    /// (`model_id`) are that model's too, and so reach the version it becomes.
    func logToRun(_ parameters: MLflowParameters, principal: Principal, single: String?) throws -> HTTPResponse {
        var metrics: [(key: String, value: Double, timestamp: Int64, step: Int64, model: String?)] = []
        var params: [(key: String, value: String)] = []
        var tags: [(key: String, value: String)] = []
        func metric(_ object: [String: JSONValue]) throws {
            guard let key = object["key"]?.stringValue, let value = object["value"]?.doubleValue ?? object["value"]?.stringValue.flatMap(Double.init) else {
                throw MLflowError.invalid("a metric needs a 'key' and a numeric 'value'")
            }
            metrics.append((key, value, Int64(object["timestamp"]?.doubleValue ?? Double(MLflowStaging.nowMS())),
                            Int64(object["step"]?.doubleValue ?? 0), object["model_id"]?.stringValue))
        }
        switch single {
        case "metric": try metric(parameters.body)
        case "param": params = [(try parameters.required("key"), parameters.string("value") ?? "")]
        case "tag": tags = [(try parameters.required("key"), parameters.string("value") ?? "")]
        default:
            if case .array(let items)? = parameters.body["metrics"] {
                for item in items { if case .object(let object) = item { try metric(object) } }
            }
            params = try parameters.pairs("params")
            tags = try parameters.pairs("tags")
        }
        _ = try staging.update(try runID(parameters), principal: principal, kind: "run") { record in
            for item in metrics {
                record.metrics[item.key] = item.value
                record.metricHistory[item.key, default: []].append(.init(value: item.value, timestamp: item.timestamp, step: item.step))
            }
            for param in params { record.params[param.key] = param.value }
            for tag in tags { record.tags[tag.key] = tag.value }
        }
        for (model, items) in Dictionary(grouping: metrics.filter { $0.model != nil }, by: { $0.model! }) {
            _ = try staging.update(model, principal: principal, kind: "model") { record in
                for item in items { record.metrics[item.key] = item.value }
            }
        }
        return JSON.response(JSONValue.object([:]))
    }

    func runOutputs(_ parameters: MLflowParameters, principal: Principal) throws -> HTTPResponse {
        _ = try staging.load(try runID(parameters), principal: principal, kind: "run")
        return JSON.response(JSONValue.object([:]))
    }

    func metricHistory(_ parameters: MLflowParameters, principal: Principal) throws -> HTTPResponse {
        let record = try staging.load(try runID(parameters), principal: principal, kind: "run")
        let key = try parameters.required("metric_key")
        return JSON.response(JSONValue.object(["metrics": .array((record.metricHistory[key] ?? []).map { point in
            .object(["key": .string(key), "value": .double(point.value), "timestamp": .int(point.timestamp), "step": .int(point.step)])
        })]))
    }
}
