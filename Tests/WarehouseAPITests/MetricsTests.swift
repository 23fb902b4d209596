import Foundation
import Testing
import WarehouseTesting

/// `GET /metrics`: Prometheus text with requests by route and status, latency histograms,
/// bytes in/out, uploads in flight, storage errors, training jobs and catalog size.
@Suite struct MetricsTests {
    /// Samples as "name{labels}" → value; every line must be a comment or a valid sample.
    static func samples(_ text: String) throws -> [String: Double] {
        let sample = try Regex(#"^([a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})?) (-?[0-9.eE+-]+|\+Inf|NaN)$"#)
        var result: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            try #require(try sample.wholeMatch(in: String(line)) != nil, "not a Prometheus sample: \(line)")
            let parts = line.split(separator: " ")
            result[String(parts[0])] = Double(String(parts[1])) ?? .infinity
        }
        return result
    }

    @Test func countsRequestsBytesLatencyAndTheCatalog() throws {
        let warehouse = try TestWarehouse()
        let client = warehouse.client
        for _ in 0..<3 { #expect(try client.get("/health").status == 200) }
        let weights = [UInt8](repeating: 7, count: 100_000)
        #expect(try warehouse.uploadSingle([("user_id", "alice"), ("model_id", "m")], filename: "w.bin", content: .bytes(weights)).status == 200)
        #expect(try client.get("/ai-models/alice/m/download?filename=w.bin").body.count == weights.count)
        #expect(try client.get("/no/such/route").status == 404)
        #expect(throws: (any Error).self) { try warehouse.store.getData(key: "models/alice/none/v1/x") }

        let response = try client.get("/metrics")
        #expect(response.status == 200)
        #expect(response.headers["content-type"]?.hasPrefix("text/plain; version=0.0.4") == true)
        let metrics = try Self.samples(response.text)
        #expect(metrics[#"warehouse_http_requests_total{method="GET",route="/health",status="200"}"#] == 3)
        #expect(metrics[#"warehouse_http_requests_total{method="POST",route="/ai-models/upload/single",status="200"}"#] == 1)
        #expect(metrics[#"warehouse_http_requests_total{method="GET",route="unmatched",status="404"}"#] == 1)
        #expect(metrics[#"warehouse_http_request_duration_seconds_count{method="GET",route="/health"}"#] == 3)
        #expect(metrics[#"warehouse_http_request_duration_seconds_bucket{method="GET",route="/health",le="+Inf"}"#] == 3)
        // Buckets are cumulative.
        let buckets = metrics.filter { $0.key.hasPrefix(#"warehouse_http_request_duration_seconds_bucket{method="GET",route="/health","#) }
        let ordered = buckets.sorted { (Double($0.key.split(separator: "\"").dropLast().last!) ?? .infinity) < (Double($1.key.split(separator: "\"").dropLast().last!) ?? .infinity) }
        #expect(zip(ordered, ordered.dropFirst()).allSatisfy { $0.value <= $1.value })
        #expect((metrics[#"warehouse_http_request_bytes_total{method="POST",route="/ai-models/upload/single"}"#] ?? 0) > Double(weights.count))
        #expect((metrics[#"warehouse_http_response_bytes_total{method="GET",route="/ai-models/{user_id}/{model_id}/download"}"#] ?? 0) == Double(weights.count))
        #expect(metrics["warehouse_uploads_in_flight"] == 0)
        // The scrape itself is the one request in flight.
        #expect(metrics[#"warehouse_http_requests_in_flight{method="GET",route="/metrics"}"#] == 1)
        #expect(metrics[#"warehouse_storage_errors_total{operation="get",kind="not_found"}"#] == 1)
        #expect(metrics["warehouse_catalog_versions"] == 1 && metrics["warehouse_catalog_models"] == 1)
        #expect(metrics["warehouse_catalog_files"] == 1 && metrics["warehouse_catalog_stored_bytes"] == Double(weights.count))
        for state in ["queued", "running", "succeeded", "failed", "cancelled"] {
            #expect(metrics[#"warehouse_training_jobs{state="\#(state)"}"#] == 0)
        }
        // A token is needed, as everywhere but /health.
        #expect(try client.with(token: nil).get("/metrics").status == 401)
    }
}
