import Foundation
import Testing
import WarehouseTesting

/// `POST /training/jobs` options: preset, algorithms, feature and excluded columns,
/// validation and seed, echoed by the job, its result and the version it registers.
@Suite(.serialized) struct TrainingOptionsTests {
    static func start(_ client: TestClient, _ body: [String: Any]) throws -> TestResponse {
        try client.request("POST", "/training/jobs", headers: [("Content-Type", "application/json")],
                           body: Array(try JSONSerialization.data(withJSONObject: body)))
    }

    @Test func optionsShapeTheSearchAndAreEchoedEverywhere() throws {
        let warehouse = try TestWarehouse()
        let client = warehouse.client
        try #require(Training.upload(client, dataset: "titanic", csv: .file(Training.path("titanic"))).status == 200)
        let body: [String: Any] = [
            "user_id": "alice", "dataset_id": "titanic", "model_id": "titanic-options", "time_limit_s": 30,
            "preset": "fast", "algorithms": ["linear", "gbdt"], "feature_columns": ["gender", "age", "class", "fare", "sibsp"],
            "exclude_columns": ["sibsp"], "validation": ["kind": "holdout", "fraction": 0.25], "seed": 7,
        ]
        let started = try Self.start(client, body)
        #expect(started.status == 202, "\(started.text)")
        let asked = try #require(started.object["training_options"] as? [String: Any])
        #expect(asked["preset"] as? String == "fast")
        #expect(asked["algorithms"] as? [String] == ["linear", "gbdt"])
        #expect(asked["feature_columns"] as? [String] == ["gender", "age", "class", "fare", "sibsp"])
        #expect(asked["exclude_columns"] as? [String] == ["sibsp"])
        #expect((asked["validation"] as? [String: Any])?["fraction"] as? Double == 0.25)
        #expect(asked["seed"] as? Int == 7)
        let job = try #require(started.object["job_id"] as? String)
        let finished = try Training.wait(client, job: job)
        #expect(finished["status"] as? String == "succeeded", "\(finished)")
        let result = try #require(finished["result"] as? [String: Any])
        let resolved = try #require(result["training_options"] as? [String: Any])
        #expect(resolved["preset"] as? String == "fast")
        #expect(resolved["algorithms"] as? [String] == ["linear", "gbdt"])
        #expect(resolved["feature_columns"] as? [String] == ["gender", "age", "class", "fare"])
        #expect(resolved["exclude_columns"] as? [String] == ["sibsp"])
        let validation = try #require(resolved["validation"] as? [String: Any])
        #expect(validation["kind"] as? String == "holdout" && validation["fraction"] as? Double == 0.25)
        #expect(resolved["seed"] as? Int == 7)
        // fast + two families: one candidate each (and the ensemble row).
        let leaderboard = try #require(result["leaderboard"] as? [[String: Any]])
        let kinds = Set(leaderboard.compactMap { $0["kind"] as? String })
        #expect(kinds.isSubset(of: ["linear", "gradient_boosting", "weighted_ensemble"]), "\(kinds)")
        #expect(leaderboard.filter { $0["kind"] as? String != "weighted_ensemble" }.count == 2)
        // 25% of the 2207 × 0.8 selection rows validate.
        #expect((result["validation_method"] as? String)?.contains("holdout (442 validation rows)") == true, "\(result["validation_method"] ?? "")")
        // The version says how it was made, and predicts from those features only.
        let record = try client.get("/ai-models/alice/titanic-options").object
        let metadata = try #require(record["custom_metadata"] as? [String: Any])
        let recorded = try #require(metadata["training_options"] as? [String: Any])
        #expect(NSDictionary(dictionary: recorded).isEqual(to: resolved))
        #expect(metadata["features"] as? [String] == ["gender", "age", "class", "fare"])
        let prediction = try client.request("POST", "/ai-models/alice/titanic-options/predict", headers: [("Content-Type", "application/json")],
                                            body: Array(#"{"rows": [{"gender": "female", "age": 30, "class": "1st", "fare": 80}]}"#.utf8))
        #expect(prediction.status == 200, "\(prediction.text)")

        // Cross-validation with the folds asked for; the default preset is balanced.
        let cv = try Training.startJob(client, ["user_id": "alice", "dataset_id": "titanic", "model_id": "titanic-cv", "time_limit_s": 20,
                                                "algorithms": "linear", "validation": ["kind": "cv", "folds": 3, "repeats": 2]])
        let cvDone = try Training.wait(client, job: cv)
        let cvResult = try #require(cvDone["result"] as? [String: Any])
        #expect(cvResult["validation_method"] as? String == "3-fold cross-validation, repeated 2 times")
        #expect((cvResult["training_options"] as? [String: Any]).flatMap { $0["validation"] as? [String: Any] }?["repeats"] as? Int == 2)
        let cvOptions = try #require(cvResult["training_options"] as? [String: Any])
        #expect(cvOptions["preset"] as? String == "balanced")
        #expect(cvOptions["algorithms"] as? [String] == ["linear"])
        #expect(((cvResult["leaderboard"] as? [[String: Any]]) ?? []).allSatisfy {
            ["linear", "weighted_ensemble"].contains($0["kind"] as? String ?? "")
        })
    }

