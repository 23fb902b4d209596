import Foundation
import Testing
import WarehouseTesting

/// `GET /datasets/{user}/{dataset}/analysis`: figures checked against scipy and scikit-learn
/// (the mlflow peer's venv has both), sampling of large files, exact outlier counts, and the
/// permutation importances of a trained model.
@Suite(.serialized) struct DatasetAnalysisTests {
    static let python = TestProcess.repositoryPath(".build/mlflow-peers/mlflow/bin/python")

    @Test(arguments: [("titanic", "survived"), ("penguins", "species"), ("diabetes", "target"), ("credit_data", "Status")])
    func figuresMatchScipyAndScikitLearn(dataset: String, target: String) throws {
        let warehouse = try TestWarehouse()
        let client = warehouse.client
        try #require(Training.upload(client, dataset: dataset, csv: .file(Training.path(dataset)),
                                     extra: [("target_column", target)]).status == 200)
        let first = try client.get("/datasets/alice/\(dataset)/analysis")
        #expect(first.status == 200, "\(first.text)")
        let analysis = first.object
        #expect(analysis["cached"] as? Bool == false)
        #expect(analysis["target"] as? String == target && analysis["sampled"] as? Bool == false)
        let rows = try #require(analysis["rows"] as? Int)
        #expect(analysis["rows_used"] as? Int == rows)
        let features = try #require(analysis["features"] as? [[String: Any]])
        let profile = try client.get("/datasets/alice/\(dataset)").object
        #expect(Set(features.compactMap { $0["name"] as? String }) == Set(profile["features"] as? [String] ?? ["?"]))
        let information = features.compactMap { $0["mutual_information"] as? Double }
        #expect(information.count == features.count && information == information.sorted(by: >))
        let distribution = try #require(analysis["target_distribution"] as? [String: Any])
        if let classes = distribution["classes"] as? [[String: Any]] {
            #expect(classes.compactMap { $0["count"] as? Int }.reduce(0, +) == rows)
        } else {
            #expect((distribution["histogram"] as? [[String: Any]])?.compactMap { $0["count"] as? Int }.reduce(0, +) == rows)
        }
        #expect((analysis["outliers"] as? [String: Any])?["method"] as? String != nil)

        // The same figures from scipy.stats and sklearn.metrics on every row.
        let work = try TemporaryDirectory()
        try Data(first.body).write(to: URL(fileURLWithPath: work.path + "/analysis.json"))
        let reference = try TestProcess.run(Self.python, [TestProcess.repositoryPath("Tests/python/analysis_reference.py"),
                                                          Training.path(dataset), work.path + "/analysis.json"])
        try #require(reference.status == 0, "\(reference.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(reference.stdout.utf8)) as? [String: Any])
        let worst = try #require(report["worst"] as? [String: Double])
        let checked = try #require(report["checked"] as? [String: Int])
        // Numbers pass through 32-bit floats (as the learners see them): correlations agree to 1e-5.
        #expect(worst["pearson"]! < 1e-5 && worst["spearman"]! < 1e-4 && worst["pairs"]! < 1e-5, "\(report)")
        #expect(worst["cramers_v"]! < 1e-9 && worst["mutual_information"]! < 1e-9, "\(report)")
        #expect(checked["pairs"]! > 0, "\(report)")
        switch dataset {
        case "penguins": #expect(checked["cramers_v"]! >= 2 && checked["pearson"]! == 0)   // multiclass: no correlations
        case "diabetes": #expect(checked["pearson"]! >= 9 && checked["cramers_v"]! == 0)
        default: #expect(checked["pearson"]! >= 2 && checked["cramers_v"]! >= 2)
        }
        // Kept: the second request reads it back.
        let second = try client.get("/datasets/alice/\(dataset)/analysis")
        #expect(second.object["cached"] as? Bool == true)
        #expect((second.object["features"] as? [[String: Any]])?.compactMap { $0["name"] as? String } == features.compactMap { $0["name"] as? String })
    }

    /// More rows than the sample holds: associations from 50,000 of them (and it says so),
    /// outliers and the target's classes counted over every row.
    @Test func largeFilesAreSampledAndCountedExactly() throws {
        let warehouse = try TestWarehouse()
        let client = warehouse.client
        var generator = SystemRandomNumberGenerator()
        var csv = "signal,noise,colour,label\n"
        var signals: [Double] = [], labels: [Double] = []
        let rows = 120_000
        for row in 0..<rows {
            let label = row % 3 == 0 ? 1 : 0
            let signal = Double(label) * 2 + Double.random(in: -1...1, using: &generator)
            // 30 extreme values in `noise`, far outside mean ± 3 sd.
            let noise = row % 4000 == 17 ? 1000.0 : Double.random(in: 0...1, using: &generator)
            csv += "\(signal),\(noise),\(["red", "green", "blue"][row % 3 == 0 ? 0 : Int.random(in: 1...2, using: &generator)]),\(label)\n"
            signals.append(signal)
            labels.append(Double(label))
        }
        try #require(Training.upload(client, dataset: "large", csv: .bytes(Array(csv.utf8))).status == 200)
        let analysis = try client.get("/datasets/alice/large/analysis").object
        #expect(analysis["sampled"] as? Bool == true)
        #expect(analysis["rows"] as? Int == rows && analysis["rows_used"] as? Int == 50_000)
        #expect((analysis["method"] as? String)?.contains("sample of 50000 of 120000 rows") == true, "\(analysis["method"] ?? "")")
        let features = try #require(analysis["features"] as? [[String: Any]])
        #expect(features.first?["name"] as? String == "signal" || features.first?["name"] as? String == "colour")
        let signal = try #require(features.first { $0["name"] as? String == "signal" })
        // The sample's correlation is within sampling error of the whole file's.
        let n = Double(rows)
        let mx = signals.reduce(0, +) / n, my = labels.reduce(0, +) / n
        var sxy = 0.0, sxx = 0.0, syy = 0.0
        for i in 0..<rows { sxy += (signals[i] - mx) * (labels[i] - my); sxx += (signals[i] - mx) * (signals[i] - mx); syy += (labels[i] - my) * (labels[i] - my) }
        let whole = sxy / (sxx * syy).squareRoot()
        #expect(abs((signal["pearson"] as? Double ?? 0) - whole) < 0.02, "\(signal) vs \(whole)")
        let outliers = (analysis["outliers"] as? [String: Any])?["columns"] as? [[String: Any]] ?? []
        #expect(outliers.first { $0["name"] as? String == "noise" }?["count"] as? Int == 30, "\(outliers)")
        let classes = (analysis["target_distribution"] as? [String: Any])?["classes"] as? [[String: Any]] ?? []
        #expect(classes.compactMap { $0["count"] as? Int } == [80_000, 40_000])
        #expect(((analysis["target_distribution"] as? [String: Any])?["imbalance_ratio"] as? Double) == 2)
    }

    @Test func importancesOfTheLatestTrainedModelAndErrors() throws {
        let warehouse = try TestWarehouse()
        let client = warehouse.client
        try #require(Training.upload(client, dataset: "titanic", csv: .file(Training.path("titanic"))).status == 200)
        let before = try client.get("/datasets/alice/titanic/analysis").object
        #expect(before["importances"] == nil)
        let job = try Training.startJob(client, ["user_id": "alice", "dataset_id": "titanic", "preset": "fast", "time_limit_s": 10])
        #expect(try Training.wait(client, job: job)["status"] as? String == "succeeded")
        let after = try client.get("/datasets/alice/titanic/analysis").object
        #expect(after["cached"] as? Bool == true)
        let importances = try #require(after["importances"] as? [[String: Any]], "\(after)")
        #expect(importances.count == 7)
        // Who survived the Titanic depends on gender first (every engine finds it).
        #expect(importances.first?["name"] as? String == "gender", "\(importances)")
        #expect((importances.first?["importance"] as? Double ?? 0) > 0.05)
        let source = try #require(after["importances_from"] as? [String: Any])
        #expect(source["model_id"] as? String == "titanic-automl" && source["version"] as? String == "v1")
        #expect(source["rows"] as? Int == 441)
        // The record keeps them too.
        let record = try client.get("/ai-models/alice/titanic-automl").object
        #expect(((record["custom_metadata"] as? [String: Any])?["permutation_importances"] as? [String: Any])?["metric"] as? String == "accuracy")

        #expect(try client.get("/datasets/alice/nope/analysis").status == 404)
        #expect(try client.get("/datasets/alice/titanic/analysis?version=v9").status == 404)
        let token = try #require(client.request("POST", "/auth/tokens", headers: [("Content-Type", "application/json")],
                                                body: Array(#"{"user_id": "bob"}"#.utf8)).object["token"] as? String)
        #expect(try client.with(token: token).get("/datasets/alice/titanic/analysis").status == 403)
        // Deleting the dataset removes its analysis with it.
        #expect(try client.request("DELETE", "/datasets/alice/titanic?keep_models=true").status == 200)
        #expect(try warehouse.store.list(prefix: "datasets/alice/titanic/").isEmpty)
    }
}
