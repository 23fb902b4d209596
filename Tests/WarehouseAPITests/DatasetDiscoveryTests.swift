import Foundation
import Testing
import WarehouseTesting

/// Finding datasets: full-text search over names, descriptions, columns and target (the
/// engine, ranking and snippet of model search), the models trained from a dataset, and the
/// upload's answer naming the automatic model and its job.
@Suite(.serialized) struct DatasetDiscoveryTests {
    static func csv(_ header: [String], rows: Int = 40) -> TestFilePart {
        var text = header.joined(separator: ",") + "\n"
        for row in 0..<rows { text += header.indices.map { "\(($0 * 7 + row * 3) % 11)" }.joined(separator: ",") + "\n" }
        return .bytes(Array(text.utf8))
    }

    @Test func searchFindsDatasetsByNameDescriptionColumnsAndTarget() throws {
        let directory = try TemporaryDirectory()
        var warehouse = try TestWarehouse(directory: directory)
        var client = warehouse.client
        try #require(Training.upload(client, dataset: "titanic", csv: .file(Training.path("titanic")),
                                     extra: [("description", "Passengers of the RMS Titanic and whether they survived")]).status == 200)
        try #require(Training.upload(client, dataset: "penguins", csv: .file(Training.path("penguins")),
                                     extra: [("name", "Palmer penguins")]).status == 200)
        try #require(Training.upload(client, dataset: "credit", csv: .file(Training.path("credit_data"))).status == 200)
        // A name match ranks above a column match (the weights of model search).
        try #require(Training.upload(client, dataset: "rainfall-survey", csv: Self.csv(["age", "hours", "label"])).status == 200)
        try #require(Training.upload(client, dataset: "loans", csv: Self.csv(["rainfall", "debt", "label"])).status == 200)

        func search(_ text: String, as searcher: TestClient? = nil) throws -> (status: Int, ids: [String], hits: [[String: Any]], total: String?) {
            let response = try (searcher ?? client).get("/datasets/search/alice?query=" + (text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? text))
            let hits = response.array
            return (response.status, hits.compactMap { $0["dataset_id"] as? String }, hits, response.headers["x-total-count"])
        }
        let flipper = try search("flipper")
        #expect(flipper.status == 200 && flipper.ids == ["penguins"])
        #expect((flipper.hits.first?["snippet"] as? String)?.contains("<mark>flipper</mark>") == true, "\(flipper.hits)")
        #expect(flipper.hits.first?["name"] as? String == "Palmer penguins")
        #expect(flipper.total == "1")
        #expect(try search("Palmer").ids == ["penguins"])
        #expect(try search("titanic survived").ids == ["titanic"])  // description words, all must match
        #expect(try search("Status").ids == ["credit"])              // the target column
        #expect(try search("Seniority").ids == ["credit"])           // a column name
        #expect(try search("bill_length").ids == ["penguins"])       // a column name with underscores
        let rainfall = try search("rainfall")
        #expect(rainfall.ids == ["rainfall-survey", "loans"], "\(rainfall.ids)")
        #expect(rainfall.total == "2")
        let paged = try client.get("/datasets/search/alice?query=rainfall&limit=1&skip=1")
        #expect(paged.array.compactMap { $0["dataset_id"] as? String } == ["loans"] && paged.headers["x-total-count"] == "2")
        #expect(try search("nothing-like-this").ids.isEmpty)
        #expect(try search("").ids.isEmpty)
        // The latest version counts: a new version without the column is not found by it.
        try #require(Training.upload(client, dataset: "loans", csv: Self.csv(["salary", "debt", "label"])).status == 200)
        #expect(try search("rainfall").ids == ["rainfall-survey"])
        #expect(try search("salary").hits.first?["version"] as? String == "v2")
        // Deleted datasets leave the index; another user may not search alice's.
        #expect(try client.request("DELETE", "/datasets/alice/rainfall-survey?keep_models=true").status == 200)
        #expect(try search("rainfall").ids.isEmpty)
        let token = try #require(client.request("POST", "/auth/tokens", headers: [("Content-Type", "application/json")],
                                                body: Array(#"{"user_id": "bob"}"#.utf8)).object["token"] as? String)
        #expect(try search("flipper", as: client.with(token: token)).status == 403)
        // Survives a restart (the index is in the catalog).
        warehouse.stop()
        warehouse = try TestWarehouse(directory: directory)
        client = warehouse.client
        #expect(try search("flipper").ids == ["penguins"])
    }

    @Test func uploadNamesTheAutomaticModelAndDatasetModelsListsTheTrainedOnes() throws {
        let warehouse = try TestWarehouse()
        let client = warehouse.client
        let upload = try Training.upload(client, dataset: "titanic", csv: .file(Training.path("titanic")),
                                         extra: [("time_limit", "5")], autoTrain: true)
        try #require(upload.status == 200, "\(upload.text)")
        let automatic = try #require(upload.object["automatic_model"] as? [String: Any])
        #expect(automatic["model_id"] as? String == "titanic-automl")
        let job = try #require(automatic["job_id"] as? String)
        #expect((upload.object["training_job"] as? [String: Any])?["job_id"] as? String == job)
        #expect(try Training.wait(client, job: job)["status"] as? String == "succeeded")
        let other = try Training.startJob(client, ["user_id": "alice", "dataset_id": "titanic", "model_id": "titanic-linear",
                                                   "algorithms": ["linear"], "preset": "fast", "time_limit_s": 5])
        #expect(try Training.wait(client, job: other)["status"] as? String == "succeeded")
        let again = try Training.startJob(client, ["user_id": "alice", "dataset_id": "titanic", "model_id": "titanic-linear",
                                                   "algorithms": ["linear"], "preset": "fast", "time_limit_s": 5, "seed": 1])
        #expect(try Training.wait(client, job: again)["status"] as? String == "succeeded")
        // A model trained on another dataset, and an uploaded one, are not listed.
        try #require(Training.upload(client, dataset: "iris", csv: .file(Training.path("iris"))).status == 200)
        let iris = try Training.startJob(client, ["user_id": "alice", "dataset_id": "iris", "preset": "fast", "time_limit_s": 5])
        #expect(try Training.wait(client, job: iris)["status"] as? String == "succeeded")
        try #require(warehouse.uploadSingle([("user_id", "alice"), ("model_id", "plain")]).status == 200)

        let listed = try client.get("/datasets/alice/titanic/models")
        #expect(listed.status == 200, "\(listed.text)")
        let models = try #require(listed.object["models"] as? [[String: Any]])
        #expect(models.compactMap { $0["model_id"] as? String } == ["titanic-automl", "titanic-linear"])
        #expect(models.compactMap { $0["version"] as? String } == ["v1", "v2"])
        for model in models {
            #expect(model["test_accuracy"] as? Double ?? 0 > 0.6, "\(model)")
            let metadata = model["custom_metadata"] as? [String: Any]
            #expect((metadata?["training_options"] as? [String: Any])?["preset"] != nil)
        }
        #expect(try client.get("/datasets/alice/nope/models").status == 404)
        // Without auto_train the upload names no model.
        let quiet = try Training.upload(client, dataset: "penguins", csv: .file(Training.path("penguins")))
        #expect(quiet.object["automatic_model"] is NSNull)
    }
}
