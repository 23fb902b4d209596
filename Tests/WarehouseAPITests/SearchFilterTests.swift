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

    @Test func orderByAnyNumericFieldWithStableCursors() throws {
        let warehouse = try TestWarehouse()
        try Self.seed(warehouse)
        let client = warehouse.client
        func page(_ query: String) throws -> (ids: [String], next: String?) {
            let response = try client.get("/ai-models/alice?" + query)
            #expect(response.status == 200, "\(query): \(response.text)")
            return (response.array.compactMap { $0["model_id"] as? String }, response.headers["x-next-cursor"])
        }
        #expect(try page("order_by=num_parameters%20desc").ids == ["llama", "bert", "resnet", "forest"])
        #expect(try page("order_by=metrics.f1").ids == ["resnet", "forest", "bert", "llama"])
        #expect(try page("order_by=model_size_mb%20desc&limit=1").ids == ["llama"])
        // Walk by cursor, two at a time; a model added meanwhile does not shift the pages.
        let first = try page("order_by=validation_accuracy%20desc&limit=2")
        #expect(first.ids == ["llama", "bert"])
        let cursor = try #require(first.next)
        #expect(try warehouse.uploadSingle([("user_id", "alice"), ("model_id", "aaa"), ("validation_accuracy", "0.99")]).status == 200)
        let second = try page("order_by=validation_accuracy%20desc&limit=2&cursor=\(cursor)")
        #expect(second.ids == ["forest", "resnet"])
        let last = try page("order_by=validation_accuracy%20desc&limit=2&cursor=\(try #require(second.next))")
        #expect(last.ids.isEmpty && last.next == nil)
        // Models without the value sort last; default order is model_id; search defaults to relevance.
        #expect(try page("order_by=metrics.f1").ids.last == "aaa")
        #expect(try page("").ids == ["aaa", "bert", "forest", "llama", "resnet"])
        let searched = try client.get("/ai-models/search/alice?query=model&order_by=relevance")
        #expect(searched.status == 200 && searched.array.count == 4)
        // Bad orders and cursors are 400.
        #expect(try client.get("/ai-models/alice?order_by=tags").status == 400)
        #expect(try client.get("/ai-models/alice?order_by=relevance").status == 400)
        #expect(try client.get("/ai-models/alice?order_by=num_parameters%20sideways").status == 400)
        #expect(try client.get("/ai-models/alice?cursor=garbage").status == 400)
        let mismatch = try client.get("/ai-models/alice?order_by=num_parameters&cursor=\(cursor)")
        #expect(mismatch.status == 400 && mismatch.detail?.contains("made for order_by=validation_accuracy desc") == true, "\(mismatch.text)")
    }

    @Test func snippetsScopeAllAndEveryVersion() throws {
        let warehouse = try TestWarehouse()
        try Self.seed(warehouse)
        let client = warehouse.client
        // A description with markup: the snippet marks the match and escapes the rest.
        #expect(try warehouse.uploadSingle([("user_id", "alice"), ("model_id", "html"), ("name", "plain"),
                                            ("description", "beats <b>bert</b> & friends on GLUE")]).status == 200)
        let searched = try client.get("/ai-models/search/alice?query=glu&filter=" + "model_id = 'html'".addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)
        #expect(searched.status == 200, "\(searched.text)")
        #expect(searched.array.first?["snippet"] as? String == "beats &lt;b&gt;bert&lt;/b&gt; &amp; friends on <mark>GLUE</mark>")
        // Every hit of a text search has one (prefix match), listings have none.
        let models = try client.get("/ai-models/search/alice?query=mod")
        #expect(models.array.count == 4 && models.array.allSatisfy { ($0["snippet"] as? String)?.contains("<mark>model</mark>") == true })
        #expect(try client.get("/ai-models/alice").array.allSatisfy { $0["snippet"] == nil })

        // scope=all: the admin lists and searches every user's models; a user may not.
        #expect(try warehouse.uploadSingle([("user_id", "bob"), ("model_id", "bert"), ("name", "bob's bert model")]).status == 200)
        let everyone = try client.get("/ai-models/search/admin?query=bert&scope=all")
        #expect(everyone.status == 200, "\(everyone.text)")
        #expect(Set(everyone.array.map { "\($0["user_id"] as? String ?? "")/\($0["model_id"] as? String ?? "")" })
                == ["alice/bert", "alice/html", "bob/bert"])
        let listed = try client.get("/ai-models/anyone?scope=all&filter=" + "model_id = 'bert'".addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)
        #expect(listed.array.count == 2 && listed.headers["x-total-count"] == "2", "\(listed.text)")
        // Pages across users by cursor: nothing repeats, nothing is lost.
        var seen: [String] = []
        var cursor: String?
        repeat {
            let page = try client.get("/ai-models/x?scope=all&order_by=created_at%20desc&limit=2" + (cursor.map { "&cursor=\($0)" } ?? ""))
            #expect(page.status == 200, "\(page.text)")
            seen += page.array.map { "\($0["user_id"] as? String ?? "")/\($0["model_id"] as? String ?? "")" }
            cursor = page.headers["x-next-cursor"]
        } while cursor != nil
        #expect(seen.count == 6 && Set(seen).count == 6, "\(seen)")
        let created = try client.request("POST", "/auth/tokens", headers: [("Content-Type", "application/json")],
                                         body: Array(#"{"user_id": "alice"}"#.utf8))
        let alice = client.with(token: try #require(created.object["token"] as? String))
        let refused = try alice.get("/ai-models/search/alice?query=bert&scope=all")
        #expect(refused.status == 403, "\(refused.text)")
        #expect(try alice.get("/ai-models/alice?scope=all").status == 403)
        #expect(try alice.get("/ai-models/alice?scope=mine").status == 400)

        // versions=all: each version of a model is a row; the default is each model's latest.
        #expect(try warehouse.uploadSingle([("user_id", "alice"), ("model_id", "forest"), ("tags", "tabular,v2")]).status == 200)
        #expect(try Self.ids(client, "tags = 'tabular'") == ["forest"])
        let versions = try client.get("/ai-models/alice?versions=all&filter=" + "model_id = 'forest'".addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)
        #expect(versions.array.compactMap { $0["version"] as? String } == ["v1", "v2"], "\(versions.text)")
        #expect(try Self.ids(client, "tags = 'v2'") == ["forest"])
        let old = try client.get("/ai-models/alice?filter=" + "custom.team = 'tab'".addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)
        #expect(old.array.isEmpty, "v2 has no custom metadata: \(old.text)")
        let anyVersion = try client.get("/ai-models/alice?versions=all&filter=" + "custom.team = 'tab'".addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)
        #expect(anyVersion.array.compactMap { $0["version"] as? String } == ["v1"])
    }
}