    @Test func badOptionsAreClearErrorsAndQueueNothing() throws {
        let warehouse = try TestWarehouse()
        let client = warehouse.client
        try #require(Training.upload(client, dataset: "titanic", csv: .file(Training.path("titanic"))).status == 200)
        var csv = "passenger_id,x,colour,label\n"
        for row in 0..<60 { csv += "p\(row * 7919),\(row % 13),\(["red", "blue", "green"][row % 3]),\(row % 2)\n" }
        try #require(Training.upload(client, dataset: "small", csv: .bytes(Array(csv.utf8))).status == 200)
        let base: [String: Any] = ["user_id": "alice", "dataset_id": "titanic"]
        func refused(_ extra: [String: Any], dataset: String = "titanic", saying words: [String]) throws {
            let response = try Self.start(client, base.merging(extra) { $1 }.merging(["dataset_id": dataset]) { $1 })
            #expect(response.status == 400, "\(extra): \(response.status) \(response.text)")
            for word in words { #expect(response.detail?.contains(word) == true, "\(extra): \(response.detail ?? response.text)") }
        }
        try refused(["preset": "turbo"], saying: ["turbo", "fast, balanced, best"])
        try refused(["algorithms": ["gbdt", "svm"]], saying: ["svm", "linear, gbdt, random_forest, extra_trees"])
        try refused(["algorithms": [String]()], saying: ["algorithms"])
        try refused(["algorithms": 3], saying: ["algorithms"])
        try refused(["feature_columns": ["age", "height"]], saying: ["height", "not in the dataset"])
        try refused(["feature_columns": ["age", "survived"]], saying: ["survived", "target"])
        try refused(["exclude_columns": ["survived"]], saying: ["survived", "target"])
        try refused(["exclude_columns": ["gender", "age", "class", "embarked", "fare", "sibsp", "parch"]], saying: ["no feature column"])
        try refused(["feature_columns": ["age"], "exclude_columns": ["age"]], saying: ["no feature column"])
        try refused(["feature_columns": ["passenger_id", "x"]], dataset: "small", saying: ["passenger_id", "identifier"])
        try refused(["validation": ["kind": "holdout", "fraction": 0.6]], saying: ["(0, 0.5]"])
        try refused(["validation": ["kind": "holdout", "fraction": 0]], saying: ["(0, 0.5]"])
        try refused(["validation": ["kind": "cv", "folds": 1]], saying: ["folds", "2 to 10"])
        try refused(["validation": ["kind": "bootstrap"]], saying: ["holdout", "cv"])
        try refused(["validation": ["kind": "cv", "folds": 5, "repeats": 9]], saying: ["repeats", "1 to 5"])
        try refused(["seed": -1], saying: ["seed"])
        #expect(try client.get("/training/jobs?user_id=alice").array.isEmpty)
        // The same names work (and a different target makes the old one a feature).
        let job = try Training.startJob(client, base.merging(["target_column": "gender", "feature_columns": ["survived", "age"],
                                                              "preset": "fast", "time_limit_s": 10, "model_id": "gender"]) { $1 })
        let done = try Training.wait(client, job: job)
        #expect(done["status"] as? String == "succeeded", "\(done)")
        #expect(((done["result"] as? [String: Any])?["training_options"] as? [String: Any])?["feature_columns"] as? [String] == ["age", "survived"])
    }
}
