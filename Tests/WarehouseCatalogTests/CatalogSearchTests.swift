import Foundation
import Testing
@testable import WarehouseCatalog
import WarehouseCore
import WarehouseSQLite

/// Listing and search inside the catalog: the three plans agree with each other and with a
/// brute-force answer, the counts and latest flags the triggers keep stay true, old catalogs
/// are migrated, and the common query shapes use the indexes chosen for them.
@Suite struct CatalogSearchTests {
    func makeCatalog(filterWindow: Int = 2000) throws -> (Catalog, String) {
        let directory = FileManager.default.temporaryDirectory.path + "/catalog-search-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return (try Catalog(path: directory + "/catalog.sqlite3", filterWindow: filterWindow), directory)
    }

    /// 60 models of users a and b, 1-3 versions each, with numbers, tags and metrics that vary.
    func seed(_ catalog: Catalog) throws -> [ModelVersionRecord] {
        var committed: [ModelVersionRecord] = []
        for index in 0..<60 {
            let user = index % 4 == 3 ? "b" : "a"
            for number in 1...(1 + index % 3) {
                var record = ModelVersionRecord(modelID: "m\(String(format: "%02d", (index * 37) % 60))", userID: user,
                                                name: "model \(index) \(["resnet", "bert", "forest"][index % 3])",
                                                version: "v\(number)", framework: [.pytorch, .huggingface, .sklearn][index % 3],
                                                modelType: .classification, createdAt: "2026-01-\(String(format: "%02d", 1 + index % 28))T00:00:0\(number)Z")
                record.numParameters = index % 5 == 0 ? nil : Int64(1000 * (index % 7 + 1))
                record.testAccuracy = Double((index * 13 + number) % 100) / 100
                record.tags = index % 2 == 0 ? ["prod"] : ["dev"]
                if index % 6 != 0 {
                    record.customMetadata = ["metrics": .object(["test": .object(["f1": .double(Double((index * 7 + number) % 50) / 50)])]),
                                             "team": .string(index % 3 == 0 ? "vision" : "nlp")]
                }
                record.files = [ModelFile(filename: "w", filePath: "w", fileSize: UInt64(1 << (10 + index % 8)), fileType: "bin",
                                          fileHash: "00", contentType: "x", isPrimary: true)]
                let pending = try catalog.insertPendingVersion(record, requestedVersion: record.version)
                committed.append(try catalog.commitVersion(pending, record: record))
            }
        }
        return committed
    }

    /// Every page of a query, walked with cursors, as "model@version".
    func walk(_ catalog: Catalog, _ query: ModelQuery) throws -> (rows: [String], totals: Set<Int>) {
        var rows: [String] = []
        var totals = Set<Int>()
        var page = query
        while true {
            let results = try catalog.search(page)
            rows += results.records.map { "\($0.modelID)@\($0.version)" }
            totals.insert(results.total)
            guard let next = results.nextCursor else { break }
            page.cursor = next
        }
        return (rows, totals)
    }

