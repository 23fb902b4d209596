import Foundation
import Testing
import WarehouseTesting

/// The model lifecycle through the HTTP API: automatic model → production; a worse retraining
/// registered but not promoted; feedback that sinks live accuracy starts a retraining; aliases,
/// rollback, forced deletes; a dataset delete removes only its automatic models; everything
/// survives a restart.
@Suite(.serialized) struct LifecycleTests {
    static func json(_ object: [String: Any]) throws -> [UInt8] { Array(try JSONSerialization.data(withJSONObject: object)) }

    static func post(_ client: TestClient, _ path: String, _ body: [String: Any] = [:]) throws -> TestResponse {
        try client.request("POST", path, headers: [("Content-Type", "application/json")], body: try json(body))
    }

    static func put(_ client: TestClient, _ path: String, _ body: [String: Any]) throws -> TestResponse {
        try client.request("PUT", path, headers: [("Content-Type", "application/json")], body: try json(body))
    }

    static func notifications(_ client: TestClient) throws -> [[String: Any]] {
        try client.get("/notifications?user_id=alice").array
    }

    /// Iris with its labels rotated (setosa → versicolor → virginica → setosa) on every other
    /// row: a dataset version that trains a clearly worse model.
    static func scrambledIris() throws -> [UInt8] {
        let lines = try String(contentsOfFile: Training.path("iris"), encoding: .utf8).split(separator: "\n").map(String.init)
        let rotate = ["setosa": "versicolor", "versicolor": "virginica", "virginica": "setosa"]
        var out = [lines[0]]
        for (index, line) in lines.dropFirst().enumerated() {
            var fields = line.split(separator: ",").map(String.init)
            if index % 2 == 0, let label = fields.last, let next = rotate[label] { fields[fields.count - 1] = next }
            out.append(fields.joined(separator: ","))
        }
        return Array((out.joined(separator: "\n") + "\n").utf8)
    }

