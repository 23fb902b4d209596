import Foundation
import Testing
import WarehouseTesting

/// `filter=` on listing and search, operator by operator, against seeded versions.
@Suite struct SearchFilterTests {
    static func seed(_ warehouse: TestWarehouse) throws {
        let models: [(String, String, String, Int, Double, String)] = [
            ("bert", "pytorch", "nlp,prod", 110_000_000, 0.91, "nlp"),
            ("llama", "pytorch", "nlp", 7_000_000_000, 0.95, "nlp"),
            ("resnet", "tensorflow", "vision,prod", 25_000_000, 0.76, "computer_vision"),
            ("forest", "sklearn", "tabular", 0, 0.88, "classification"),
        ]
        for (model, framework, tags, parameters, f1, type) in models {
            #expect(try warehouse.uploadSingle([("user_id", "alice"), ("model_id", model), ("framework", framework), ("tags", tags),
                                                ("model_type", type), ("name", "\(model) model"), ("validation_accuracy", String(f1))],
                                               content: .bytes([UInt8](repeating: 1, count: model == "llama" ? 2_000_000 : 1000))).status == 200)
            let patch = #"{"num_parameters": \#(parameters), "custom_metadata": {"team": "\#(model == "forest" ? "tab" : "dl")", "metrics": {"test": {"f1": \#(f1)}}}}"#
            #expect(try warehouse.client.put("/ai-models/alice/\(model)", json: patch).status == 200)
        }
    }

    static func ids(_ client: TestClient, _ filter: String, search: String? = nil) throws -> [String] {
        var path = search == nil ? "/ai-models/alice?" : "/ai-models/search/alice?query=\(search!)&"
        path += "filter=" + filter.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        let response = try client.get(path)
        #expect(response.status == 200, "\(filter): \(response.text)")
        return response.array.compactMap { $0["model_id"] as? String }.sorted()
    }

    @Test func everyOperatorSelectsTheRightModels() throws {
        let warehouse = try TestWarehouse()
        try Self.seed(warehouse)
        let client = warehouse.client
        #expect(try Self.ids(client, "framework = 'pytorch'") == ["bert", "llama"])
        #expect(try Self.ids(client, "framework != 'pytorch'") == ["forest", "resnet"])
        #expect(try Self.ids(client, "num_parameters > 1e9") == ["llama"])
        #expect(try Self.ids(client, "num_parameters >= 25000000 AND num_parameters < 1e9") == ["bert", "resnet"])
        #expect(try Self.ids(client, "num_parameters <= 0") == ["forest"])
        #expect(try Self.ids(client, "framework = 'pytorch' AND (num_parameters > 1e9 OR tags IN ('prod')) AND metrics.f1 >= 0.9") == ["bert", "llama"])
        #expect(try Self.ids(client, "tags IN ('vision', 'tabular')") == ["forest", "resnet"])
        #expect(try Self.ids(client, "tags NOT IN ('nlp')") == ["forest", "resnet"])
        #expect(try Self.ids(client, "tags = 'PROD'") == ["bert", "resnet"])  // tags match case-insensitively
        #expect(try Self.ids(client, "name LIKE 're%'") == ["resnet"])
        #expect(try Self.ids(client, "NOT name LIKE '%t%'") == ["llama"])
        #expect(try Self.ids(client, "metrics.f1 < 0.8 OR custom.team = 'tab'") == ["forest", "resnet"])
        #expect(try Self.ids(client, "validation_accuracy > 0.9") == ["bert", "llama"])
        #expect(try Self.ids(client, "model_size_mb > 1") == ["llama"])
        #expect(try Self.ids(client, "model_type IN ('nlp', 'classification') AND version = 'v1'") == ["bert", "forest", "llama"])
        #expect(try Self.ids(client, "created_at > '2000-01-01' AND updated_at < '2999-01-01'").count == 4)
        // Together with full-text search.
        #expect(try Self.ids(client, "framework = 'pytorch'", search: "model") == ["bert", "llama"])
        // A syntax error is a 400 with the position.
        let bad = try client.get("/ai-models/alice?filter=" + "framework = ".addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)
        #expect(bad.status == 400 && bad.detail == "filter: expected a value at position 12 (the end)", "\(bad.text)")
        // An injection attempt is only a value; the catalog is intact afterwards.
        #expect(try Self.ids(client, "name = 'x'' OR ''1''=''1'").isEmpty)
        #expect(try Self.ids(client, "num_parameters >= 0").count == 4)
    }
}
