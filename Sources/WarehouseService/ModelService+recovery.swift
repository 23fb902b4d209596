import Foundation
import WarehouseCatalog
import WarehouseCore

extension ModelService {
    /// Startup recovery: finishes what an interrupted process left. Uncommitted versions and
    /// files lose their objects (and any manifest written just before the crash); versions
    /// caught mid-delete are deleted; spool files are removed. Returns what it did, for the log.
    @discardableResult
    public func recover(spoolDirectory: String?) throws -> [String] {
        var actions: [String] = []
        for leftover in try catalog.leftovers() {
            switch leftover.kind {
            case .pendingVersion:
                // Its transaction never committed (its manifest may have been written just
                // before the crash, and other replicas may have seen it): abandoned whole.
                try resumeVersion(user: leftover.user, model: leftover.model,
                                  pending: PendingVersion(id: leftover.versionID, version: leftover.version)).abandon()
                actions.append("removed uncommitted version \(leftover.version) of \(leftover.user)/\(leftover.model)")
            case .deletingVersion:
                try removeObjects(user: leftover.user, model: leftover.model, version: leftover.version)
                try catalog.forget(leftover)
                announceDeleted(user: leftover.user, model: leftover.model, versions: [leftover.version])
                actions.append("finished deleting version \(leftover.version) of \(leftover.user)/\(leftover.model)")
            case .pendingFile:
                let path = leftover.filePath ?? ""
                try store.delete(key: ObjectKeys.file(user: leftover.user, model: leftover.model, version: leftover.version, path: path))
                try catalog.forget(leftover)
                // The manifest may have been rewritten to list the file just before the crash.
                if let record = try catalog.record(user: leftover.user, model: leftover.model, version: leftover.version) {
                    try writeManifest(record)
                    announceVersion(user: leftover.user, model: leftover.model, version: leftover.version)
                }
                actions.append("removed uncommitted file \(path) of \(leftover.user)/\(leftover.model) \(leftover.version)")
            }
        }
        // Versions written before commit ids existed get theirs (in the catalog; a reindex
        // computes the same from their manifests).
        let unstamped = try catalog.recordsWithoutCommit()
        for record in unstamped { _ = try catalog.replace(record.withCommitSHA()) }
        if !unstamped.isEmpty { actions.append("gave \(unstamped.count) versions their commit ids") }
        if let spoolDirectory, let names = try? FileManager.default.contentsOfDirectory(atPath: spoolDirectory) {
            for name in names {
                try? FileManager.default.removeItem(atPath: spoolDirectory + "/" + name)
            }
            if !names.isEmpty { actions.append("removed \(names.count) spool file(s) from \(spoolDirectory)") }
        }
        return actions
    }
}