    @Test func theWholeLoop() throws {
        let directory = try TemporaryDirectory()
        var predictionIDs: [String] = []
        var predicted: [String] = []
        do {
            let warehouse = try TestWarehouse(directory: directory)
            let client = warehouse.client

            // 1. Upload → automatic model v1 → production.
            let upload = try Training.upload(client, dataset: "iris", csv: .file(Training.path("iris")), filename: "iris.csv",
                                             extra: [("time_limit", "4")], autoTrain: true)
            try #require(upload.status == 200, "\(upload.text)")
            let first = try #require((upload.object["training_job"] as? [String: Any])?["job_id"] as? String)
            let firstDone = try Training.wait(client, job: first)
            try #require(firstDone["status"] as? String == "succeeded", "\(firstDone)")
            #expect((firstDone["result"] as? [String: Any])?["promoted"] as? Bool == true)
            var record = try client.get("/ai-models/alice/iris-automl").object
            #expect(record["version"] as? String == "v1" && record["is_production_ready"] as? Bool == true)
            #expect(try client.get("/ai-models/alice/iris-automl/aliases").object["aliases"] as? [String: String] == ["production": "v1"])
            #expect(try Self.notifications(client).first?["outcome"] as? String == "promoted")

            // 2. A worse dataset version retrains by itself: v2 registered, not promoted.
            let worse = try Training.upload(client, dataset: "iris", csv: .bytes(try Self.scrambledIris()), filename: "iris.csv",
                                            extra: [("time_limit", "4")], autoTrain: true)
            try #require(worse.status == 200, "\(worse.text)")
            #expect(worse.object["version"] as? String == "v2")
            let second = try #require((worse.object["training_job"] as? [String: Any])?["job_id"] as? String)
            let secondDone = try Training.wait(client, job: second)
            try #require(secondDone["status"] as? String == "succeeded", "\(secondDone)")
            #expect((secondDone["result"] as? [String: Any])?["promoted"] as? Bool == false)
            record = try client.get("/ai-models/alice/iris-automl?version=v2").object
            #expect(record["is_production_ready"] as? Bool == false)
            #expect(try client.get("/ai-models/alice/iris-automl?version=@production").object["version"] as? String == "v1")
            #expect(try client.get("/ai-models/alice/iris-automl?alias=production").object["version"] as? String == "v1")
            let refused = try #require(try Self.notifications(client).first)
            #expect(refused["outcome"] as? String == "not_promoted" && refused["version"] as? String == "v2")
            #expect((refused["reason"] as? String)?.contains("< ") == true, "\(refused)")
            #expect(refused["production_version"] as? String == "v1" && refused["score"] is Double && refused["production_score"] is Double)

            // 3. /predict answers from production (v1), with prediction ids.
            let rows = try String(contentsOfFile: Training.path("iris"), encoding: .utf8).split(separator: "\n").prefix(31)
                .joined(separator: "\n")
            let prediction = try client.request("POST", "/ai-models/alice/iris-automl/predict", headers: [("Content-Type", "text/csv")],
                                                body: Array(rows.utf8))
            try #require(prediction.status == 200, "\(prediction.text)")
            #expect(prediction.object["version"] as? String == "v1")
            predictionIDs = try #require(prediction.object["prediction_ids"] as? [String])
            predicted = try #require(prediction.object["predictions"] as? [String])

            // 4. Feedback that sinks live accuracy starts a retraining (v3) with the feedback rows.
            #expect(try Self.put(client, "/ai-models/alice/iris-automl/retraining", ["accuracy_threshold": 0.7, "feedback_count": 1000]).status == 200)
            let wrong = ["setosa": "virginica", "versicolor": "setosa", "virginica": "versicolor"]
            let firstNine = (0..<9).map { ["prediction_id": predictionIDs[$0], "actual": wrong[predicted[$0]]!] }
            let quiet = try Self.post(client, "/ai-models/alice/iris-automl/feedback", ["items": firstNine])
            #expect(quiet.status == 200 && quiet.object["recorded"] as? Int == 9 && quiet.object["retraining"] == nil, "\(quiet.text)")
            // The same outcome again is idempotent: replaced, not added.
            let again = try Self.post(client, "/ai-models/alice/iris-automl/feedback", ["prediction_id": predictionIDs[0], "actual": wrong[predicted[0]]!])
            #expect(again.object["new"] as? Int == 0 && again.object["updated"] as? Int == 1)
            let tenth = try Self.post(client, "/ai-models/alice/iris-automl/feedback",
                                      ["prediction_id": predictionIDs[9], "actual": wrong[predicted[9]]!])
            #expect(tenth.status == 200, "\(tenth.text)")
            let retraining = try #require((tenth.object["retraining"] as? [String: Any])?["job_id"] as? String, "\(tenth.text)")
            // At most one retraining per model at a time.
            #expect(try Self.post(client, "/ai-models/alice/iris-automl/retrain").status == 409)
            let third = try Training.wait(client, job: retraining)
            try #require(third["status"] as? String == "succeeded", "\(third)")
            let thirdResult = try #require(third["result"] as? [String: Any])
            #expect(thirdResult["version"] as? String == "v3" && thirdResult["feedback_rows"] as? Int == 10)
            #expect(try Self.notifications(client).contains { $0["outcome"] as? String == "retraining_started" && $0["job_id"] as? String == retraining })
            let performance = try client.get("/ai-models/alice/iris-automl/performance").object
            let v1 = try #require((performance["versions"] as? [[String: Any]])?.first { $0["version"] as? String == "v1" })
            #expect(v1["feedback"] as? Int == 10 && v1["predictions"] as? Int == 30)
            #expect((v1["live"] as? [String: Double])?["accuracy"] == 0)
            #expect((v1["training"] as? [String: Any])?["validation_score"] is Double)

            // 5. Aliases by hand, rollback, and a forced delete of an aliased version.
            #expect(try Self.put(client, "/ai-models/alice/iris-automl/aliases/production", ["version": "v3"]).status == 200)
            #expect(try Self.put(client, "/ai-models/alice/iris-automl/aliases/staging", ["version": "v2"]).status == 200)
            let rollback = try Self.post(client, "/ai-models/alice/iris-automl/rollback")
            #expect(rollback.status == 200 && rollback.object["version"] as? String == "v1" && rollback.object["from_version"] as? String == "v3",
                    "\(rollback.text)")
            #expect(try Self.notifications(client).first?["outcome"] as? String == "rolled_back")
            #expect(try Self.post(client, "/ai-models/alice/iris-automl/rollback").status == 409)  // v1 was the first
            #expect(try client.delete("/ai-models/alice/iris-automl?version=v2").status == 409)   // holds 'staging'
            #expect(try client.delete("/ai-models/alice/iris-automl?version=v2&force=true").status == 200)
            let aliases = try client.get("/ai-models/alice/iris-automl/aliases").object
            #expect(aliases["aliases"] as? [String: String] == ["production": "v1"])
            #expect(((aliases["history"] as? [[String: Any]]) ?? []).count >= 5)
            warehouse.stop()
        }

