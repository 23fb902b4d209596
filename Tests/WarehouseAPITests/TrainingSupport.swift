import Foundation
import Testing
import WarehouseTesting

/// Helpers for the training tests: shared datasets, uploads, waiting for jobs, events.
enum Training {
    static func path(_ name: String) -> String { SharedDatasetFiles.path(name) }

    /// Uploads a dataset (no automatic training unless asked) and returns the response.
    @discardableResult
    static func upload(_ client: TestClient, user: String = "alice", dataset: String, csv: TestFilePart,
                       filename: String = "data.csv", extra: [(String, String)] = [], autoTrain: Bool = false) throws -> TestResponse {
        try client.upload("/datasets/upload",
                          fields: [("user_id", user), ("dataset_id", dataset), ("auto_train", autoTrain ? "true" : "false")] + extra,
                          files: [("file", filename, csv)])
    }

    static func startJob(_ client: TestClient, _ body: [String: Any]) throws -> String {
        let data = try JSONSerialization.data(withJSONObject: body)
        let response = try client.request("POST", "/training/jobs", headers: [("Content-Type", "application/json")], body: Array(data))
        guard response.status == 202, let id = response.object["job_id"] as? String else {
            throw TestClientError("job not started: \(response.status) \(response.text)")
        }
        return id
    }

    /// Polls until the job has finished; returns its final JSON.
    static func wait(_ client: TestClient, job: String, seconds: Double = 300) throws -> [String: Any] {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            let object = try client.get("/training/jobs/\(job)").object
            if let status = object["status"] as? String, ["succeeded", "failed", "cancelled"].contains(status) { return object }
            Thread.sleep(forTimeInterval: 0.1)
        }
        throw TestClientError("job \(job) did not finish within \(seconds) s")
    }

    /// The job's SSE stream read to its end: (id, event JSON) pairs.
    static func events(_ client: TestClient, job: String, lastEventID: Int? = nil, query: String = "") throws -> (status: Int, contentType: String?, events: [(Int, [String: Any])]) {
        var bytes: [UInt8] = []
        let response = try client.download("/training/jobs/\(job)/events" + query,
                                           headers: lastEventID.map { [("Last-Event-ID", String($0))] } ?? []) { chunk in
            bytes.append(contentsOf: chunk)
        }
        var events: [(Int, [String: Any])] = []
        for block in String(decoding: bytes, as: UTF8.self).components(separatedBy: "\n\n") where !block.isEmpty {
            var id = -1
            var data = ""
            for line in block.split(separator: "\n") {
                if line.hasPrefix("id: ") { id = Int(line.dropFirst(4)) ?? -1 }
                if line.hasPrefix("data: ") { data = String(line.dropFirst(6)) }
            }
            guard !data.isEmpty, let object = try JSONSerialization.jsonObject(with: Data(data.utf8)) as? [String: Any] else { continue }
            events.append((id, object))
        }
        return (response.status, response.headers["content-type"], events)
    }

    static func seconds(_ from: String?, _ to: String?) -> Double? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        guard let from, let to, let start = formatter.date(from: from), let end = formatter.date(from: to) else { return nil }
        return end.timeIntervalSince(start)
    }
}
