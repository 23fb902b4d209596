import Foundation
import WarehouseAPI
import WarehouseCore
import WarehouseHTTPServer
import WarehouseService

/// Settings of the MLflow surface.
public struct MLflowSettings: Sendable {
    /// Where proxied uploads are spooled (and hashed) on their way to the store.
    public var spoolDirectory: String

    public init(spoolDirectory: String) {
        self.spoolDirectory = spoolDirectory
    }
}

/// MLflow's REST protocol (`/api/2.0/mlflow/…`, `/api/2.0/mlflow-artifacts/…`) as an adapter
/// over the services: the stock `mlflow` client works with `MLFLOW_TRACKING_URI` set to the
/// warehouse and `MLFLOW_TRACKING_TOKEN` to a warehouse token. Every error is MLflow's
/// `{"error_code", "message"}`.
public struct MLflowRoutes: HTTPHandler {
    static let registryPrefix = "/api/2.0/mlflow/"
    static let artifactsPrefix = "/api/2.0/mlflow-artifacts/artifacts/"
    static let artifactsRoot = "/api/2.0/mlflow-artifacts/"
    static let serverInfo = "/api/3.0/mlflow/server-info"

    let access: AccessControl
    let registry: MLflowRegistry
    let artifacts: MLflowArtifacts
    let tracking: MLflowTracking
    let logger: Logger

    public init(models: ModelService, lifecycle: ModelLifecycle, access: AccessControl, check: StoredObjectCheck,
                settings: MLflowSettings, logger: Logger) {
        self.access = access
        self.logger = logger
        let staging = MLflowStaging(models: models)
        registry = MLflowRegistry(models: models, lifecycle: lifecycle, staging: staging)
        artifacts = MLflowArtifacts(models: models, staging: staging, check: check, spoolDirectory: settings.spoolDirectory)
        tracking = MLflowTracking(staging: staging)
    }

    /// Whether `path` belongs to this surface.
    public static func serves(_ path: String) -> Bool {
        path.hasPrefix(registryPrefix) || path.hasPrefix(artifactsRoot) || path == serverInfo
    }

    /// Every operation this surface answers, as (method, pattern), for `/metrics` and the
    /// OpenAPI document (a test holds them level).
    public static let operations: [(method: String, pattern: String)] = {
        let models = "/api/2.0/mlflow/registered-models/"
        let versions = "/api/2.0/mlflow/model-versions/"
        let logged = "/api/2.0/mlflow/logged-models"
        let runs = "/api/2.0/mlflow/runs/"
        let artifacts = "/api/2.0/mlflow-artifacts/"
        return [
            ("POST", models + "create"), ("GET", models + "get"), ("GET", models + "search"), ("PATCH", models + "update"),
            ("POST", models + "rename"), ("DELETE", models + "delete"), ("POST", models + "set-tag"), ("DELETE", models + "delete-tag"),
            ("POST", models + "get-latest-versions"), ("GET", models + "get-latest-versions"),
            ("POST", models + "alias"), ("GET", models + "alias"), ("DELETE", models + "alias"),
            ("POST", versions + "create"), ("GET", versions + "get"), ("GET", versions + "search"), ("PATCH", versions + "update"),
            ("DELETE", versions + "delete"), ("POST", versions + "set-tag"), ("DELETE", versions + "delete-tag"),
            ("GET", versions + "get-download-uri"), ("POST", versions + "transition-stage"),
            ("POST", logged), ("POST", logged + "/search"), ("GET", logged + "/{model_id}"), ("PATCH", logged + "/{model_id}"), ("PATCH", logged + "/{model_id}/tags"),
            ("POST", logged + "/{model_id}/params"),
            ("POST", runs + "create"), ("GET", runs + "get"), ("POST", runs + "update"), ("POST", runs + "log-batch"),
            ("POST", runs + "log-metric"), ("POST", runs + "log-parameter"), ("POST", runs + "set-tag"), ("POST", runs + "outputs"),
            ("GET", "/api/2.0/mlflow/metrics/get-history"),
            ("GET", "/api/2.0/mlflow/experiments/get-by-name"), ("GET", "/api/2.0/mlflow/experiments/get"),
            ("POST", "/api/2.0/mlflow/experiments/create"),
            ("GET", artifacts + "artifacts"), ("GET", artifacts + "artifacts/{path}"), ("PUT", artifacts + "artifacts/{path}"),
            ("POST", artifacts + "mpu/create/{path}"), ("POST", artifacts + "mpu/complete/{path}"), ("POST", artifacts + "mpu/abort/{path}"),
            ("GET", "/api/3.0/mlflow/server-info"),
        ]
    }()

    typealias Route = (HTTPRequest, Principal) throws -> HTTPResponse

