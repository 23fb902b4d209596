import WarehouseCore
import WarehouseSQLite


/// Aliases: named pointers to ready versions (one version per alias), with their history.
/// An alias is resolved wherever a version is accepted, written `@alias`. Every change hands
/// the model's new alias map to `publish` inside its transaction; a publisher that throws
/// rolls the change back. The service's publisher does no I/O there: it learns the map in a
/// dry run and checks it in the real one, and writes the bucket in between.
extension Catalog {
    public static let productionAlias = Aliases.production

    /// Receives a model's aliases after a change, inside the change's transaction (no I/O).
    public typealias AliasPublisher = ([String: String]) throws -> Void

    public func aliases(user: String, model: String) throws -> [String: String] {
        try database.read { db in try aliasMap(db, user: user, model: model) }
    }

    /// Newest first.
    public func aliasHistory(user: String, model: String, limit: Int = 100) throws -> [AliasEvent] {
        try database.read { db in
            try db.query("""
                SELECT alias, version, previous_version, action, reason, created_at FROM alias_history
                WHERE user_id = ? AND model_id = ? ORDER BY id DESC LIMIT ?
                """, [.text(user), .text(model), .init(limit)]).map(Self.aliasEvent)
        }
    }

    /// Points `alias` at a ready version; answers the version it pointed at before.
    @discardableResult
    public func setAlias(user: String, model: String, alias: String, version: String, action: String = "set",
                         reason: String = "", now: String, publish: AliasPublisher) throws -> String? {
        try database.write { db in
            _ = try readyVersionIDForAlias(db, user: user, model: model, version: version)
            let previous = try moveAlias(db, user: user, model: model, alias: alias, to: version, action: action, reason: reason, now: now)
            if previous != version { try publish(try aliasMap(db, user: user, model: model)) }
            return previous
        }
    }

    /// Removes an alias; answers the version it pointed at (nil: it was not set).
    public func removeAlias(user: String, model: String, alias: String, reason: String = "", now: String,
                            publish: AliasPublisher) throws -> String? {
        try database.write { db in
            let previous = try moveAlias(db, user: user, model: model, alias: alias, to: nil, action: "removed", reason: reason, now: now)
            if previous != nil { try publish(try aliasMap(db, user: user, model: model)) }
            return previous
        }
    }

    /// Moves `alias` to `version` when `decide`, given the current holder's record (nil when
    /// the alias is unset), says so; decided and written under the write lock, so concurrent
    /// promotions are judged one after the other.
    public func promote(user: String, model: String, version: String, alias: String = productionAlias, now: String,
                        publish: AliasPublisher, decide: (ModelVersionRecord?) throws -> (promote: Bool, reason: String))
        throws -> (promoted: Bool, reason: String, holder: ModelVersionRecord?) {
        try database.write { db in
            _ = try readyVersionIDForAlias(db, user: user, model: model, version: version)
            var holder: ModelVersionRecord?
            if let current = try db.queryOne("SELECT version FROM aliases WHERE user_id = ? AND model_id = ? AND alias = ?",
                                             [.text(user), .text(model), .text(alias)])?.string("version"),
               let id = try db.queryOne("SELECT id FROM versions WHERE user_id = ? AND model_id = ? AND version = ? AND state = 'ready'",
                                        [.text(user), .text(model), .text(current)])?.int("id") {
                holder = try loadRecord(db, id: Int64(id))
            }
            let (promote, reason) = try decide(holder)
            if promote {
                try moveAlias(db, user: user, model: model, alias: alias, to: version, action: "promoted", reason: reason, now: now)
                try publish(try aliasMap(db, user: user, model: model))
            }
            return (promote, reason, holder)
        }
    }