    @Test func everyPlanGivesTheBruteForceAnswer() throws {
        let (catalog, directory) = try makeCatalog()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let all = try seed(catalog)
        // A 4-row window makes filtered listings try the windowed plan and often fall back.
        let (small, smallDirectory) = try makeCatalog(filterWindow: 4)
        defer { try? FileManager.default.removeItem(atPath: smallDirectory) }
        _ = try seed(small)
        let latest = Dictionary(grouping: all.filter { $0.userID == "a" }, by: \.modelID).values
            .map { $0.max { try! ModelVersionNumber.parse($0.version) < ModelVersionNumber.parse($1.version) }! }
        func f1(_ record: ModelVersionRecord) -> Double? {
            guard case .object(let metrics)? = record.customMetadata["metrics"], case .object(let test)? = metrics["test"],
                  case .double(let value)? = test["f1"] else { return nil }
            return value
        }
        struct Case {
            let filter: String?
            let order: String?
            let expected: [ModelVersionRecord]
        }
        let cases: [Case] = [
            Case(filter: nil, order: nil, expected: latest.sorted { $0.modelID < $1.modelID }),
            Case(filter: "framework = 'pytorch'", order: nil, expected: latest.filter { $0.framework == .pytorch }.sorted { $0.modelID < $1.modelID }),
            Case(filter: "tags = 'prod' AND num_parameters >= 3000", order: "num_parameters desc",
                 expected: latest.filter { $0.tags == ["prod"] && ($0.numParameters ?? 0) >= 3000 }
                    .sorted { ($0.numParameters!, $1.modelID) > ($1.numParameters!, $0.modelID) }),
            Case(filter: nil, order: "num_parameters asc", expected: latest.sorted {
                ($0.numParameters ?? .max, $0.modelID) < ($1.numParameters ?? .max, $1.modelID) }),
            Case(filter: "metrics.f1 >= 0.2 OR custom.team = 'vision'", order: "metrics.f1 desc",
                 expected: latest.filter { (f1($0) ?? -1) >= 0.2 || $0.customMetadata["team"] == .string("vision") }
                    .sorted { (-(f1($0) ?? -9), $0.modelID) < (-(f1($1) ?? -9), $1.modelID) }),
            Case(filter: "test_accuracy < 0.5", order: "test_accuracy asc",
                 expected: latest.filter { $0.testAccuracy! < 0.5 }.sorted { ($0.testAccuracy!, $0.modelID) < ($1.testAccuracy!, $1.modelID) }),
        ]
        for (index, test) in cases.enumerated() {
            for store in [catalog, small] {
                for limit in [1, 3, 7, 100] {
                    var query = ModelQuery(userID: "a", limit: limit)
                    query.filter = test.filter
                    query.orderBy = test.order
                    let walked = try walk(store, query)
                    // Ties in the key follow the row id: compare as sets where keys tie, as lists otherwise.
                    #expect(walked.rows.count == test.expected.count, "case \(index) limit \(limit)")
                    #expect(Set(walked.rows) == Set(test.expected.map { "\($0.modelID)@\($0.version)" }), "case \(index) limit \(limit)")
                    #expect(walked.totals == [test.expected.count], "case \(index) limit \(limit)")
                    if test.order == nil {
                        #expect(walked.rows == test.expected.map { "\($0.modelID)@\($0.version)" }, "case \(index) limit \(limit)")
                    }
                    // skip/limit pages agree with the cursor walk.
                    query.skip = 2
                    query.limit = 3
                    #expect(try store.search(query).records.map { "\($0.modelID)@\($0.version)" } == Array(walked.rows.dropFirst(2).prefix(3)),
                            "case \(index) skip")
                }
            }
        }
        // The same pages from the plain catalog and the 4-row window, in the same order.
        for order in ["metrics.f1 desc", "num_parameters asc", "created_at desc", "model_size_mb asc"] {
            var query = ModelQuery(userID: "a", limit: 5)
            query.filter = "tags = 'prod'"
            query.orderBy = order
            #expect(try walk(catalog, query).rows == walk(small, query).rows, "\(order)")
        }
    }

    @Test func latestFlagsAndModelCountsFollowEveryChange() throws {
        let (catalog, directory) = try makeCatalog()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        _ = try seed(catalog)
        func check() throws {
            try catalog.database.read { db in
                let wrong = try db.queryOne("""
                    SELECT COUNT(*) AS wrong FROM versions v WHERE v.latest != (v.id IS (
                        SELECT w.id FROM versions w WHERE w.user_id = v.user_id AND w.model_id = v.model_id AND w.state = 'ready'
                        ORDER BY w.major DESC, w.minor DESC, w.patch DESC LIMIT 1))
                    """)?.int("wrong")
                #expect(wrong == 0)
                let counts = try db.query("""
                    SELECT u.user_id, u.models, (SELECT COUNT(*) FROM versions v WHERE v.user_id = u.user_id AND v.latest = 1) AS actual
                    FROM model_counts u
                    """)
                #expect(!counts.isEmpty)
                for row in counts { #expect(row.int("models") == row.int("actual"), "\(row.string("user_id") ?? "")") }
            }
        }
        try check()
        // Delete the latest version of a model, then a whole model, then re-import one.
        for doomed in try catalog.beginDelete(user: "a", model: "m37", version: nil) { try catalog.finishDelete(id: doomed.id) }
        let latest = try #require(try catalog.record(user: "a", model: "m14", version: nil))
        for doomed in try catalog.beginDelete(user: "a", model: "m14", version: latest.version) { try catalog.finishDelete(id: doomed.id) }
        try check()
        var older = latest
        older.version = "v0.5"
        try catalog.importVersion(older)
        try catalog.importVersion(latest)
        try check()
        #expect(try catalog.search(ModelQuery(userID: "a")).records.first { $0.modelID == "m14" }?.version == latest.version)
        // A lower version uploaded later does not become the latest.
        var low = latest
        low.version = "v0.1"
        let pending = try catalog.insertPendingVersion(low, requestedVersion: "v0.1")
        _ = try catalog.commitVersion(pending, record: low)
        try check()
        #expect(try catalog.search(ModelQuery(userID: "a", limit: 1000)).total == 44)
    }

    @Test func oldCatalogsGetTheirSearchColumnsFromTheRecords() throws {
        let directory = FileManager.default.temporaryDirectory.path + "/catalog-migrate-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/catalog.sqlite3"
        // A catalog as migration 005 left it, with one version written the old way.
        do {
            let old = try SQLiteDatabase(path: path, migrator: SQLiteMigrator(Array(Schema.migrator.migrations.prefix(5))))
            var record = ModelVersionRecord(modelID: "old", userID: "u", name: "Old ResNet", version: "v1", framework: .pytorch,
                                            modelType: .computerVision, createdAt: "2025-01-01T00:00:00Z")
            record.testAccuracy = 0.91
            record.customMetadata = ["metrics": .object(["test": .object(["f1": .double(0.88)])]), "team": .string("vision")]
            let json = try Catalog.encode(record)
            try old.write { db in
                try db.run("""
                    INSERT INTO versions (user_id, model_id, version, major, minor, patch, state, name, framework, record, created_at, updated_at)
                    VALUES ('u', 'old', 'v1', 1, -1, -1, 'ready', 'Old ResNet', 'pytorch', ?, '2025-01-01T00:00:00Z', '2025-01-01T00:00:00Z')
                    """, [.text(json)])
                try db.run("""
                    INSERT INTO files (version_id, file_path, state, filename, file_size, file_type, file_hash, content_type, created_at)
                    VALUES (1, 'w.bin', 'ready', 'w.bin', 3145728, 'bin', '00', 'x', '2025-01-01T00:00:00Z')
                    """)
                // A hand upload with its own metrics (migration 007 makes metrics.f1 find them).
                var hand = ModelVersionRecord(modelID: "hand", userID: "u", name: "By hand", version: "v1", framework: .sklearn,
                                              modelType: .classification, createdAt: "2025-01-02T00:00:00.000Z")
                hand.customMetadata = ["metrics": .object(["f1": .double(0.95)])]
                try db.run("""
                    INSERT INTO versions (user_id, model_id, version, major, minor, patch, state, name, framework, record, created_at, updated_at)
                    VALUES ('u', 'hand', 'v1', 1, -1, -1, 'ready', 'By hand', 'sklearn', ?, '2025-01-01T23:59:59.000Z', '2025-01-02T00:00:00.000Z')
                    """, [.text(try Catalog.encode(hand))])
            }
        }
        let catalog = try Catalog(path: path)
        func models(_ filter: String) throws -> [String] {
            var query = ModelQuery(userID: "u")
            query.filter = filter
            return try catalog.search(query).records.map(\.modelID)
        }
        #expect(try models("metrics.f1 > 0.8 AND custom.team = 'vision' AND test_accuracy = 0.91 AND model_size_mb = 3") == ["old"])
        #expect(try models("metrics.f1 > 0.9") == ["hand"])
        // Migration 008: created_at is the record's, not the staging row's.
        #expect(try models("created_at >= '2025-01-02'") == ["hand"])
        let listing = try catalog.search(ModelQuery(userID: "u"))
        #expect(listing.total == 2)
        #expect(listing.records.map(\.name) == ["By hand", "Old ResNet"])
        var text = ModelQuery(userID: "u", text: "resnet")
        text.orderBy = "metrics.f1 desc"
        #expect(try catalog.search(text).hits.first?.snippet == "Old \u{1}ResNet\u{2}")
    }

    @Test func snippetsMarkWhatTheFullTextIndexMatched() {
        var record = ModelVersionRecord(modelID: "m", userID: "u", name: "Churn model", version: "v1", framework: .sklearn,
                                        modelType: .classification, createdAt: "2026-01-01T00:00:00Z")
        record.description = "Trained weekly on the billing export; flags customers likely to leave within thirty days, "
            + "using usage, tickets and invoices from the Café dataset."
        // The column matching the most query words wins; the window starts just before the first match.
        #expect(Snippet.make(text: "custom invoic", record: record)
                == "…export; flags \u{1}customers\u{2} likely to leave within thirty days, using usage, tickets and \u{1}invoices\u{2} from the…")
        #expect(Snippet.make(text: "CAFE", record: record)?.hasSuffix("and invoices from the \u{1}Café\u{2} dataset.") == true)
        #expect(Snippet.make(text: "churn", record: record) == "\u{1}Churn\u{2} model")
        #expect(Snippet.make(text: "zebra", record: record) == nil)
        #expect(Snippet.make(text: "--", record: record) == nil)
    }

    /// Index statistics of bench/search's 100,000-model catalog (`ANALYZE` with analysis_limit
    /// 1000), so that SQLite plans these small test catalogs as it plans the large one.
    static let benchStatistics: [(table: String, index: String, stat: String)] = [
        ("version_fields", "version_fields", "825282 5 1"),
        ("version_fields", "version_fields_by_number", "483894 1001 3"),
        ("version_fields", "version_fields_by_user", "501840 1001 401 2"),
        ("version_tags", "version_tags", "425592 3 1"),
        ("version_tags", "version_tags_by_tag", "493536 1001 1"),
        ("versions", "latest_by_created", "91476 286 1"),
        ("versions", "latest_by_framework", "94105 286 55 30 1 1 1 1 1 1"),
        ("versions", "latest_by_model", "101088 286 1 1 1 1 1 1 1 1 1 1 1 1"),
        ("versions", "latest_by_parameters", "107712 286 3"),
        ("versions", "latest_by_size", "61200 286 1"),
        ("versions", "latest_by_test_accuracy", "73476 286 2"),
        ("versions", "latest_by_training_accuracy", "65208 286 2"),
        ("versions", "latest_by_training_loss", "61320 286 3"),
        ("versions", "latest_by_updated", "91476 286 1"),
        ("versions", "latest_by_validation_accuracy", "29295 286 2"),
        ("versions", "sqlite_autoindex_versions_1", "164920 401 2 1"),
        ("versions", "versions_by_model", "166530 401 2 2 1 1 1"),
    ]

    /// The query plans of the statements a search runs, with 100k-model statistics loaded.
    func plans(_ catalog: Catalog, _ query: ModelQuery) throws -> [String] {
        catalog.searchTrace.withLock { $0 = [] }
        _ = try catalog.search(query)
        let statements = catalog.searchTrace.withLock { trace in defer { trace = nil }; return trace ?? [] }
        return try catalog.database.withWriter { db in
            try statements.map { statement in
                try db.query("EXPLAIN QUERY PLAN " + statement.sql, statement.bindings).compactMap { $0.string("detail") }
                    .joined(separator: " | ")
            }
        }
    }

    @Test func commonShapesUseTheirIndexes() throws {
        let (catalog, directory) = try makeCatalog()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        _ = try seed(catalog)
        try catalog.refreshStatistics()
        let ownStatistics = try plans(catalog, ModelQuery(userID: "a", text: "resnet", limit: 20).filtered("test_accuracy >= 0.7 AND tags != 'deprecated'"))
        #expect(ownStatistics.first?.hasPrefix("SCAN versions_fts VIRTUAL TABLE INDEX") == true, "\(ownStatistics)")
        try catalog.database.withWriter { db in
            try db.execute("DELETE FROM sqlite_stat1")
            for row in Self.benchStatistics {
                try db.run("INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES (?, ?, ?)", [.text(row.table), .text(row.index), .text(row.stat)])
            }
            try db.execute("ANALYZE sqlite_schema")
        }
        func query(text: String? = nil, filter: String? = nil, order: String? = nil, scope all: Bool = false,
                   limit: Int = 20) -> ModelQuery {
            var query = ModelQuery(userID: "a", text: text, limit: limit)
            query.filter = filter
            query.orderBy = order
            query.allUsers = all
            return query
        }
        // A plain listing streams from the covering index in model id order (no sort, no table).
        let listing = try plans(catalog, query())
        #expect(listing.count == 1)
        #expect(listing[0].hasPrefix("SEARCH v USING COVERING INDEX latest_by_model (user_id=?)"), "\(listing)")
        #expect(!listing[0].contains("TEMP B-TREE FOR ORDER BY"), "\(listing)")
        // Sorted by a column: its own index, no sort of all rows.
        let newest = try plans(catalog, query(order: "created_at desc"))
        #expect(newest[0].hasPrefix("SEARCH v USING INDEX latest_by_created (user_id=?"), "\(newest)")
        #expect(!newest[0].contains("TEMP B-TREE FOR ORDER BY"), "\(newest)")
        // Sorted by a metric: the user's metric values in order, then a lookup of each version.
        let metric = try plans(catalog, query(order: "metrics.f1 desc"))
        #expect(metric[0].hasPrefix("SEARCH k USING COVERING INDEX version_fields_by_user (user_id=? AND path=?"), "\(metric)")
        #expect(metric[0].contains("SEARCH v USING INTEGER PRIMARY KEY (rowid=?)"), "\(metric)")
        #expect(!metric[0].contains("TEMP B-TREE FOR ORDER BY"), "\(metric)")
        // A framework filter that matches often: the window walks latest_by_model, and the count
        // reads latest_by_framework alone. When it matches too rarely for the window, one pass
        // over the framework's latest versions collects the page.
        let framework = try plans(catalog, query(filter: "framework = 'pytorch'", limit: 3))
        #expect(framework.count == 2, "\(framework)")
        #expect(framework.first?.contains("SEARCH v USING COVERING INDEX latest_by_model (user_id=?)") == true, "\(framework)")
        #expect(framework.last == "SEARCH v USING COVERING INDEX latest_by_framework (user_id=? AND framework=?)", "\(framework)")
        let rare = try plans(catalog, query(filter: "framework = 'pytorch'", limit: 100))
        #expect(rare.count == 2 && rare[1] == "SEARCH v USING COVERING INDEX latest_by_framework (user_id=? AND framework=?)", "\(rare)")
        // A metric filter: one set from the (path, number) index.
        let f1 = try plans(catalog, query(filter: "metrics.f1 >= 0.5"))
        #expect(f1.allSatisfy { $0.contains("SEARCH f USING COVERING INDEX version_fields_by_number (path=? AND number>?)") }, "\(f1)")
        // Text: the FTS index first, joined to each hit's version, whatever the filter (with the
        // small catalog's own statistics, too: they once sent SQLite through the versions,
        // running the full-text match once per version).
        for filter in ["framework = 'pytorch'", "test_accuracy >= 0.7 AND tags != 'deprecated'"] {
            let text = try plans(catalog, query(text: "resnet", filter: filter))
            #expect(text.count == 1)
            #expect(text[0].hasPrefix("SCAN versions_fts VIRTUAL TABLE INDEX"), "\(text)")
            #expect(text[0].contains("SEARCH v USING INTEGER PRIMARY KEY (rowid=?)"), "\(text)")
        }
        // The admin across users: the latest versions of everyone, from the partial index.
        let everyone = try plans(catalog, query(filter: "test_accuracy > 0.5", scope: true))
        #expect(everyone.count == 1)
        #expect(everyone[0].contains("latest_by"), "\(everyone)")
    }
}

extension ModelQuery {
    func filtered(_ filter: String) -> ModelQuery {
        var query = self
        query.filter = filter
        return query
    }
}
