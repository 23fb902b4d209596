import Foundation
import WarehouseCatalog
import WarehouseCore
import WarehouseReplication
import WarehouseCrypto

/// Maintenance: rebuild the catalog from the bucket, collect garbage, check every stored byte.
extension ModelService {
    public struct ReindexReport: Sendable, Equatable {
        public var imported: [String] = []
        /// Aliases restored from `manifests/aliases/`.
        public var aliases: [String] = []
        public var unreadable: [String] = []
    }

    /// Reads every manifest under `manifests/models/` and puts its version into the catalog,
    /// then the aliases under `manifests/aliases/` that point at versions it has.
    public func reindex() throws -> ReindexReport {
        var report = ReindexReport()
        var batch: [ModelVersionRecord] = []
        func importBatch() throws {
            try catalog.importVersions(batch.map { $0.withCommitSHA() })
            report.imported += batch.map { "\($0.userID)/\($0.modelID) \($0.version)" }
            batch.removeAll(keepingCapacity: true)
        }
        for object in try store.list(prefix: ObjectKeys.versionManifests) where object.key.hasSuffix(".json") {
            do {
                let bytes = try store.getData(key: object.key)
                if case .modelManifest? = ObjectKeys.parse(object.key) {
                    if let registered = try importRegisteredModel(bytes, key: object.key) {
                        report.imported.append("\(registered.userID)/\(registered.modelID) (no version yet)")
                    } else {
                        report.unreadable.append("\(object.key): it names another model")
                    }
                    continue
                }
                // A version being uploaded on some replica: not a record yet.
                if replication.claimant(of: bytes) != nil { continue }
                let record = try Manifest.decode(bytes)
                guard ObjectKeys.manifest(user: record.userID, model: record.modelID, version: record.version) == object.key else {
                    report.unreadable.append("\(object.key): its record names \(record.userID)/\(record.modelID) \(record.version)")
                    continue
                }
                _ = try ModelVersionNumber.parse(record.version)
                batch.append(record)
                if batch.count == 256 { try importBatch() }
            } catch let error as WarehouseError {
                throw error
            } catch {
                report.unreadable.append("\(object.key): \(error)")
            }
        }
        try importBatch()
        // Then the aliases, for the versions that came back.
        for object in try store.list(prefix: ObjectKeys.aliasManifests) where object.key.hasSuffix(".json") {
            do {
                let manifest = try JSONDecoder().decode(AliasManifest.self, from: Data(try store.getData(key: object.key)))
                guard ObjectKeys.aliasManifest(user: manifest.userID, model: manifest.modelID) == object.key else {
                    report.unreadable.append("\(object.key): it names \(manifest.userID)/\(manifest.modelID)")
                    continue
                }
                for (alias, version) in manifest.aliases.sorted(by: { $0.key < $1.key }) {
                    try catalog.setAlias(user: manifest.userID, model: manifest.modelID, alias: alias, version: version,
                                         action: "restored", reason: "reindex", now: Timestamps.now(), publish: { _ in })
                    report.aliases.append("\(manifest.userID)/\(manifest.modelID) @\(alias) → \(version)")
                }
            } catch WarehouseError.notFound(let detail) {
                report.unreadable.append("\(object.key): \(detail)")
            } catch let error as WarehouseError {
                throw error
            } catch {
                report.unreadable.append("\(object.key): \(error)")
            }
        }
        try catalog.refreshStatistics()
        return report
    }

    public struct GarbageReport: Sendable, Equatable {
        /// Manifests of versions the catalog does not know.
        public var orphanManifests: [String] = []
        /// Objects no remaining manifest references.
        public var orphanObjects: [String] = []
        /// Upload sessions past their time, and parted uploads (S3 multipart uploads, local
        /// upload files) that no open session or running upload owns.
        public var expiredSessions: [String] = []
        public var abandonedUploads: [String] = []
        /// Change log entries past their retention (replicas sharing the bucket).
        public var compactedChanges = 0
        public var removed = false
    }

