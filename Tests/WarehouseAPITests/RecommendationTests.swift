import Foundation
import Testing
import WarehouseTesting

/// `POST /datasets/{user}/{dataset}/recommendations`: three families with reasons drawn from
/// the dataset, estimates from recorded timings once there are some, and options that a
/// training job accepts as they are.
@Suite(.serialized) struct RecommendationTests {
    static func recommend(_ client: TestClient, _ dataset: String, _ body: [String: Any] = [:]) throws -> TestResponse {
        try client.request("POST", "/datasets/alice/\(dataset)/recommendations", headers: [("Content-Type", "application/json")],
                           body: Array(try JSONSerialization.data(withJSONObject: body)))
    }

    @Test func recommendationsSayWhatTheyRestOnAndTheirOptionsTrain() throws {
        let warehouse = try TestWarehouse()
        let client = warehouse.client
        try #require(Training.upload(client, dataset: "titanic", csv: .file(Training.path("titanic"))).status == 200)
        let first = try Self.recommend(client, "titanic", ["time_limit_s": 20])
        #expect(first.status == 200, "\(first.text)")
        let recommendations = try #require(first.object["recommendations"] as? [[String: Any]])
        #expect(recommendations.count == 3)
        let families = recommendations.compactMap { $0["algorithm"] as? String }
        #expect(Set(families).count == 3 && Set(families).isSubset(of: ["linear", "gbdt", "random_forest", "extra_trees"]))
        #expect(recommendations.compactMap { $0["rank"] as? Int } == [1, 2, 3])
        for recommendation in recommendations {
            let reason = recommendation["reason"] as? String ?? ""
            #expect(reason.contains("2207 rows, 7 features (3 numeric, 4 categorical)") || reason.contains("2207 rows"), "\(reason)")
            #expect(recommendation["estimate_source"] as? String == "default")
            let seconds = recommendation["estimated_seconds"] as? Double ?? -1
            #expect(seconds > 0 && seconds <= 20)
        }
        let basedOn = first.object["based_on"] as? String ?? ""
        #expect(basedOn.contains("profile") && basedOn.contains("default timings"), "\(basedOn)")

        // The options of the first recommendation are a job body.
        var body = try #require(recommendations[0]["options"] as? [String: Any])
        #expect(body["algorithms"] as? [String] == [families[0]])
        #expect(body["target_column"] as? String == "survived")
        body["user_id"] = "alice"
        body["dataset_id"] = "titanic"
        body["time_limit_s"] = 10
        let job = try Training.startJob(client, body)
        let done = try Training.wait(client, job: job)
        #expect(done["status"] as? String == "succeeded", "\(done)")
        let full = try Training.startJob(client, ["user_id": "alice", "dataset_id": "titanic", "model_id": "all", "preset": "fast", "time_limit_s": 10])
        #expect(try Training.wait(client, job: full)["status"] as? String == "succeeded")

        // Now the server has timings and the dataset has a leaderboard: both are used, and named.
        let second = try Self.recommend(client, "titanic")
        let again = try #require(second.object["recommendations"] as? [[String: Any]])
        #expect(again.allSatisfy { ($0["estimate_source"] as? String)?.hasPrefix("recorded") == true }, "\(again)")
        let secondBasis = second.object["based_on"] as? String ?? ""
        #expect(secondBasis.contains("2 earlier training jobs on it") && secondBasis.contains("candidate timings recorded"), "\(secondBasis)")
        #expect((again[0]["reason"] as? String)?.contains("by 2 earlier jobs on this dataset") == true, "\(again[0])")
    }

    @Test func smallWideDataLeansLinearAndAnalysisIsNamed() throws {
        let warehouse = try TestWarehouse()
        let client = warehouse.client
        // 150 rows, 30 numeric features, a target linear in them.
        var generator = SystemRandomNumberGenerator()
        var csv = (0..<30).map { "x\($0)" }.joined(separator: ",") + ",target\n"
        for _ in 0..<150 {
            let x = (0..<30).map { _ in Double.random(in: -1...1, using: &generator) }
            let y = x.enumerated().reduce(0) { $0 + Double($1.offset % 5 + 1) * $1.element } + Double.random(in: -0.1...0.1, using: &generator)
            csv += x.map { String(format: "%.5f", $0) }.joined(separator: ",") + ",\(String(format: "%.5f", y))\n"
        }
        try #require(Training.upload(client, dataset: "wide", csv: .bytes(Array(csv.utf8))).status == 200)
        try #require(client.get("/datasets/alice/wide/analysis").status == 200)
        let answer = try Self.recommend(client, "wide")
        let recommendations = try #require(answer.object["recommendations"] as? [[String: Any]])
        #expect(recommendations.first?["algorithm"] as? String == "linear", "\(recommendations)")
        #expect((recommendations.first?["reason"] as? String)?.contains("rows per feature") == true)
        #expect((answer.object["based_on"] as? String)?.contains("analysis") == true)
        #expect((recommendations.first?["options"] as? [String: Any])?["validation"] as? [String: Any] != nil)
        // And it is right: trained with every family, linear scores best on validation.
        let job = try Training.startJob(client, ["user_id": "alice", "dataset_id": "wide", "preset": "fast", "time_limit_s": 10])
        let done = try Training.wait(client, job: job)
        let leaderboard = ((done["result"] as? [String: Any])?["leaderboard"] as? [[String: Any]] ?? []).filter { $0["model"] as? String != "WeightedEnsemble" }
        #expect(leaderboard.first?["model"] as? String == "LinearModel", "\(leaderboard)")

        // Errors.
        #expect(try Self.recommend(client, "wide", ["target_column": "nope"]).status == 400)
        #expect(try Self.recommend(client, "wide", ["time_limit_s": 0]).status == 400)
        #expect(try Self.recommend(client, "missing").status == 404)
        let token = try #require(client.request("POST", "/auth/tokens", headers: [("Content-Type", "application/json")],
                                                body: Array(#"{"user_id": "bob"}"#.utf8)).object["token"] as? String)
        #expect(try Self.recommend(client.with(token: token), "wide").status == 403)
        // Another target is profiled for the recommendation.
        let other = try Self.recommend(client, "wide", ["target_column": "x0"])
        #expect(other.status == 200 && ((other.object["recommendations"] as? [[String: Any]])?.first?["options"] as? [String: Any])?["target_column"] as? String == "x0")
    }
}
