import Foundation
import WarehouseCore
import WarehouseSQLite

/// Listing and search: each model's latest version (or every version) matched against the
/// full-text query and the filters, in the requested order, one page at a time.
///
/// Three plans, chosen from measurements at 100,000 models (bench/search):
/// - nothing to match (a plain listing in any order): the page streams from the index of the
///   sort key and stops after `limit` rows; the total is kept in `model_counts`;
/// - filters that match often: the same walk, over a bounded window, with the filters applied;
/// - text, or filters that match rarely: one pass collects the matches with their sort keys,
///   counts them, and only the page is picked out of them here.
extension Catalog {
    public func search(_ query: ModelQuery) throws -> SearchResults {
        var base = [query.allVersions ? "v.state = 'ready'" : "v.latest = 1"]
        var baseBindings: [SQLiteValue] = []
        if !query.allUsers {
            base.append("v.user_id = ?")
            baseBindings.append(.text(query.userID))
        }
        let (conditions, conditionBindings) = try Self.conditions(query)
        let match = query.text.flatMap(FullTextQuery.make(from:))
        let order = try SearchOrder.parse(query.orderBy, hasText: match != nil)
        let position = try query.cursor.map { try order.position(of: $0) }

        return try database.read { db in
            let rows: [SearchOrder.Position]
            let total: Int
            let streamable = match == nil && !query.allUsers && (query.skip == 0 || !order.nullable)
            if streamable, conditions.isEmpty {
                (rows, total) = try streamedPage(db, query: query, order: order, position: position,
                                                 base: base, baseBindings: baseBindings)
            } else if streamable, let page = try windowedPage(db, query: query, order: order, position: position, base: base,
                                                              baseBindings: baseBindings, conditions: conditions,
                                                              conditionBindings: conditionBindings) {
                (rows, total) = page
            } else {
                (rows, total) = try collectedPage(db, query: query, order: order, position: position, match: match,
                                                  base: base + conditions, baseBindings: baseBindings + conditionBindings)
            }
            let hits = try self.records(db, ids: rows.map(\.id)).map { row in
                SearchHit(record: row.record, snippet: match == nil ? nil : query.text.flatMap { Snippet.make(text: $0, record: row.record) },
                          revision: row.revision)
            }
            let next = rows.count == query.limit ? rows.last.map(order.cursor(for:)) : nil
            return SearchResults(hits: hits, total: total, nextCursor: next)
        }
    }

    /// The query's filters (the typed parameters and `filter=`) as conditions over `versions v`.
    private static func conditions(_ query: ModelQuery) throws -> ([String], [SQLiteValue]) {
        var conditions: [String] = []
        var bindings: [SQLiteValue] = []
        if let framework = query.framework {
            conditions.append("v.framework = ?")
            bindings.append(.text(framework.rawValue))
        }
        if let modelType = query.modelType {
            conditions.append("v.model_type = ?")
            bindings.append(.text(modelType.rawValue))
        }
        if let format = query.format {
            conditions.append("(' ' || v.formats || ' ') LIKE ('% ' || ? || ' %')")
            bindings.append(.text(format))
        }
        if let minimum = query.minParameters {
            conditions.append("v.num_parameters >= ?")
            bindings.append(.integer(minimum))
        }
        if let maximum = query.maxParameters {
            conditions.append("v.num_parameters <= ?")
            bindings.append(.integer(maximum))
        }
        for tag in query.tags {
            conditions.append("EXISTS (SELECT 1 FROM version_tags t WHERE t.version_id = v.id AND t.tag = ?)")
            bindings.append(.text(tag))
        }
        if let filter = query.filter {
            let expression = try FilterExpression.parse(filter)
            conditions.append("(" + expression.sql + ")")
            bindings += expression.bindings
        }
        return (conditions, bindings)
    }

    /// The rows that have a sort key, in key order after `position`, straight from the key's
    /// index: `select` over them, at most `limit` (a bound parameter) from `offset`.
    private static func keyedRows(select: String, query: ModelQuery, order: SearchOrder, position: SearchOrder.Position?,
                                  base: [String], baseBindings: [SQLiteValue]) -> (sql: String, bindings: [SQLiteValue]) {
        var from = "versions v" + (order.join.map { " " + $0 } ?? "")
        var conditions = base + ["\(order.key) IS NOT NULL"]
        var bindings = order.joinBindings + baseBindings
        if order.join != nil {
            // A custom_metadata field walks the user's values in order (CROSS JOIN keeps SQLite
            // from starting at the versions and sorting them all: 300 ms → 0.3 ms at 100k models).
            from = "version_fields k CROSS JOIN versions v ON v.id = k.version_id"
            conditions = ["k.user_id = ?", "k.path = ?"] + conditions
            bindings = [.text(query.userID)] + order.joinBindings + baseBindings
        }
        if let position {
            let after = order.after(position, key: order.key, id: "v.id", keyPresent: true)
            conditions.append(after.sql)
            bindings += after.bindings
        }
        return ("""
            SELECT \(select) FROM \(from) WHERE \(conditions.joined(separator: " AND "))
            ORDER BY \(order.key) \(order.direction), v.id LIMIT ? OFFSET ?
            """, bindings)
    }