    public func plan(for head: HTTPRequestHead) -> HTTPRequestPlan {
        let logger = self.logger
        let (route, pattern, body) = self.route(head.method, head.path)
        do {
            let principal = try access.authenticate(authorization: Self.bearer(head.headers["authorization"]))
            head.identity.set(principal)
        } catch {
            return HTTPRequestPlan(body: .none, route: pattern) { _ in MLflowErrorResponses.response(for: error, head: head, logger: logger) }
        }
        return HTTPRequestPlan(body: body, route: pattern) { received in
            do {
                let request = HTTPRequest(head: head, pathParameters: [:], body: try received.get())
                return try route(request, try head.principal())
            } catch {
                return MLflowErrorResponses.response(for: error, head: head, logger: logger)
            }
        }
    }

    /// The client sends `Authorization: Basic` instead of its token when
    /// `MLFLOW_TRACKING_USERNAME` and `MLFLOW_TRACKING_PASSWORD` are set: the password is then
    /// the warehouse token (the user name is not checked; the token says whose it is).
    static func bearer(_ authorization: String?) -> String? {
        guard let authorization, authorization.lowercased().hasPrefix("basic ") else { return authorization }
        guard let decoded = Data(base64Encoded: String(authorization.dropFirst(6)).trimmingCharacters(in: .whitespaces)),
              let text = String(data: decoded, encoding: .utf8), let colon = text.firstIndex(of: ":") else { return authorization }
        return "Bearer " + text[text.index(after: colon)...]
    }

