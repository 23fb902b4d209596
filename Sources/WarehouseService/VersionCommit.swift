import WarehouseCore
import WarehouseCrypto

/// A version's commit id for git-shaped clients: SHA-1 over the repo, the version and its
/// files (path, SHA-256, size), so two versions never share one and a version whose files
/// change gets a new one (clients cache by commit id forever).
public enum VersionCommit {
    public static func sha(of record: ModelVersionRecord) -> String {
        var canonical = "registry-commit/1\n\(record.userID)/\(record.modelID)\n\(record.version)\n"
        for file in record.files.sorted(by: { $0.filePath < $1.filePath }) {
            canonical += "\(file.filePath)\u{0}\(file.fileHash)\u{0}\(file.fileSize)\n"
        }
        return SHA1.hex(of: Array(canonical.utf8))
    }

    /// The commit id of a repo that has no version yet (`create_repo` before any upload).
    public static func empty(user: String, model: String) -> String {
        SHA1.hex(of: Array("registry-commit/1\n\(user)/\(model)\nv0\n".utf8))
    }

    /// Whether `text` is written like a full commit id (what clients pin to).
    public static func isFullSHA(_ text: String) -> Bool {
        text.utf8.count == 40 && text.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }
}

extension ModelVersionRecord {
    /// Sets `commitSHA` from the files as they are now.
    mutating func stampCommit() {
        commitSHA = VersionCommit.sha(of: self)
    }

    /// The record with its commit id, computed only when a manifest older than commit ids
    /// lacks it (a stored id is kept, whatever computes ids later).
    func withCommitSHA() -> ModelVersionRecord {
        guard commitSHA == nil else { return self }
        var record = self
        record.stampCommit()
        return record
    }
}