    /// A page read in key order straight from an index: rows with a key first, then (for keys
    /// some rows lack) the rest by model id.
    private func streamedPage(_ db: SQLiteConnection, query: ModelQuery, order: SearchOrder, position: SearchOrder.Position?,
                              base: [String], baseBindings: [SQLiteValue]) throws -> ([SearchOrder.Position], Int) {
        let columns = "v.id AS id, \(order.key) AS sort_key"
        var rows: [SearchOrder.Position] = []
        if position?.key != .null {
            let keyed = Self.keyedRows(select: columns, query: query, order: order, position: position, base: base,
                                       baseBindings: baseBindings)
            rows = try self.positions(db, keyed.sql, keyed.bindings + [.init(query.limit), .init(position == nil ? query.skip : 0)])
        }
        if order.nullable, rows.count < query.limit {
            var conditions = base + ["\(order.key) IS NULL"]
            var bindings = order.joinBindings + baseBindings
            if let position, position.key == .null {
                let after = order.after(position, key: order.key, id: "v.id")
                conditions.append(after.sql)
                bindings += after.bindings
            }
            rows += try self.positions(db, """
                SELECT \(columns) FROM versions v \(order.join ?? "") WHERE \(conditions.joined(separator: " AND "))
                ORDER BY v.id LIMIT ?
                """, bindings + [.init(query.limit - rows.count)])
        }
        let total = query.allVersions
            ? try count(db, "SELECT COUNT(*) AS total FROM versions v WHERE \(base.joined(separator: " AND "))", baseBindings)
            : try db.queryOne("SELECT models FROM model_counts WHERE user_id = ?", [.text(query.userID)])?.int("models") ?? 0
        return (rows, total)
    }

    private func count(_ db: SQLiteConnection, _ sql: String, _ bindings: [SQLiteValue]) throws -> Int {
        searchTrace.withLock { $0?.append((sql, bindings)) }
        return try db.queryOne(sql, bindings)?.int("total") ?? 0
    }

    /// Rows of (id, sort key), read without building a row object each (a filter can match
    /// tens of thousands).
    private func positions(_ db: SQLiteConnection, _ sql: String, _ bindings: [SQLiteValue]) throws -> [SearchOrder.Position] {
        searchTrace.withLock { $0?.append((sql, bindings)) }
        var positions: [SearchOrder.Position] = []
        try db.forEachRow(sql, bindings) { columns in
            positions.append(SearchOrder.Position(key: columns.value(1), id: columns.int64(0)))
        }
        return positions
    }

    /// A filtered listing that matches often: the filters run over the first `filterWindow`
    /// rows in key order (2,000 by default: about 5 ms at 100,000 models, as the filters need a
    /// table lookup per row) (the streamed plan's walk) and the page is taken from those. Nil when
    /// the window holds too few matches (the caller then collects every match), so a selective
    /// filter costs one wasted window, and an unselective one never sorts all its matches.
    /// The total is a count of its own, answered mostly from the covering index.
    private func windowedPage(_ db: SQLiteConnection, query: ModelQuery, order: SearchOrder, position: SearchOrder.Position?,
                              base: [String], baseBindings: [SQLiteValue], conditions: [String],
                              conditionBindings: [SQLiteValue]) throws -> ([SearchOrder.Position], Int)? {
        let wanted = (position == nil ? query.skip : 0) + query.limit
        guard wanted <= filterWindow / 4, position?.key != .null else { return nil }
        let keyed = Self.keyedRows(select: "v.id", query: query, order: order, position: position, base: base,
                                   baseBindings: baseBindings)
        let matches = try self.positions(db, """
            SELECT v.id AS id, \(order.key) AS sort_key FROM versions v \(order.join ?? "")
            WHERE v.id IN (\(keyed.sql)) AND \(conditions.joined(separator: " AND "))
            """, order.joinBindings + keyed.bindings + [.init(filterWindow), .init(0)] + conditionBindings)
        guard matches.count >= wanted else { return nil }
        let page = Self.smallest(wanted, of: matches[...], by: order.precedes).dropFirst(wanted - query.limit)
        let total = try count(db, "SELECT COUNT(*) AS total FROM versions v WHERE \((base + conditions).joined(separator: " AND "))",
                              baseBindings + conditionBindings)
        return (Array(page), total)
    }