        // 6. Everything survives a restart; the dataset delete removes only automatic models.
        let warehouse = try TestWarehouse(directory: directory)
        let client = warehouse.client
        #expect(try client.get("/ai-models/alice/iris-automl/aliases").object["aliases"] as? [String: String] == ["production": "v1"])
        #expect(try Self.notifications(client).count >= 5)
        #expect(try client.get("/ai-models/alice/iris-automl/performance").object["versions"] != nil)
        let later = try Self.post(client, "/ai-models/alice/iris-automl/feedback", ["prediction_id": predictionIDs[20], "actual": predicted[20]])
        #expect(later.status == 200 && later.object["new"] as? Int == 1)
        #expect(try warehouse.uploadSingle([("user_id", "alice"), ("model_id", "iris-by-hand"), ("framework", "sklearn")]).status == 200)
        let deleted = try client.delete("/datasets/alice/iris")
        #expect(deleted.status == 200, "\(deleted.text)")
        #expect(Set(((deleted.object["deleted_models"] as? [[String: Any]]) ?? []).compactMap { $0["version"] as? String }) == ["v1", "v3"])
        #expect(try client.get("/ai-models/alice/iris-automl").status == 404)
        #expect(try client.get("/ai-models/alice/iris-by-hand").status == 200)
        #expect(warehouse.storedObjectKeys().filter { $0.contains("iris-automl") }.isEmpty)
    }

    @Test func notWorseIsPromotedAndRollbackReturns() throws {
        let warehouse = try TestWarehouse()
        let client = warehouse.client
        try #require(Training.upload(client, dataset: "wine", csv: .file(Training.path("wine"))).status == 200)
        for expected in ["v1", "v2"] {
            let job = try Training.startJob(client, ["user_id": "alice", "dataset_id": "wine", "time_limit_s": 60, "seed": 7])
            let done = try Training.wait(client, job: job)
            #expect((done["result"] as? [String: Any])?["version"] as? String == expected)
            // Same data and seed: the same score, which is not worse.
            #expect((done["result"] as? [String: Any])?["promoted"] as? Bool == true, "\(done)")
        }
        #expect(try client.get("/ai-models/alice/wine-automl?version=v1").object["is_production_ready"] as? Bool == false)
        #expect(try client.get("/ai-models/alice/wine-automl?version=v2").object["is_production_ready"] as? Bool == true)
        let rollback = try Self.post(client, "/ai-models/alice/wine-automl/rollback", ["reason": "v2 misbehaves"])
        #expect(rollback.object["version"] as? String == "v1", "\(rollback.text)")
        #expect(try client.get("/ai-models/alice/wine-automl").object["version"] as? String == "v2")  // latest is still v2
        #expect(try client.get("/ai-models/alice/wine-automl?version=@production").object["version"] as? String == "v1")
        // PUT is_production_ready moves the alias too.
        #expect(try Self.put(client, "/ai-models/alice/wine-automl?version=v2", ["is_production_ready": true]).object["is_production_ready"] as? Bool == true)
        #expect(try client.get("/ai-models/alice/wine-automl/aliases").object["aliases"] as? [String: String] == ["production": "v2"])
        // recreate-models queues the dataset's automatic model once; a second call while it
        // waits or runs queues nothing (409); a bad budget is a 400.
        #expect(try Self.post(client, "/datasets/alice/wine/recreate-models", ["time_limit_s": "soon"]).status == 400)
        let recreated = try Self.post(client, "/datasets/alice/wine/recreate-models", ["time_limit_s": 60])
        #expect(recreated.status == 202, "\(recreated.text)")
        let jobs = try #require(recreated.object["jobs"] as? [[String: Any]])
        #expect(jobs.map { $0["model_id"] as? String } == ["wine-automl"])
        let again = try Self.post(client, "/datasets/alice/wine/recreate-models")
        #expect(again.status == 409 && again.detail?.contains("already has a") == true, "\(again.text)")
        let done = try Training.wait(client, job: try #require(jobs.first?["job_id"] as? String))
        #expect((done["result"] as? [String: Any])?["version"] as? String == "v3")
        #expect(try Self.post(client, "/datasets/alice/nothing/recreate-models").status == 404)
        // keep_models keeps the automatic models.
        let kept = try client.delete("/datasets/alice/wine?keep_models=true")
        #expect(kept.status == 200 && (kept.object["deleted_models"] as? [Any])?.isEmpty == true)
        #expect(try client.get("/ai-models/alice/wine-automl").status == 200)
    }

    @Test func regressionFeedbackAndTheCountTrigger() throws {
        let warehouse = try TestWarehouse()
        let client = warehouse.client
        // Semicolons and a quoted category with a comma: feedback rows are appended in kind.
        var csv = "x;kind;y\n"
        for row in 0..<300 {
            let x = Double(row % 50) / 5, kind = row % 3 == 0 ? "\"a;b\"" : "c"
            csv += "\(x);\(kind);\(2 * x + (row % 3 == 0 ? 5 : 0) + Double(row % 7) / 10)\n"
        }
        let upload = try Training.upload(client, dataset: "lines", csv: .bytes(Array(csv.utf8)), extra: [("time_limit", "3")], autoTrain: true)
        try #require(upload.status == 200, "\(upload.text)")
        let job = try #require((upload.object["training_job"] as? [String: Any])?["job_id"] as? String)
        try #require(try Training.wait(client, job: job)["status"] as? String == "succeeded")
        let prediction = try Self.post(client, "/ai-models/alice/lines-automl/predict",
                                       ["rows": (0..<5).map { ["x": String($0), "kind": $0 % 2 == 0 ? "a;b" : "c"] }])
        try #require(prediction.status == 200, "\(prediction.text)")
        let ids = try #require(prediction.object["prediction_ids"] as? [String])
        #expect(try Self.put(client, "/ai-models/alice/lines-automl/retraining", ["feedback_count": 3]).status == 200)
        let feedback = try Self.post(client, "/ai-models/alice/lines-automl/feedback",
                                     ["items": ids.enumerated().map { ["prediction_id": $1, "actual": Double($0) * 2 + 1] }])
        try #require(feedback.status == 200, "\(feedback.text)")
        let retraining = try #require((feedback.object["retraining"] as? [String: Any])?["job_id"] as? String, "\(feedback.text)")
        #expect(((feedback.object["retraining"] as? [String: Any])?["reason"] as? String)?.contains("5 outcomes") == true)
        let done = try Training.wait(client, job: retraining)
        #expect(done["status"] as? String == "succeeded", "\(done)")
        #expect((done["result"] as? [String: Any])?["feedback_rows"] as? Int == 5)
        let record = try client.get("/ai-models/alice/lines-automl?version=v2").object
        #expect((record["training_dataset"] as? String)?.hasSuffix("+ 5 feedback rows") == true, "\(record["training_dataset"] ?? "")")
        #expect((record["custom_metadata"] as? [String: Any])?["trigger"] as? String == "feedback_count")
        let performance = try client.get("/ai-models/alice/lines-automl/performance").object
        #expect(performance["task"] as? String == "regression")
        let v1 = try #require((performance["versions"] as? [[String: Any]])?.first { $0["version"] as? String == "v1" })
        let live = try #require(v1["live"] as? [String: Double])
        #expect(live["mae"] != nil && live["rmse"] != nil && live["accuracy"] == nil)
        #expect(v1["feedback"] as? Int == 5 && v1["predictions"] as? Int == 5)
    }

    @Test func badLifecycleRequestsAreClearErrors() throws {
        let warehouse = try TestWarehouse()
        let client = warehouse.client
        try #require(warehouse.uploadSingle([("user_id", "alice"), ("model_id", "m")]).status == 200)
        func check(_ response: TestResponse, _ status: Int, _ fragment: String, line: Int = #line) {
            #expect(response.status == status, "line \(line): \(response.status) \(response.text)")
            #expect(response.detail?.contains(fragment) == true, "line \(line): \(response.text)")
        }
        check(try Self.put(client, "/ai-models/alice/m/aliases/9lives", ["version": "v1"]), 400, "must start with a letter")
        check(try Self.put(client, "/ai-models/alice/m/aliases/production", ["version": "v7"]), 404, "v7")
        check(try Self.put(client, "/ai-models/alice/m/aliases/production", [:]), 400, "version")
        check(try client.delete("/ai-models/alice/m/aliases/staging"), 404, "no alias 'staging'")
        check(try Self.post(client, "/ai-models/alice/m/rollback"), 409, "no 'production' version")
        check(try client.get("/ai-models/alice/m?version=@nope"), 404, "alias 'nope'")
        check(try client.get("/ai-models/alice/m?version=v1&alias=production"), 400, "not both")
        check(try Self.post(client, "/ai-models/alice/m/feedback", ["prediction_id": "pred_x", "actual": "a"]), 404, "pred_x")
        check(try Self.post(client, "/ai-models/alice/m/feedback", ["prediction_id": "pred_x"]), 400, "'actual' is required")
        check(try Self.post(client, "/ai-models/alice/m/feedback", ["items": "x"]), 400, "'items' must be an array")
        check(try Self.post(client, "/ai-models/alice/m/retrain"), 409, "not trained by the warehouse")
        check(try Self.put(client, "/ai-models/alice/m/retraining", ["accuracy_threshold": 3]), 400, "between 0 and 1")
        check(try client.get("/notifications"), 400, "user_id")
        check(try Self.post(client, "/ai-models/alice/nothing/rollback"), 404, "nothing")
        // Another user's namespace.
        let token = try Self.post(client, "/auth/tokens", ["user_id": "bob"]).object["token"] as? String
        let bob = client.with(token: token)
        #expect(try bob.get("/notifications?user_id=alice").status == 403)
        #expect(try Self.put(bob, "/ai-models/alice/m/aliases/production", ["version": "v1"]).status == 403)
        // Setting and removing work; the record mirrors production.
        #expect(try Self.put(client, "/ai-models/alice/m/aliases/production", ["version": "v1"]).status == 200)
        #expect(try client.get("/ai-models/alice/m").object["is_production_ready"] as? Bool == true)
        #expect(try client.delete("/ai-models/alice/m/aliases/production").status == 200)
        #expect(try client.get("/ai-models/alice/m").object["is_production_ready"] as? Bool == false)
    }
}
