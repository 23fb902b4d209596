import Foundation
import Testing
import WarehouseTesting

/// The web UI: every page loaded in headless Chromium (Tests/python/browser.py, signed in
/// through the login form) against seeded data, its content checked and a screenshot written
/// to docs/screenshots/; then the cookie, CSRF and namespace rules over plain HTTP.
@Suite(.serialized) struct WebUITests {
    static func trainedJob(_ client: TestClient, dataset: String, token: String? = nil) throws -> String {
        let upload = try Training.upload(client, dataset: dataset, csv: .file(Training.path(dataset)), filename: "\(dataset).csv",
                                         extra: [("time_limit", "3")], autoTrain: true)
        try #require(upload.status == 200, "\(upload.text)")
        let job = try #require((upload.object["training_job"] as? [String: Any])?["job_id"] as? String)
        try #require(try Training.wait(client, job: job)["status"] as? String == "succeeded")
        return job
    }

    @Test func everyPageInAHeadlessBrowser() throws {
        let warehouse = try TestWarehouse()
        let admin = warehouse.client
        let token = try #require(try admin.request("POST", "/auth/tokens", headers: [("Content-Type", "application/json")],
                                                   body: Array(#"{"user_id": "alice"}"#.utf8)).object["token"] as? String)
        let irisJob = try Self.trainedJob(admin, dataset: "iris")
        let diabetesJob = try Self.trainedJob(admin, dataset: "diabetes")
        let hostile = #"<script>alert("x")</script>"#
        #expect(try warehouse.uploadSingle([("user_id", "alice"), ("model_id", "hostile"), ("name", "<b>bold</b> & \"quoted\""),
                                            ("description", hostile), ("tags", "a<b,x\"y")], filename: "<i>w</i>.bin").status == 200)

        // A job still running when its page loads: the leaderboard can only fill from the SSE stream.
        let live = try Training.upload(admin, dataset: "credit", csv: .file(Training.path("credit_data")), filename: "credit.csv",
                                       extra: [("time_limit", "20")], autoTrain: true)
        let liveJob = try #require((live.object["training_job"] as? [String: Any])?["job_id"] as? String)
        let shots = Browser.screenshots
        let scratch = try TemporaryDirectory()
        let uploadFile = scratch.path + "/weights.bin"
        try Data((0..<200_000).map { UInt8(truncatingIfNeeded: $0) }).write(to: URL(fileURLWithPath: uploadFile))
        let pages = [
            ("models", "/ui/models"), ("model", "/ui/models/alice/iris-automl"), ("dataset", "/ui/datasets/alice/iris"),
            ("job", "/ui/jobs/\(irisJob)"), ("job-regression", "/ui/jobs/\(diabetesJob)"), ("notifications", "/ui/notifications"),
            ("upload", "/ui/upload"), ("escaping", "/ui/models/alice/hostile"), ("live-job", "/ui/jobs/\(liveJob)"),
            ("upload-submit", "/ui/upload"),
        ]
        let seen = try Browser.visit(port: admin.port, token: token, pages: pages, environment: ["BROWSER_UPLOAD_FILE": uploadFile])
        let expected: [String: [String]] = [
            "models": ["Models of alice", "iris-automl", "diabetes-automl", "hostile", "production"],
            "model": ["alice/iris-automl", "Download v1 as ZIP", "model.onnx", "Lineage", "Confusion matrix", "sepal length (cm)", "Versions"],
            "dataset": ["Dataset alice/iris", "150 rows", "petal width (cm)", "Sample rows", "setosa"],
            "job": ["Training job", "succeeded", "Leaderboard", "LinearModel", "Confusion matrix"],
            "job-regression": ["Predicted against actual", "Leaderboard"],
            "notifications": ["Notifications of alice", "promoted", "iris-automl"],
            "upload": ["Upload a model", "the file is a ZIP of a model folder"],
            "escaping": [hostile, "<b>bold</b> & \"quoted\"", "a<b", "<i>w</i>.bin"],
            "live-job": ["LinearModel", "GradientBoosting"],
            "upload-submit": ["alice/from-browser", "weights.bin", "200.0 KB", "ui"],
        ]
        for (name, path) in pages {
            let page = try #require(seen[name])
            let landed = name == "upload-submit" ? "/ui/models/alice/from-browser?version=v1" : path
            #expect(page["url"] as? String == landed, "\(name) ended at \(page["url"] ?? "")")
            #expect((page["title"] as? String)?.hasSuffix("Model Warehouse") == true)
            #expect((page["errors"] as? [Any])?.isEmpty == true, "\(name): script errors \(page["errors"] ?? "")")
            let text = page["text"] as? String ?? ""
            for fragment in expected[name] ?? [] { #expect(text.contains(fragment), "\(name) lacks '\(fragment)'") }
            let size = (try? FileManager.default.attributesOfItem(atPath: shots + "/\(name).png")[.size] as? Int) ?? 0
            #expect(size > 10_000, "\(name).png is \(size) bytes")
        }
        #expect((seen["dataset"]?["svg"] as? Int ?? 0) >= 5)
        #expect((seen["job-regression"]?["svg"] as? Int ?? 0) >= 1)
    }

    @Test func cookiesCSRFAndNamespaces() throws {
        let warehouse = try TestWarehouse()
        let anonymous = warehouse.client.with(token: nil)
        let signIn = try anonymous.get("/ui/models")
        #expect(signIn.status == 303 && signIn.headers["location"] == "/ui/login?next=%2Fui%2Fmodels")
        let token = try #require(try warehouse.client.request("POST", "/auth/tokens", headers: [("Content-Type", "application/json")],
                                                              body: Array(#"{"user_id": "alice"}"#.utf8)).object["token"] as? String)
        func login(_ token: String) throws -> TestResponse {
            try anonymous.request("POST", "/ui/login", headers: [("Content-Type", "application/x-www-form-urlencoded")],
                                  body: Array("token=\(token)&next=%2Fui%2Fupload".utf8))
        }
        #expect(try login("wrong").headers["location"]?.contains("failed=1") == true)
        let good = try login(token)
        #expect(good.status == 303 && good.headers["location"] == "/ui/upload")
        let cookie = try #require(good.headers["set-cookie"])
        #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && cookie.contains("Path=/ui"))
        let session = [("Cookie", String(cookie.split(separator: ";")[0]))]
        let upload = try anonymous.get("/ui/upload", headers: session)
        #expect(upload.status == 200 && upload.headers["content-type"]?.hasPrefix("text/html") == true)
        let csrf = try #require(upload.text.firstMatch(of: /name="csrf" value="([0-9a-f]{64})"/)?.1)

        // Another user's pages are refused; the API still wants a bearer token, not the cookie.
        #expect(try anonymous.get("/ui/models/bob/x", headers: session).status == 403)
        #expect(try anonymous.get("/ui/models?scope=all", headers: session).status == 403)
        #expect(try anonymous.get("/ai-models/alice", headers: session).status == 401)
        // State-changing forms need the CSRF token.
        let fields = [("user_id", "alice"), ("model_id", "from-ui")]
        let forged = try anonymous.upload("/ui/upload", fields: [("csrf", "0")] + fields, files: [("file", "w.bin", .bytes([1, 2, 3]))], headers: session)
        #expect(forged.status == 403)
        let real = try anonymous.upload("/ui/upload", fields: [("csrf", String(csrf))] + fields, files: [("file", "w.bin", .bytes([1, 2, 3]))],
                                        headers: session)
        #expect(real.status == 200 && real.object["location"] as? String == "/ui/models/alice/from-ui?version=v1", "\(real.text)")
        #expect(try anonymous.request("POST", "/ui/logout", headers: session + [("Content-Type", "application/x-www-form-urlencoded")],
                                      body: Array("csrf=bad".utf8)).status == 403)
        let out = try anonymous.request("POST", "/ui/logout", headers: session + [("Content-Type", "application/x-www-form-urlencoded")],
                                        body: Array("csrf=\(csrf)".utf8))
        #expect(out.status == 303 && out.headers["set-cookie"]?.contains("Max-Age=0") == true)
        // Downloads through the UI use the cookie.
        #expect(try anonymous.get("/ui/download/alice/from-ui?filename=w.bin", headers: session).body == [1, 2, 3])
    }
}
