import Foundation
import Testing
import WarehouseTesting

/// Training from the browser (headless Chromium, Tests/python/browser.py): upload a CSV, see
/// its profile, analysis and recommendations, start a job with options, watch it, cancel one.
/// Screenshots go to docs/screenshots/ (dataset-analysis.png, train-submit.png, …).
@Suite(.serialized) struct WebTrainingUITests {
    @Test func trainingFromTheBrowser() throws {
        let warehouse = try TestWarehouse()
        let admin = warehouse.client
        let token = try #require(try admin.request("POST", "/auth/tokens", headers: [("Content-Type", "application/json")],
                                                   body: Array(#"{"user_id": "alice"}"#.utf8)).object["token"] as? String)
        try #require(Training.upload(admin, dataset: "titanic", csv: .file(Training.path("titanic")), filename: "titanic.csv",
                                     extra: [("description", "Passengers of the RMS Titanic")]).status == 200)
        let trained = try Training.startJob(admin, ["user_id": "alice", "dataset_id": "titanic", "preset": "fast", "time_limit_s": 10])
        try #require(try Training.wait(admin, job: trained)["status"] as? String == "succeeded")
        // A long job to cancel from its page.
        try #require(Training.upload(admin, dataset: "diamonds", csv: .file(Training.path("diamonds")), filename: "diamonds.csv").status == 200)
        let long = try Training.startJob(admin, ["user_id": "alice", "dataset_id": "diamonds", "preset": "best", "time_limit_s": 300])

        let shots = Browser.screenshots
        let pages = [
            ("datasets", "/ui/datasets"), ("dataset-upload", "/ui/datasets"), ("dataset-analysis", "/ui/datasets/alice/titanic"),
            ("cancel-job", "/ui/jobs/\(long)"), ("train-submit", "/ui/datasets/alice/titanic"),
            ("datasets-search", "/ui/datasets?query=flipper"),
        ]
        let seen = try Browser.visit(port: admin.port, token: token, pages: pages,
                                     environment: ["BROWSER_DATASET_FILE": Training.path("penguins")])
        let expected: [String: [String]] = [
            "datasets": ["Datasets of alice", "titanic", "diamonds", "Upload a CSV dataset"],
            "dataset-upload": ["Dataset alice/from-browser", "Penguins from a browser", "344 rows", "Analysis", "Mutual information with species",
                               "Recommended models", "Train a model", "Models trained from it", "None yet."],
            "dataset-analysis": ["Dataset alice/titanic", "Mutual information with survived", "Correlation with the target",
                                 "Target distribution", "Permutation importances", "titanic-automl v1", "Strongest feature pairs",
                                 "Recommended models", "Estimated time", "Start training"],
            "train-submit": ["Training job", "from-browser-job", "Training options", "fast", "Leaderboard"],
            "cancel-job": ["Training job", "cancelled"],
            "datasets-search": ["from-browser"],
        ]
        for (name, _) in pages {
            let page = try #require(seen[name])
            #expect((page["errors"] as? [Any])?.isEmpty == true, "\(name): script errors \(page["errors"] ?? "")")
            let text = page["text"] as? String ?? ""
            for fragment in expected[name] ?? [] { #expect(text.contains(fragment), "\(name) lacks '\(fragment)': \(text.prefix(3000))") }
            let size = (try? FileManager.default.attributesOfItem(atPath: shots + "/\(name).png")[.size] as? Int) ?? 0
            #expect(size > 10_000, "\(name).png is \(size) bytes")
        }
        #expect((seen["dataset-analysis"]?["svg"] as? Int ?? 0) >= 10)
        #expect((seen["train-submit"]?["url"] as? String)?.hasPrefix("/ui/jobs/") == true)

        // What the browser did, as the API sees it.
        let datasetRecord = try admin.get("/datasets/alice/from-browser").object
        #expect(datasetRecord["rows"] as? Int == 344 && datasetRecord["name"] as? String == "Penguins from a browser")
        let jobs = try admin.get("/training/jobs?user_id=alice").array
        let fromBrowser = try #require(jobs.first { $0["model_id"] as? String == "from-browser-job" })
        let options = try #require(fromBrowser["training_options"] as? [String: Any])
        #expect(options["preset"] as? String == "fast")
        #expect((options["algorithms"] as? [String])?.count == 1, "the first recommendation's family only: \(options)")
        #expect(try admin.get("/training/jobs/\(long)").object["status"] as? String == "cancelled")
        #expect(try Training.wait(admin, job: fromBrowser["job_id"] as? String ?? "")["status"] as? String == "succeeded")
    }

