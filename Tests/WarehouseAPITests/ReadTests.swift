import Foundation
import Testing
import WarehouseTesting

@Suite struct ReadTests {
    /// Three models for alice, one for bob.
    func seeded() throws -> TestWarehouse {
        let warehouse = try TestWarehouse()
        let uploads: [[(String, String)]] = [
            [("user_id", "alice"), ("model_id", "resnet-50"), ("name", "ResNet 50 image classifier"), ("framework", "pytorch"),
             ("model_type", "computer_vision"), ("tags", "vision,imagenet"), ("algorithm", "resnet")],
            [("user_id", "alice"), ("model_id", "bert-base"), ("name", "BERT base"), ("description", "Sentiment model for reviews"),
             ("framework", "huggingface"), ("model_type", "nlp"), ("tags", "text,sentiment")],
            [("user_id", "alice"), ("model_id", "churn"), ("name", "Churn predictor"), ("framework", "sklearn"),
             ("model_type", "classification"), ("tags", "tabular,sentiment"), ("description", "predicts churn from usage")],
            [("user_id", "bob"), ("model_id", "resnet-50"), ("name", "Bob's ResNet"), ("framework", "pytorch")],
        ]
        for fields in uploads {
            let response = try warehouse.uploadSingle(fields)
            #expect(response.status == 200, "\(response.text)")
        }
        // A second version of churn, renamed.
        _ = try warehouse.uploadSingle([("user_id", "alice"), ("model_id", "churn"), ("name", "Churn predictor v2"),
                                        ("framework", "sklearn"), ("model_type", "classification"), ("tags", "tabular")])
        return warehouse
    }

    @Test func metadataOfLatestAndOfAVersion() throws {
        let warehouse = try seeded()
        let latest = try warehouse.client.get("/ai-models/alice/churn")
        #expect(latest.status == 200)
        #expect(latest.object["version"] as? String == "v2")
        #expect(latest.object["name"] as? String == "Churn predictor v2")
        let first = try warehouse.client.get("/ai-models/alice/churn?version=v1")
        #expect(first.object["version"] as? String == "v1")
        #expect(try warehouse.client.get("/ai-models/alice/churn?version=v9").status == 404)
        #expect(try warehouse.client.get("/ai-models/alice/nothing").status == 404)
        #expect(try warehouse.client.get("/ai-models/alice/churn?version=nine").status == 400)
    }

    @Test func listingFiltersAndPages() throws {
        let warehouse = try seeded()
        let all = try warehouse.client.get("/ai-models/alice")
        #expect(all.status == 200)
        #expect(all.array.map { $0["model_id"] as? String } == ["bert-base", "churn", "resnet-50"])
        #expect(all.headers["x-total-count"] == "3")
        #expect(all.array.first { $0["model_id"] as? String == "churn" }?["version"] as? String == "v2")

        let page = try warehouse.client.get("/ai-models/alice?skip=1&limit=1")
        #expect(page.array.map { $0["model_id"] as? String } == ["churn"])
        #expect(try warehouse.client.get("/ai-models/alice?framework=pytorch").array.map { $0["model_id"] as? String } == ["resnet-50"])
        #expect(try warehouse.client.get("/ai-models/alice?model_type=nlp").array.map { $0["model_id"] as? String } == ["bert-base"])
        // Filters match each model's latest version (churn v2 lost the tag)…
        let sentiment = try warehouse.client.get("/ai-models/alice?tags=sentiment").array
        #expect(sentiment.map { $0["model_id"] as? String } == ["bert-base"])
        // …or, with versions=all, every version.
        let everyVersion = try warehouse.client.get("/ai-models/alice?tags=sentiment&versions=all").array
        #expect(everyVersion.map { "\($0["model_id"] as? String ?? "")@\($0["version"] as? String ?? "")" } == ["bert-base@v1", "churn@v1"])
        let allVersions = try warehouse.client.get("/ai-models/alice?versions=all")
        #expect(allVersions.array.count == 4 && allVersions.headers["x-total-count"] == "4")
        #expect(try warehouse.client.get("/ai-models/alice?versions=some").status == 400)
        #expect(try warehouse.client.get("/ai-models/alice?tags=TEXT,sentiment").array.count == 1)
        #expect(try warehouse.client.get("/ai-models/alice?tags=text,vision").array.isEmpty)
        #expect(try warehouse.client.get("/ai-models/nobody").array.isEmpty)
        #expect(try warehouse.client.get("/ai-models/alice?limit=0").status == 400)
        #expect(try warehouse.client.get("/ai-models/alice?skip=-1").status == 400)
        #expect(try warehouse.client.get("/ai-models/alice?framework=caffe").status == 400)
    }