    /// A page picked from every match: one pass reads each match's sort key and counts them,
    /// and only the page's rows are ordered here (SQLite's window count and full sort cost
    /// twice as much at 14,000 matches).
    private func collectedPage(_ db: SQLiteConnection, query: ModelQuery, order: SearchOrder, position: SearchOrder.Position?,
                               match: String?, base: [String], baseBindings: [SQLiteValue]) throws -> ([SearchOrder.Position], Int) {
        // The text match joins the FTS index straight to the versions: bm25() is then computed
        // only for rows that pass the filters (a materialized ranking of every hit took 3x longer).
        // CROSS JOIN keeps the FTS index outside: with some statistics SQLite would otherwise walk
        // the versions and run the full-text match once per version (370 ms at 10,000 versions).
        var from = match == nil ? "versions v" : "versions_fts CROSS JOIN versions v ON v.id = versions_fts.rowid"
        if let join = order.join { from += " " + join }
        let conditions = (match == nil ? [] : ["versions_fts MATCH ?"]) + base
        let bindings = order.joinBindings + (match.map { [SQLiteValue.text($0)] } ?? []) + baseBindings
        let matches = try self.positions(db, """
            SELECT v.id AS id, \(order.key) AS sort_key FROM \(from) WHERE \(conditions.joined(separator: " AND "))
            """, bindings)
        var remaining = matches[...]
        if let position {
            remaining = matches.filter { order.precedes(position, $0) }[...]
        }
        let wanted = (position == nil ? query.skip : 0) + query.limit
        let page = remaining.count <= wanted ? remaining.sorted(by: order.precedes) : Self.smallest(wanted, of: remaining, by: order.precedes)
        return (Array(page.dropFirst(position == nil ? query.skip : 0).prefix(query.limit)), matches.count)
    }

    /// The `count` first rows in order, without sorting them all.
    private static func smallest(_ count: Int, of rows: ArraySlice<SearchOrder.Position>,
                                 by precedes: (SearchOrder.Position, SearchOrder.Position) -> Bool) -> [SearchOrder.Position] {
        var kept = rows.prefix(count).sorted(by: precedes)
        for row in rows.dropFirst(count) where precedes(row, kept[kept.count - 1]) {
            // Binary-search the slot; `kept` stays sorted and `count` long.
            var low = 0, high = kept.count - 1
            while low < high {
                let middle = (low + high) / 2
                if precedes(row, kept[middle]) { high = middle } else { low = middle + 1 }
            }
            kept.removeLast()
            kept.insert(row, at: low)
        }
        return kept
    }

    /// The records of a page, in order: decoded ones are reused while their revision holds
    /// (decoding one costs about 150 µs), and the aliases are read for all in one query.
    private func records(_ db: SQLiteConnection, ids: [Int64]) throws -> [(id: Int64, revision: Int64, record: ModelVersionRecord)] {
        guard !ids.isEmpty else { return [] }
        let list = Array(repeating: "?", count: ids.count).joined(separator: ", ")
        var revisions: [Int64: Int64] = [:]
        try db.forEachRow("SELECT id, revision FROM versions WHERE id IN (\(list))", ids.map { .integer($0) }) { columns in
            revisions[columns.int64(0)] = columns.int64(1)
        }
        var aliases: [Int64: [String]] = [:]
        try db.forEachRow("""
            SELECT v.id, a.alias FROM versions v JOIN aliases a
              ON a.user_id = v.user_id AND a.model_id = v.model_id AND a.version = v.version
            WHERE v.id IN (\(list)) ORDER BY a.alias
            """, ids.map { .integer($0) }) { columns in
            if case .text(let alias) = columns.value(1) { aliases[columns.int64(0), default: []].append(alias) }
        }
        var records: [(id: Int64, revision: Int64, record: ModelVersionRecord)] = []
        for id in ids {
            guard let revision = revisions[id] else { continue }
            var record: ModelVersionRecord
            if let cached = recentRecords.withLock({ $0[id] }), cached.revision == revision {
                record = cached.record
            } else {
                guard let loaded = try loadRecord(db, id: id) else { continue }
                record = loaded
                recentRecords.withLock { cache in
                    if cache.count >= Self.recentRecordCapacity { cache.removeAll(keepingCapacity: true) }
                    cache[id] = (revision, loaded)
                }
            }
            record.aliases = aliases[id] ?? []
            record.isProductionReady = record.aliases.contains(Self.productionAlias)
            records.append((id, revision, record))
        }
        return records
    }
}
