import Foundation
import Testing
import WarehouseCore
import WarehouseServer
import WarehouseTesting

/// MLflow's registry protocol, driven by the stock `mlflow` client from PyPI (in its own
/// virtual environment, scikit-learn and onnxruntime beside it), configured as a user would:
/// MLFLOW_TRACKING_URI and MLFLOW_TRACKING_TOKEN (Tests/python/mlflow_client.py). Each test
/// runs on the local store and on S3.
@Suite(.serialized) struct MLflowProtocolTests {
    static func python(_ environment: String) -> String {
        TestProcess.repositoryPath(".build/mlflow-peers/\(environment)/bin/python")
    }

    static func warehouse(_ backend: String, _ configure: (inout WarehouseConfiguration) -> Void = { _ in }) throws -> TestWarehouse {
        try TestWarehouse { configuration in
            if backend == "s3" { try? TestWarehouse.useS3(TestWarehouse.s3Backend ?? .moto, in: &configuration) }
            configure(&configuration)
        }
    }

    static func token(_ warehouse: TestWarehouse, user: String) throws -> String {
        let created = try warehouse.client.request("POST", "/auth/tokens", headers: [("Content-Type", "application/json")],
                                                   body: Array(#"{"user_id": "\#(user)"}"#.utf8))
        return try #require(created.object["token"] as? String, "\(created.text)")
    }

    /// Runs one scenario; its output when every check held.
    @discardableResult
    static func run(_ scenario: [String], client: String = "mlflow", warehouse: TestWarehouse, token: String,
                    environment: [String: String] = [:]) throws -> String {
        var variables = ["MLFLOW_TRACKING_URI": "http://127.0.0.1:\(warehouse.application.port)", "MLFLOW_TRACKING_TOKEN": token,
                         "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true", "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
                         "HOME": warehouse.directory.path, "PYTHONWARNINGS": "ignore"]
        variables.merge(environment) { $1 }
        let result = try TestProcess.run(python(client), [TestProcess.repositoryPath("Tests/python/mlflow_client.py")] + scenario,
                                         environment: variables)
        #expect(result.status == 0 && result.stdout.contains("ok \(scenario[0])"),
                "\(client) \(scenario.joined(separator: " ")):\n\(result.output.suffix(4000))")
        return result.stdout
    }

    @Test(arguments: ["local", "s3"]) func registryCallsAndTheirErrors(_ backend: String) throws {
        let warehouse = try Self.warehouse(backend)
        try Self.run(["registry", "bob"], warehouse: warehouse, token: try Self.token(warehouse, user: "bob"))
        // The registered model's own fields are in its manifest, so a rebuilt catalog keeps them.
        let manifest = warehouse.storedText(ObjectKeys.modelManifest(user: "bob", model: "fraud"))
        #expect(manifest.contains("\"description\":\"second\"") && manifest.contains("beta"), "\(manifest)")
        #expect(warehouse.storedText(ObjectKeys.modelManifest(user: "bob", model: "fraud-b")).isEmpty, "the renamed model left nothing")
        #expect(!warehouse.storedObjectKeys().contains { $0.contains("/fraud-b/") || $0.contains("/fraud-c/") }, "\(warehouse.storedObjectKeys())")
        _ = try warehouse.application.service.reindex()
        let model = try warehouse.client.request("GET", "/api/2.0/mlflow/registered-models/get?name=bob~fraud")
        let registered = model.object["registered_model"] as? [String: Any]
        #expect(registered?["description"] as? String == "second", "\(model.text)")
        #expect((registered?["tags"] as? [[String: Any]])?.first?["value"] as? String == "beta", "\(model.text)")
        // Errors are MLflow's, with its codes, never a 5xx for a permanent one.
        let missing = try warehouse.client.request("GET", "/api/2.0/mlflow/registered-models/get?name=bob~nope")
        #expect(missing.status == 404 && missing.object["error_code"] as? String == "RESOURCE_DOES_NOT_EXIST", "\(missing.text)")
        // A version named v1.2 has no MLflow number: no answer lists it.
        let dotted = try warehouse.client.upload("/ai-models/upload/single", fields: [("user_id", "bob"), ("model_id", "fraud"), ("version", "v1.2")],
                                                 files: [("file", "notes.txt", .bytes(Array("v1.2".utf8)))])
        #expect(dotted.status == 200, "\(dotted.text)")
        let listed = try warehouse.client.get("/api/2.0/mlflow/model-versions/search?filter=name%3D%27bob~fraud%27")
        let numbers = (listed.object["model_versions"] as? [[String: Any]])?.compactMap { $0["version"] as? String }
        #expect(numbers == ["1"], "\(listed.text)")
        let latest = try warehouse.client.request("POST", "/api/2.0/mlflow/registered-models/get-latest-versions",
                                                  headers: [("Content-Type", "application/json")], body: Array(#"{"name": "bob~fraud"}"#.utf8))
        #expect((latest.object["model_versions"] as? [[String: Any]])?.compactMap { $0["version"] as? String } == ["1"], "\(latest.text)")
        let unknown = try warehouse.client.request("POST", "/api/2.0/mlflow/webhooks/create")
        #expect(unknown.status == 404 && unknown.object["error_code"] as? String == "ENDPOINT_NOT_FOUND", "\(unknown.text)")
    }

    /// mlflow-skinny, the client without the server, does the same.
    @Test func theSkinnyClientWorksToo() throws {
        let warehouse = try Self.warehouse("local")
        let token = try Self.token(warehouse, user: "sam")
        try Self.run(["registry", "sam"], client: "skinny", warehouse: warehouse, token: token)
        try Self.run(["logged", "sam"], client: "skinny", warehouse: warehouse, token: token)
    }

    @Test(arguments: ["local", "s3"]) func logModelRegistersAVersionThatLoads(_ backend: String) throws {
        let warehouse = try Self.warehouse(backend)
        try Self.run(["logged", "carol"], warehouse: warehouse, token: try Self.token(warehouse, user: "carol"))
        let second = try warehouse.client.get("/ai-models/carol/m?version=v2")
        let metadata = second.object["custom_metadata"] as? [String: Any]
        #expect((metadata?["mlflow_metrics"] as? [String: Any])?["accuracy"] as? Double == 0.97, "\(second.text)")
        #expect((metadata?["mlflow_params"] as? [String: Any])?["max_iter"] as? String == "300", "\(second.text)")
        #expect(second.object["framework"] as? String == "sklearn" || (second.object["files"] as? [[String: Any]])?.isEmpty == false, "\(second.text)")
        // The staged uploads were taken by the versions: only the logged models' records stay.
        let staged = warehouse.storedObjectKeys().filter { $0.hasPrefix(ObjectKeys.mlflowStaging) }
        #expect(!staged.isEmpty && staged.allSatisfy { $0.hasSuffix("/record.json") }, "\(staged)")
        #expect(warehouse.storedObjectKeys().contains("models/carol/m/v1/MLmodel"))
    }

    /// A model trained by the warehouse has no MLmodel: one is synthesised (the onnx flavor with
    /// a tensor signature), and `models:/…@production` predicts what `/predict` predicts.
    @Test(arguments: ["local", "s3"]) func aTrainedModelLoadsByAliasAndPredictsAsThePredictAPI(_ backend: String) throws {
        let warehouse = try Self.warehouse(backend)
        let client = warehouse.client
        let token = try Self.token(warehouse, user: "alice")
        #expect(try Training.upload(client, dataset: "titanic", csv: .file(Training.path("titanic"))).status == 200)
        let job = try Training.startJob(client, ["user_id": "alice", "dataset_id": "titanic", "model_id": "titanic-automl", "time_limit": 5])
        #expect(try Training.wait(client, job: job)["status"] as? String == "succeeded")
        let alias = try client.request("PUT", "/ai-models/alice/titanic-automl/aliases/production", headers: [("Content-Type", "application/json")],
                                       body: Array(#"{"version": "v1"}"#.utf8))
        #expect(alias.status == 200, "\(alias.text)")
        try Self.run(["trained", "alice", "titanic-automl"], warehouse: warehouse, token: token,
                     environment: ["DATASET": Training.path("titanic"), "TARGET": "survived"])
        // Synthesised, never stored.
        #expect(!warehouse.storedObjectKeys().contains { $0.hasSuffix("/MLmodel") }, "\(warehouse.storedObjectKeys())")
    }

    /// Makes a file with the peer's own libraries (mlflow_client.py `maker`) and uploads it
    /// through the warehouse's API. The client is pointed at the warehouse, so it writes no
    /// mlflow.db in the working directory.
    static func makeAndUpload(_ maker: String, file: String, user: String, model: String, warehouse: TestWarehouse) throws -> TestResponse {
        let path = warehouse.directory.path + "/" + file
        let made = try TestProcess.run(python("mlflow"), [TestProcess.repositoryPath("Tests/python/mlflow_client.py"), maker, path],
                                       environment: ["HOME": warehouse.directory.path,
                                                     "MLFLOW_TRACKING_URI": "http://127.0.0.1:\(warehouse.application.port)"])
        #expect(made.status == 0, "\(made.output)")
        return try warehouse.client.upload("/ai-models/upload/single", fields: [("user_id", user), ("model_id", model)],
                                           files: [("file", file, .file(path))])
    }

    /// An ONNX file made with the onnx package and uploaded through the warehouse's own API
    /// gets the onnx flavor with a signature read from its graph, and predicts through pyfunc.
    @Test func anUploadedONNXFileLoadsAsAPyfuncModel() throws {
        let warehouse = try Self.warehouse("local")
        let upload = try Self.makeAndUpload("make_onnx", file: "affine.onnx", user: "olga", model: "affine", warehouse: warehouse)
        #expect(upload.status == 200, "\(upload.text)")
        let mlmodel = try warehouse.client.get("/api/2.0/mlflow-artifacts/artifacts/registry/olga/affine/v1/MLmodel")
        #expect(mlmodel.status == 200 && mlmodel.text.contains("loader_module: mlflow.onnx")
                && mlmodel.text.contains(#""dtype": "float32", "shape": [-1, 3]}, "name": "x""#), "\(mlmodel.text)")
        try Self.run(["uploaded", "olga", "affine"], warehouse: warehouse, token: try Self.token(warehouse, user: "olga"))
    }

    /// A scikit-learn model pickled with the standard library and uploaded through the API
    /// gets the sklearn flavor, and predicts through pyfunc and mlflow.sklearn.
    @Test func anUploadedPickleLoadsWithTheSklearnFlavor() throws {
        let warehouse = try Self.warehouse("local")
        let upload = try Self.makeAndUpload("make_pickle", file: "model.pkl", user: "pia", model: "iris-lr", warehouse: warehouse)
        #expect(upload.status == 200, "\(upload.text)")
        #expect(upload.object["framework"] as? String == "sklearn", "\(upload.text)")
        try Self.run(["pickled", "pia", "iris-lr"], warehouse: warehouse, token: try Self.token(warehouse, user: "pia"),
                     environment: ["PICKLE": warehouse.directory.path + "/model.pkl"])
    }

    @Test func anotherUsersModelIsRefusedAndTheAdminNamesEveryModel() throws {
        let warehouse = try Self.warehouse("local")
        let alice = try Self.token(warehouse, user: "alice")
        let created = try warehouse.client.request("POST", "/api/2.0/mlflow/registered-models/create", headers: [("Content-Type", "application/json")],
                                                   body: Array(#"{"name": "alice~secret"}"#.utf8))
        #expect(created.status == 200, "\(created.text)")
        _ = alice
        try Self.run(["foreign", "alice", "secret"], warehouse: warehouse, token: try Self.token(warehouse, user: "mallory"))
        try Self.run(["admin", "alice", "secret"], warehouse: warehouse, token: TestWarehouse.adminToken)
        // With MLFLOW_TRACKING_USERNAME/PASSWORD the client sends Basic: the password is the token.
        try Self.run(["foreign", "alice", "secret"], warehouse: warehouse, token: "",
                     environment: ["MLFLOW_TRACKING_USERNAME": "mallory", "MLFLOW_TRACKING_PASSWORD": try Self.token(warehouse, user: "mallory")])
        let wrong = try warehouse.client.with(token: nil).request("GET", "/api/2.0/mlflow/registered-models/search",
                                                                 headers: [("Authorization", "Basic " + Data("x:not-a-token".utf8).base64EncodedString())])
        #expect(wrong.status == 401 && wrong.object["error_code"] as? String == "UNAUTHENTICATED", "\(wrong.text)")
    }

    /// Replicas on one bucket: a model logged through one is registered through the other (the
    /// staged files and records are in the bucket), and model-level fields reach both.
    @Test func replicasShareLoggedModelsAndRegisteredModels() throws {
        let replicas = try Replicas(count: 2)
        defer { replicas.stop() }
        let json = [("Content-Type", "application/json")]
        let logged = try replicas[0].client.request("POST", "/api/2.0/mlflow/logged-models", headers: json,
                                                    body: Array(#"{"experiment_id": "0", "name": "model"}"#.utf8))
        let info = (logged.object["model"] as? [String: Any])?["info"] as? [String: Any]
        let id = try #require(info?["model_id"] as? String, "\(logged.text)")
        let root = String(try #require(info?["artifact_uri"] as? String).dropFirst("mlflow-artifacts:/".count))
        #expect(try replicas[0].client.request("PUT", "/api/2.0/mlflow-artifacts/artifacts/\(root)/weights.bin",
                                               body: Array(repeating: 3, count: 4096)).status == 200)
        #expect(try replicas[1].client.request("POST", "/api/2.0/mlflow/registered-models/create", headers: json,
                                               body: Array(#"{"name": "u~shared", "description": "first"}"#.utf8)).status == 200)
        let created = try replicas[1].client.request("POST", "/api/2.0/mlflow/model-versions/create", headers: json,
                                                     body: Array(#"{"name": "u~shared", "source": "models:/\#(id)", "model_id": "\#(id)"}"#.utf8))
        #expect((created.object["model_version"] as? [String: Any])?["version"] as? String == "1", "\(created.text)")
        #expect(try Replicas.eventually {
            let model = try replicas[0].client.get("/api/2.0/mlflow/registered-models/get?name=u~shared").object["registered_model"] as? [String: Any]
            return model?["description"] as? String == "first" && (model?["latest_versions"] as? [[String: Any]])?.first?["version"] as? String == "1"
        } != nil, "the other replica sees the model, its description and its version")
        #expect(try replicas[0].client.request("PATCH", "/api/2.0/mlflow/registered-models/update", headers: json,
                                               body: Array(#"{"name": "u~shared", "description": "second"}"#.utf8)).status == 200)
        #expect(try Replicas.eventually {
            (try replicas[1].client.get("/api/2.0/mlflow/registered-models/get?name=u~shared").object["registered_model"] as? [String: Any])?["description"] as? String == "second"
        } != nil, "a description set on one replica reaches the other")
    }

    /// Above the multipart threshold the client asks for parts: on S3 they go straight to the
    /// bucket through presigned URLs; on a local store the server says it has no multipart and
    /// the client PUTs the file through the service.
    @Test(arguments: ["local", "s3"]) func largeArtifactsUpload(_ backend: String) throws {
        let warehouse = try Self.warehouse(backend)
        try Self.run(["large", "dora"], warehouse: warehouse, token: try Self.token(warehouse, user: "dora"),
                     environment: ["MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE": "1048576", "MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE": "5242880"])
        // WAREHOUSE_TEST_STORAGE puts the "local" case on S3 too.
        let onS3 = warehouse.store.presignedPartURL(key: "probe", uploadID: "probe", number: 1, expires: 60) != nil
        let metrics = try warehouse.client.get("/metrics").text
        let created = metrics.split(separator: "\n").contains { $0.contains("mpu/create") }
        #expect(created == onS3, "multipart on S3 only: \(metrics.split(separator: "\n").filter { $0.contains("mlflow-artifacts") })")
        if onS3 {
            let puts = metrics.split(separator: "\n").filter { $0.hasPrefix("warehouse_http_request_bytes_total") && $0.contains("mlflow-artifacts/artifacts") }
            #expect(!puts.contains { line in (line.split(separator: " ").last.flatMap { Int($0) } ?? 0) > 4 << 20 },
                    "no request to the service carried the 12 MiB file: \(puts)")
        }
    }

    /// What a client staged and never registered is removed by gc once older than an upload
    /// session's lifetime.
    @Test func gcRemovesOldStagedLogs() throws {
        let warehouse = try Self.warehouse("local") { $0.uploadSessionLifetimeSeconds = 1 }
        let client = warehouse.client
        let logged = try client.request("POST", "/api/2.0/mlflow/logged-models", headers: [("Content-Type", "application/json")],
                                        body: Array(#"{"experiment_id": "0", "name": "model"}"#.utf8))
        let info = (logged.object["model"] as? [String: Any])?["info"] as? [String: Any]
        let uri = try #require(info?["artifact_uri"] as? String, "\(logged.text)")
        let path = String(uri.dropFirst("mlflow-artifacts:/".count))
        let put = try client.request("PUT", "/api/2.0/mlflow-artifacts/artifacts/\(path)/weights.bin", body: Array(repeating: 7, count: 1000))
        #expect(put.status == 200, "\(put.text)")
        let listed = try client.get("/api/2.0/mlflow-artifacts/artifacts?path=\(path)")
        #expect(listed.text.contains("\"path\":\"weights.bin\""), "\(listed.text)")
        // A version's files cannot be written through the proxy.
        let refused = try client.request("PUT", "/api/2.0/mlflow-artifacts/artifacts/registry/admin/x/v1/a.bin", body: [1])
        #expect(refused.status == 403 && refused.object["error_code"] as? String == "PERMISSION_DENIED", "\(refused.text)")
        Thread.sleep(forTimeInterval: 2.2)
        let report = try warehouse.application.uploadSessions.collectGarbage(dryRun: false)
        #expect(report.abandonedUploads.contains { $0.contains(ObjectKeys.mlflowStaging) }, "\(report.abandonedUploads)")
        #expect(!warehouse.storedObjectKeys().contains { $0.hasPrefix(ObjectKeys.mlflowStaging) }, "\(warehouse.storedObjectKeys())")
    }
}