    @Test func searchIsFullTextRankedAndFiltered() throws {
        let warehouse = try seeded()
        func search(_ query: String) throws -> [String?] {
            let encoded = query.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? query
            let response = try warehouse.client.get("/ai-models/search/alice?query=\(encoded)")
            #expect(response.status == 200, "query \(query): \(response.text)")
            return response.array.map { $0["model_id"] as? String }
        }
        #expect(try search("resnet") == ["resnet-50"])
        #expect(try search("RESNET") == ["resnet-50"])
        #expect(try search("sentiment reviews") == ["bert-base"])
        #expect(try search("churn") == ["churn"])
        #expect(try search("usage").isEmpty) // description of v1 only: not the model's latest version
        let older = try warehouse.client.get("/ai-models/search/alice?query=usage&versions=all").array
        #expect(older.map { $0["version"] as? String } == ["v1"])
        #expect(try search("imagenet") == ["resnet-50"]) // tags
        #expect(try search("resn") == ["resnet-50"]) // prefix
        // Name matches outrank description matches.
        #expect(try search("sentiment").first == "bert-base")
        #expect(try search("zzz-no-such-term").isEmpty)
        for hostile in ["\"", "AND", "*", "(", "\"unclosed", "NEAR(a b)", "name:resnet", "a OR", "-", "'; DROP TABLE versions; --", "^"] {
            _ = try search(hostile)
        }
        let filtered = try warehouse.client.get("/ai-models/search/alice?query=predictor&framework=sklearn")
        #expect(filtered.array.map { $0["model_id"] as? String } == ["churn"])
        #expect(try warehouse.client.get("/ai-models/search/alice?query=predictor&framework=pytorch").array.isEmpty)
        let tagged = try warehouse.client.get("/ai-models/search/alice?query=sentiment&tags=text")
        #expect(tagged.array.map { $0["model_id"] as? String } == ["bert-base"])
        // Only alice's models.
        let mine = try warehouse.client.get("/ai-models/search/bob?query=resnet")
        #expect(mine.array.map { $0["name"] as? String } == ["Bob's ResNet"])
    }

    @Test func versionsAndFiles() throws {
        let warehouse = try seeded()
        let versions = try warehouse.client.get("/ai-models/alice/churn/versions")
        #expect(versions.status == 200)
        let list = versions.object["versions"] as? [[String: Any]] ?? []
        #expect(list.map { $0["version"] as? String } == ["v1", "v2"])
        #expect(versions.object["latest"] as? String == "v2")
        #expect(try warehouse.client.get("/ai-models/alice/none/versions").status == 404)

        let files = try warehouse.client.get("/ai-models/alice/churn/files?version=v1")
        #expect(files.status == 200)
        #expect(files.object["version"] as? String == "v1")
        #expect((files.object["files"] as? [[String: Any]])?.first?["file_path"] as? String == "model.pkl")
        #expect(try warehouse.client.get("/ai-models/alice/churn/files?version=v3").status == 404)
    }

    @Test func healthAndUnknownRoutes() throws {
        let warehouse = try TestWarehouse()
        let health = try warehouse.client.get("/health")
        #expect(health.status == 200)
        #expect(health.object["status"] as? String == "ok")
        let missing = try warehouse.client.get("/nothing/here")
        #expect(missing.status == 404)
        #expect(missing.detail != nil)
        #expect(try warehouse.client.request("PATCH", "/ai-models/a/b").status == 405)
    }
}