    /// The training forms over plain HTTP: CSRF, namespaces, and bad options as error pages.
    @Test func trainingFormsCheckCSRFNamespacesAndOptions() throws {
        let warehouse = try TestWarehouse()
        let anonymous = warehouse.client.with(token: nil)
        try #require(Training.upload(warehouse.client, dataset: "iris", csv: .file(Training.path("iris"))).status == 200)
        try #require(Training.upload(warehouse.client, user: "bob", dataset: "wine", csv: .file(Training.path("wine"))).status == 200)
        let token = try #require(try warehouse.client.request("POST", "/auth/tokens", headers: [("Content-Type", "application/json")],
                                                              body: Array(#"{"user_id": "alice"}"#.utf8)).object["token"] as? String)
        let login = try anonymous.request("POST", "/ui/login", headers: [("Content-Type", "application/x-www-form-urlencoded")],
                                          body: Array("token=\(token)&next=%2Fui%2Fdatasets".utf8))
        let session = [("Cookie", String(try #require(login.headers["set-cookie"]).split(separator: ";")[0]))]
        let page = try anonymous.get("/ui/datasets/alice/iris", headers: session)
        #expect(page.status == 200)
        let csrf = String(try #require(page.text.firstMatch(of: /name="csrf" value="([0-9a-f]{64})"/)?.1))
        func train(_ path: String, _ form: String) throws -> TestResponse {
            try anonymous.request("POST", path, headers: session + [("Content-Type", "application/x-www-form-urlencoded")], body: Array(form.utf8))
        }
        let good = "model_id=m&preset=fast&algorithm_linear=on&feature_0=on&feature_1=on&validation_kind=cv&validation_folds=3&time_limit_s=5&seed=1"
        #expect(try train("/ui/datasets/alice/iris/train", "csrf=0&" + good).status == 403)
        #expect(try train("/ui/datasets/bob/wine/train", "csrf=\(csrf)&" + good).status == 403)
        let bad = try train("/ui/datasets/alice/iris/train", "csrf=\(csrf)&model_id=m&preset=turbo&algorithm_linear=on&time_limit_s=5")
        #expect(bad.status == 400 && bad.text.contains("unknown preset") && bad.headers["content-type"]?.hasPrefix("text/html") == true)
        let none = try train("/ui/datasets/alice/iris/train", "csrf=\(csrf)&model_id=m&preset=fast&time_limit_s=5")
        #expect(none.status == 400 && none.text.contains("algorithms"), "\(none.text)")
        #expect(try warehouse.client.get("/training/jobs?user_id=alice").array.isEmpty)
        let started = try train("/ui/datasets/alice/iris/train", "csrf=\(csrf)&" + good)
        #expect(started.status == 303 && started.headers["location"]?.hasPrefix("/ui/jobs/") == true)
        let job = String(started.headers["location"]?.dropFirst("/ui/jobs/".count) ?? "")
        let done = try Training.wait(warehouse.client, job: job)
        let options = try #require((done["result"] as? [String: Any])?["training_options"] as? [String: Any])
        #expect(options["algorithms"] as? [String] == ["linear"] && options["preset"] as? String == "fast" && options["seed"] as? Int == 1)
        #expect(options["feature_columns"] as? [String] == ["sepal length (cm)", "sepal width (cm)"])
        #expect((options["validation"] as? [String: Any])?["folds"] as? Int == 3)
        // Cancel needs the token too, and a finished job stays as it was.
        #expect(try train("/ui/jobs/\(job)/cancel", "csrf=0").status == 403)
        #expect(try train("/ui/jobs/\(job)/cancel", "csrf=\(csrf)").status == 303)
        #expect(try warehouse.client.get("/training/jobs/\(job)").object["status"] as? String == "succeeded")
    }
}