    func route(_ method: String, _ path: String) -> (Route, String, HTTPBodyKind) {
        let small = HTTPBodyKind.buffered(maxBytes: 16 << 20)
        let (registry, tracking, artifacts) = (self.registry, self.tracking, self.artifacts)
        func json(_ pattern: String, _ body: @escaping (MLflowRegistry, MLflowParameters, Principal) throws -> HTTPResponse) -> (Route, String, HTTPBodyKind) {
            ({ request, principal in try body(registry, try MLflowParameters(request), principal) }, pattern, small)
        }
        func track(_ pattern: String, _ body: @escaping (MLflowTracking, MLflowParameters, Principal) throws -> HTTPResponse) -> (Route, String, HTTPBodyKind) {
            ({ request, principal in try body(tracking, try MLflowParameters(request), principal) }, pattern, small)
        }
        let unmatched: (Route, String, HTTPBodyKind) = ({ _, _ in
            throw MLflowError(code: "ENDPOINT_NOT_FOUND", message: "no MLflow endpoint \(method) \(path) on this server", status: 404)
        }, "/api/mlflow/unmatched", small)

        if path == Self.serverInfo {
            guard method == "GET" else { return unmatched }
            return ({ _, _ in
                JSON.response(JSONValue.object([
                    "store_type": .string("warehouse"), "multipart_uploads_enabled": .bool(artifacts.multipartUploads),
                    "multipart_downloads_enabled": .bool(false), "artifacts_presigned_only": .bool(false), "workspaces_enabled": .bool(false),
                ]))
            }, Self.serverInfo, .none)
        }
        if path.hasPrefix(Self.artifactsRoot) {
            let rest = String(path.dropFirst(Self.artifactsRoot.count))
            let base = "/api/2.0/mlflow-artifacts/"
            if rest == "artifacts" || rest == "artifacts/" || rest.isEmpty {
                guard method == "GET" else { return unmatched }
                return ({ request, principal in try artifacts.list(request.query("path"), principal: principal) }, base + "artifacts", .none)
            }
            if rest.hasPrefix("artifacts/") {
                let raw = String(rest.dropFirst("artifacts/".count))
                let artifact = raw.removingPercentEncoding ?? raw
                switch method {
                case "GET", "HEAD":
                    return ({ request, principal in try artifacts.download(artifact, request: request, principal: principal) }, base + "artifacts/{path}", .none)
                case "PUT":
                    return ({ request, _ in try artifacts.finishUpload(request.body) }, base + "artifacts/{path}",
                            .streamed { head in try artifacts.uploadSink(head) })
                default: return unmatched
                }
            }
            for verb in ["create", "complete", "abort"] where method == "POST" && rest.hasPrefix("mpu/\(verb)/") {
                let raw = String(rest.dropFirst("mpu/\(verb)/".count))
                let directory = raw.removingPercentEncoding ?? raw
                return ({ request, principal in
                    let parameters = try MLflowParameters(request)
                    switch verb {
                    case "create": return try artifacts.createMultipart(directory, parameters: parameters, principal: principal)
                    case "complete": return try artifacts.completeMultipart(directory, parameters: parameters, principal: principal)
                    default: return try artifacts.abortMultipart(directory, parameters: parameters, principal: principal)
                    }
                }, base + "mpu/\(verb)/{path}", small)
            }
            return unmatched
        }

        let rest = String(path.dropFirst(Self.registryPrefix.count))
        let pattern = Self.registryPrefix + rest
        switch (method, rest) {
        case ("POST", "registered-models/create"): return json(pattern) { try $0.createModel($1, principal: $2) }
        case ("GET", "registered-models/get"): return json(pattern) { try $0.getModel($1, principal: $2) }
        case ("GET", "registered-models/search"): return json(pattern) { try $0.searchModels($1, principal: $2) }
        case ("PATCH", "registered-models/update"): return json(pattern) { try $0.updateModel($1, principal: $2) }
        case ("POST", "registered-models/rename"): return json(pattern) { try $0.renameModel($1, principal: $2) }
        case ("DELETE", "registered-models/delete"): return json(pattern) { try $0.deleteModel($1, principal: $2) }
        case ("POST", "registered-models/set-tag"): return json(pattern) { try $0.setModelTag($1, principal: $2, delete: false) }
        case ("DELETE", "registered-models/delete-tag"): return json(pattern) { try $0.setModelTag($1, principal: $2, delete: true) }
        case ("POST", "registered-models/get-latest-versions"), ("GET", "registered-models/get-latest-versions"):
            return json(pattern) { try $0.latestVersions($1, principal: $2) }
        case ("POST", "registered-models/alias"): return json(pattern) { try $0.setAlias($1, principal: $2) }
        case ("GET", "registered-models/alias"): return json(pattern) { try $0.getByAlias($1, principal: $2) }
        case ("DELETE", "registered-models/alias"): return json(pattern) { try $0.deleteAlias($1, principal: $2) }
        case ("POST", "model-versions/create"): return json(pattern) { try $0.createVersion($1, principal: $2) }
        case ("GET", "model-versions/get"): return json(pattern) { try $0.getVersion($1, principal: $2) }
        case ("GET", "model-versions/search"): return json(pattern) { try $0.searchVersions($1, principal: $2) }
        case ("PATCH", "model-versions/update"): return json(pattern) { try $0.updateVersion($1, principal: $2) }
        case ("DELETE", "model-versions/delete"): return json(pattern) { try $0.deleteVersion($1, principal: $2) }
        case ("POST", "model-versions/set-tag"): return json(pattern) { try $0.setVersionTag($1, principal: $2, delete: false) }
        case ("DELETE", "model-versions/delete-tag"): return json(pattern) { try $0.setVersionTag($1, principal: $2, delete: true) }
        case ("GET", "model-versions/get-download-uri"): return json(pattern) { try $0.downloadURI($1, principal: $2) }
        case ("POST", "model-versions/transition-stage"): return json(pattern) { try $0.transitionStage($1, principal: $2) }
        case ("POST", "logged-models"): return track(pattern) { try $0.createLoggedModel($1, principal: $2) }
        case ("POST", "logged-models/search"): return track(pattern) { try $0.searchLoggedModels($1, principal: $2) }
        case ("POST", "runs/create"): return track(pattern) { try $0.createRun($1, principal: $2) }
        case ("GET", "runs/get"): return track(pattern) { try $0.getRun($1, principal: $2) }
        case ("POST", "runs/update"): return track(pattern) { try $0.updateRun($1, principal: $2) }
        case ("POST", "runs/log-batch"): return track(pattern) { try $0.logToRun($1, principal: $2, single: nil) }
        case ("POST", "runs/log-metric"): return track(pattern) { try $0.logToRun($1, principal: $2, single: "metric") }
        case ("POST", "runs/log-parameter"): return track(pattern) { try $0.logToRun($1, principal: $2, single: "param") }
        case ("POST", "runs/set-tag"): return track(pattern) { try $0.logToRun($1, principal: $2, single: "tag") }
        case ("POST", "runs/outputs"): return track(pattern) { try $0.runOutputs($1, principal: $2) }
        case ("GET", "metrics/get-history"): return track(pattern) { try $0.metricHistory($1, principal: $2) }
        case ("GET", "experiments/get-by-name"): return track(pattern) { try $0.experimentByName($1, principal: $2) }
        case ("GET", "experiments/get"): return track(pattern) { try $0.experiment($1, principal: $2) }
        case ("POST", "experiments/create"): return track(pattern) { try $0.createExperiment($1, principal: $2) }
        default: break
        }
        // logged-models/{id}[/tags|/params]
        let segments = rest.split(separator: "/").map(String.init)
        if segments.count >= 2, segments[0] == "logged-models", segments[1] != "search" {
            let id = segments[1]
            let base = Self.registryPrefix + "logged-models/{model_id}"
            switch (method, segments.count == 3 ? segments[2] : "") {
            case ("GET", ""): return track(base) { tracking, _, principal in try tracking.getLoggedModel(id, principal: principal) }
            case ("PATCH", ""): return track(base) { try $0.finalizeLoggedModel(id, parameters: $1, principal: $2) }
            case ("PATCH", "tags"): return track(base + "/tags") { try $0.setLoggedModelTags(id, parameters: $1, principal: $2) }
            case ("POST", "params"): return track(base + "/params") { try $0.logLoggedModelParams(id, parameters: $1, principal: $2) }
            default: break
            }
        }
        return unmatched
    }
}
