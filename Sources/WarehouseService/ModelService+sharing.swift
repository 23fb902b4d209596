import Foundation
import WarehouseCatalog
import WarehouseCore
import WarehouseReplication

/// The model use cases when several replicas share one bucket: a version number is claimed by
/// creating its manifest with `If-None-Match: *`, a manifest or alias manifest is replaced only
/// over the ETag this replica read (`If-Match`), and every change is announced in the log.
/// With no shared bucket each of these is the single-replica behaviour.
extension ModelService {
    /// A pending row, and in a shared bucket the claim of its version: a requested version
    /// another replica holds is a 409; an unnumbered upload takes the next free number.
    func reserveVersion(_ draft: ModelVersionRecord, requestedVersion: String?) throws -> PendingVersion {
        var requested = requestedVersion
        for _ in 0..<64 {
            let pending: PendingVersion
            do {
                pending = try catalog.insertPendingVersion(draft, requestedVersion: requested)
            } catch WarehouseError.alreadyExists where requestedVersion == nil {
                // This replica learnt of the number meanwhile: try the one after it.
                requested = try Self.nextVersion(after: requested ?? "v0")
                continue
            }
            let key = ObjectKeys.manifest(user: draft.userID, model: draft.modelID, version: pending.version)
            let etag: String?
            do {
                etag = try replication.claim(key)
            } catch {
                try? catalog.abandonVersion(pending)
                throw error
            }
            if let etag {
                claims.withLock { $0[key] = etag }
                return pending
            }
            try? catalog.abandonVersion(pending)
            if requestedVersion != nil {
                throw WarehouseError.alreadyExists("version \(pending.version) of model '\(draft.modelID)' already exists (created on another replica)")
            }
            requested = try Self.nextVersion(after: pending.version)
        }
        throw WarehouseError.conflict("could not claim a version number of model '\(draft.modelID)': other replicas kept taking them; retry")
    }

    static func nextVersion(after version: String) throws -> String {
        "v\(try ModelVersionNumber.parse(version).parts.major + 1)"
    }

    /// Writes a version's manifest. In a shared bucket: over this replica's claim when the
    /// version is new, over `expected` (the ETag read by `syncVersion`) when it changes. The
    /// caller announces it once the catalog holds it too (`announceVersion`).
    func writeManifest(_ record: ModelVersionRecord, expected: String? = nil) throws {
        let key = ObjectKeys.manifest(user: record.userID, model: record.modelID, version: record.version)
        let data = try Manifest.encode(record)
        try replication.write(key, data: data, over: try expected ?? claimETag(key), createOnly: false)
        claims.withLock { _ = $0.removeValue(forKey: key) }
    }

    /// Whether this replica holds a claim object on `key` (a stub to remove if it gives up).
    func holdsClaimObject(_ key: String) -> Bool {
        claims.withLock { $0[key].map { !$0.isEmpty } ?? false }
    }

    /// Tells the other replicas that a version's manifest was written or removed.
    func announceVersion(user: String, model: String, version: String) {
        replication.announce(Change(.version, [user, model, version]))
    }

    /// The ETag of this replica's claim on `key`: remembered, or read back from the bucket
    /// (an upload session outlives the process that claimed its version).
    private func claimETag(_ key: String) throws -> String? {
        if let etag = claims.withLock({ $0[key] }) { return etag }
        guard let current = try store.getDataAndETag(key: key), let claimant = replication.claimant(of: current.bytes),
              replication.isSelf(claimant) else { return nil }
        return current.etag
    }

    /// Drops the memory of a claim whose version was abandoned (its manifest is deleted).
    func forgetClaim(user: String, model: String, version: String) {
        _ = claims.withLock { $0.removeValue(forKey: ObjectKeys.manifest(user: user, model: model, version: version)) }
    }

    /// Makes the catalog's copy of one version what the bucket holds; answers the manifest's
    /// ETag (nil: no manifest, or a claim).
    @discardableResult
    public func syncVersion(user: String, model: String, version: String) throws -> String? {
        let key = ObjectKeys.manifest(user: user, model: model, version: version)
        guard let current = try store.getDataAndETag(key: key) else {
            try catalog.forgetVersion(user: user, model: model, version: version)
            return nil
        }
        if ClaimStub.decodeIfClaim(current.bytes) != nil { return nil }
        let record = try Manifest.decode(current.bytes)
        guard ObjectKeys.manifest(user: record.userID, model: record.modelID, version: record.version) == key else {
            throw WarehouseError.storageUnavailable("\(key) names \(record.userID)/\(record.modelID) \(record.version)")
        }
        if let local = try catalog.record(user: user, model: model, version: version), try Manifest.encode(local) == current.bytes {
            return current.etag
        }
        try catalog.importVersion(record.withCommitSHA())
        return current.etag
    }