    /// Finds (and unless `dryRun`, removes) manifests the catalog lacks and objects that no
    /// remaining manifest references. Objects of versions still being uploaded are left alone.
    /// After losing the catalog, run `reindex` first: to gc, an unknown manifest is garbage.
    public func collectGarbage(dryRun: Bool) throws -> GarbageReport {
        var report = GarbageReport()
        let known = try catalog.allVersions()
        let readyManifests = Set(known.filter { $0.state == "ready" }.map {
            ObjectKeys.manifest(user: $0.user, model: $0.model, version: $0.version)
        })
        let unfinished = known.filter { $0.state != "ready" }
        let inFlightManifests = Set(unfinished.map { ObjectKeys.manifest(user: $0.user, model: $0.model, version: $0.version) })
        var inFlight = unfinished.map { ObjectKeys.versionPrefix(user: $0.user, model: $0.model, version: $0.version) }
        var referenced = Set<String>()
        // Objects first: one stored after this listing belongs to a manifest or claim that the
        // manifest listing below sees (a version is claimed before its files are stored).
        let objects = try store.list(prefix: ObjectKeys.models)
        let live = try replication.liveReplicaIDs()
        let registered = Set(try catalog.registeredModels(user: nil).map { ObjectKeys.modelManifest(user: $0.userID, model: $0.modelID) })
        for object in try store.list(prefix: ObjectKeys.versionManifests) {
            if case .modelManifest? = ObjectKeys.parse(object.key) {
                // A model created before its versions: no files of its own.
                if !registered.contains(object.key) && !replication.othersCommit { report.orphanManifests.append(object.key) }
                continue
            }
            var bytes: [UInt8]?
            if !readyManifests.contains(object.key) {
                // A version being committed or deleted right now owns its manifest.
                if inFlightManifests.contains(object.key) { continue }
                guard replication.othersCommit, let read = try store.getDataAndETag(key: object.key)?.bytes else {
                    report.orphanManifests.append(object.key)
                    continue
                }
                // Shared: another replica's claim while it lives, or a version it committed
                // after this catalog last followed (kept, and its files with it).
                if let claimant = replication.claimant(of: read) {
                    if live.contains(claimant),
                       case .versionManifest(let user, let model, let version)? = ObjectKeys.parse(object.key) {
                        inFlight.append(ObjectKeys.versionPrefix(user: user, model: model, version: version))
                    } else {
                        report.orphanManifests.append(object.key)
                    }
                    continue
                }
                bytes = read
            }
            let record = try Manifest.decode(try bytes ?? store.getData(key: object.key))
            for file in record.files {
                referenced.insert(ObjectKeys.file(user: record.userID, model: record.modelID, version: record.version, path: file.filePath))
            }
        }
        for object in objects where !referenced.contains(object.key) {
            guard !inFlight.contains(where: { object.key.hasPrefix($0) }) else { continue }
            report.orphanObjects.append(object.key)
        }
        if !dryRun {
            try store.delete(keys: report.orphanManifests + report.orphanObjects)
            report.removed = true
        }
        return report
    }

    public struct Mismatch: Sendable, Equatable, CustomStringConvertible {
        public let key: String
        public let problem: String
        public var description: String { "\(key): \(problem)" }
    }

    /// Reads every stored file of every ready version and compares its size and SHA-256 with
    /// the catalog. Answers each mismatch (missing, wrong size, wrong hash) and the file count.
    public func fsck() throws -> (mismatches: [Mismatch], checked: Int) {
        var mismatches: [Mismatch] = []
        var checked = 0
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        for record in try catalog.allReadyRecords() {
            for file in record.files {
                checked += 1
                let key = ObjectKeys.file(user: record.userID, model: record.modelID, version: record.version, path: file.filePath)
                guard let info = try store.head(key: key) else {
                    mismatches.append(Mismatch(key: key, problem: "missing from storage"))
                    continue
                }
                guard info.size == file.fileSize else {
                    mismatches.append(Mismatch(key: key, problem: "size \(info.size) bytes, catalog says \(file.fileSize)"))
                    continue
                }
                let reader = try store.open(key: key, range: nil)
                defer { reader.close() }
                let hasher = SHA256()
                while true {
                    let count = try reader.read(into: buffer)
                    if count == 0 { break }
                    hasher.update(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
                }
                let hash = Hex.encode(hasher.finalize())
                if hash != file.fileHash {
                    mismatches.append(Mismatch(key: key, problem: "SHA-256 \(hash), catalog says \(file.fileHash)"))
                }
            }
        }
        return (mismatches, checked)
    }
}