    /// Moves `alias` back to the version that held it before the current holder got it (skipping
    /// versions deleted since). 409 when there is no earlier holder.
    public func rollback(user: String, model: String, alias: String = productionAlias, reason: String, now: String,
                         publish: AliasPublisher) throws -> (from: String, to: String) {
        try database.write { db in
            guard let current = try db.queryOne("SELECT version FROM aliases WHERE user_id = ? AND model_id = ? AND alias = ?",
                                                [.text(user), .text(model), .text(alias)])?.string("version") else {
                throw WarehouseError.conflict("model '\(model)' has no '\(alias)' version to roll back")
            }
            // How a version became the holder: its latest move that was not itself a rollback.
            func previous(of version: String) throws -> String? {
                try db.queryOne("""
                    SELECT previous_version FROM alias_history
                    WHERE user_id = ? AND model_id = ? AND alias = ? AND version = ? AND action != 'rolled_back'
                    ORDER BY id DESC LIMIT 1
                    """, [.text(user), .text(model), .text(alias), .text(version)])?.string("previous_version")
            }
            var visited: Set<String> = [current]
            var candidate = try previous(of: current)
            while let version = candidate, try !isReady(db, user: user, model: model, version: version) {
                guard visited.insert(version).inserted else { candidate = nil; break }
                candidate = try previous(of: version)
            }
            guard let target = candidate, target != current else {
                throw WarehouseError.conflict("model '\(model)' has no earlier '\(alias)' version to roll back to (\(current) is the first)")
            }
            try moveAlias(db, user: user, model: model, alias: alias, to: target, action: "rolled_back", reason: reason, now: now)
            try publish(try aliasMap(db, user: user, model: model))
            return (current, target)
        }
    }

    // MARK: - Rows

    func aliasMap(_ db: SQLiteConnection, user: String, model: String) throws -> [String: String] {
        var aliases: [String: String] = [:]
        for row in try db.query("SELECT alias, version FROM aliases WHERE user_id = ? AND model_id = ?", [.text(user), .text(model)]) {
            aliases[row.string("alias")!] = row.string("version")!
        }
        return aliases
    }

    /// Writes the alias row and its history entry; answers the previous version.
    @discardableResult
    func moveAlias(_ db: SQLiteConnection, user: String, model: String, alias: String, to version: String?, action: String,
                   reason: String, now: String) throws -> String? {
        let previous = try db.queryOne("SELECT version FROM aliases WHERE user_id = ? AND model_id = ? AND alias = ?",
                                       [.text(user), .text(model), .text(alias)])?.string("version")
        if let version {
            if previous == version { return previous }
            try db.run("""
                INSERT INTO aliases (user_id, model_id, alias, version, updated_at) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (user_id, model_id, alias) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at
                """, [.text(user), .text(model), .text(alias), .text(version), .text(now)])
        } else {
            guard previous != nil else { return nil }
            try db.run("DELETE FROM aliases WHERE user_id = ? AND model_id = ? AND alias = ?", [.text(user), .text(model), .text(alias)])
        }
        try db.run("""
            INSERT INTO alias_history (user_id, model_id, alias, version, previous_version, action, reason, created_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """, [.text(user), .text(model), .text(alias), .init(version), .init(previous), .text(action), .text(reason), .text(now)])
        return previous
    }

    /// Aliases held by the given versions of a model.
    func aliasesHeld(_ db: SQLiteConnection, user: String, model: String, versions: [String]) throws -> [(alias: String, version: String)] {
        let wanted = Set(versions)
        return try db.query("SELECT alias, version FROM aliases WHERE user_id = ? AND model_id = ? ORDER BY alias",
                            [.text(user), .text(model)])
            .map { ($0.string("alias")!, $0.string("version")!) }
            .filter { wanted.contains($0.version) }
    }

    func isReady(_ db: SQLiteConnection, user: String, model: String, version: String) throws -> Bool {
        try db.queryOne("SELECT 1 AS found FROM versions WHERE user_id = ? AND model_id = ? AND version = ? AND state = 'ready'",
                        [.text(user), .text(model), .text(version)]) != nil
    }

    private func readyVersionIDForAlias(_ db: SQLiteConnection, user: String, model: String, version: String) throws -> Int64 {
        guard let row = try db.queryOne("SELECT id FROM versions WHERE user_id = ? AND model_id = ? AND version = ? AND state = 'ready'",
                                        [.text(user), .text(model), .text(version)]), let id = row.int("id") else {
            throw WarehouseError.notFound(Self.describe(model: model, version: version) + " not found")
        }
        return Int64(id)
    }

    static func aliasEvent(_ row: SQLiteRow) -> AliasEvent {
        AliasEvent(alias: row.string("alias")!, version: row.string("version"), previousVersion: row.string("previous_version"),
                   action: row.string("action")!, reason: row.string("reason") ?? "", createdAt: row.string("created_at")!)
    }
}