    /// Runs `body` (which rewrites the manifest of `version`) over the bucket's current copy,
    /// again when another replica changed it in between.
    func overSharedManifest<T>(user: String, model: String, version: String?, _ body: (_ expected: String?) throws -> T) throws -> T {
        let resolved = try version ?? record(user: user, model: model, version: nil).version
        return try replication.overCurrent("version \(resolved) of model '\(model)'", attempts: 5,
                                           read: { try syncVersion(user: user, model: model, version: resolved) }, body)
    }

    // MARK: - Aliases

    /// Makes the catalog's aliases of a model what the bucket holds; answers the alias
    /// manifest's ETag (nil: none).
    @discardableResult
    public func syncAliases(user: String, model: String) throws -> String? {
        let current = try store.getDataAndETag(key: ObjectKeys.aliasManifest(user: user, model: model))
        let aliases = try current.map { try JSONDecoder().decode(AliasManifest.self, from: Data($0.bytes)).aliases } ?? [:]
        if try catalog.aliases(user: user, model: model) != aliases {
            try catalog.replaceAliases(user: user, model: model, with: aliases, now: Timestamps.now())
        }
        return current?.etag
    }

    /// Runs an alias move (`body` hands the catalog the publisher it calls with the model's new
    /// alias map) so that the bucket is written outside the catalog's transaction and first:
    /// a dry run learns the map the move leads to (its transaction rolled back), the alias
    /// manifest is written (replicas: over the ETag read when the catalog was brought level,
    /// `If-None-Match: *` when the model had none), then the move runs for real and must lead to
    /// the same map. A lost race, or aliases that moved in between, start over. Moves of one
    /// model run one at a time on this replica.
    func movingAliases<T>(user: String, model: String, _ body: (Catalog.AliasPublisher) throws -> T) throws -> T {
        try modelLocks.serialized(user: user, model: model) {
            try movingAliasesHoldingLock(user: user, model: model, body)
        }
    }

    /// `movingAliases` for a caller that holds the model's lock already.
    func movingAliasesHoldingLock<T>(user: String, model: String, _ body: (Catalog.AliasPublisher) throws -> T) throws -> T {
        let key = ObjectKeys.aliasManifest(user: user, model: model)
        return try replication.overCurrent("the aliases of model '\(model)'", attempts: 8,
                                           read: { try syncAliases(user: user, model: model) }) { etag in
            let planned: [String: String]
            do {
                // Nothing to publish (the move changed no alias): what it did is all there is.
                return try body { aliases in throw PlannedAliases(aliases: aliases) }
            } catch let plan as PlannedAliases {
                planned = plan.aliases
            }
            if planned.isEmpty {
                try replication.remove(key, over: etag)
            } else {
                let data = try AliasManifest.encode(AliasManifest(userID: user, modelID: model, aliases: planned))
                try replication.write(key, data: data, over: etag, createOnly: true)
            }
            let result = try body { aliases in
                guard aliases == planned else {
                    throw ConditionalWriteLost(key: key, detail: "the aliases moved while the manifest was written")
                }
            }
            replication.announce(Change(.aliases, [user, model]))
            return result
        }
    }

    /// The alias map a dry run of a move leads to (thrown to roll its transaction back).
    struct PlannedAliases: Error {
        let aliases: [String: String]
    }

    /// Tells the other replicas that versions were deleted.
    func announceDeleted(user: String, model: String, versions: [String]) {
        for version in versions { replication.announce(Change(.version, [user, model, version])) }
    }

    /// Version prefixes other live replicas have claimed and not committed (their uploads in
    /// flight). Empty without a shared bucket.
    func claimedElsewhere() throws -> [String] {
        let live = try replication.otherLiveReplicas()
        guard !live.isEmpty else { return [] }
        return try store.list(prefix: ObjectKeys.versionManifests).filter { $0.size < 512 }.compactMap { object in
            guard case .versionManifest(let user, let model, let version)? = ObjectKeys.parse(object.key),
                  let bytes = try store.getDataAndETag(key: object.key)?.bytes, let claimant = replication.claimant(of: bytes),
                  live.contains(claimant) else { return nil }
            return ObjectKeys.versionPrefix(user: user, model: model, version: version)
        }
    }
}
