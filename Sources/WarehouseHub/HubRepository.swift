import WarehouseCore
import WarehouseCrypto
import WarehouseService

/// A Hub repo: `{user_id}/{model_id}`.
struct HubRepo: Sendable, CustomStringConvertible {
    let user: String
    let model: String
    var description: String { "\(user)/\(model)" }
}

/// What a revision names: a version (nil for a repo created without one yet), and the commit
/// id clients pin to.
struct ResolvedRevision {
    let record: ModelVersionRecord?
    let sha: String
}

/// Revisions as the Hub's clients write them, over the warehouse's versions: `main` is the
/// latest version, `vN` that version (a tag), an alias the version it points at (a branch), a
/// commit id (or a unique prefix of 7+ hex digits) the version that has it. `refs/heads/` and
/// `refs/tags/` prefixes are accepted.
struct HubRevisions {
    let models: ModelService

    /// Answers the repo's revision, after checking the caller may read the repo (another
    /// user's repo answers exactly as a missing one).
    func resolve(_ repo: HubRepo, _ revision: String, principal: Principal) throws -> ResolvedRevision {
        try requireReadable(repo, principal: principal)
        let name = Self.shortName(revision)
        if name == "main" {
            if let latest = try models.catalog.record(user: repo.user, model: repo.model, version: nil) {
                return ResolvedRevision(record: latest, sha: Self.sha(of: latest))
            }
            return ResolvedRevision(record: nil, sha: VersionCommit.empty(user: repo.user, model: repo.model))
        }
        if ModelVersionNumber(name) != nil {
            guard let record = try models.catalog.record(user: repo.user, model: repo.model, version: name) else {
                throw HubError.revisionNotFound(revision, repo: repo.description)
            }
            return ResolvedRevision(record: record, sha: Self.sha(of: record))
        }
        if (7...40).contains(name.utf8.count), name.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }) {
            if let version = try models.catalog.version(user: repo.user, model: repo.model, commit: name),
               let record = try models.catalog.record(user: repo.user, model: repo.model, version: version) {
                return ResolvedRevision(record: record, sha: Self.sha(of: record))
            }
            let empty = VersionCommit.empty(user: repo.user, model: repo.model)
            if empty.hasPrefix(name), try models.catalog.record(user: repo.user, model: repo.model, version: nil) == nil {
                return ResolvedRevision(record: nil, sha: empty)
            }
            throw HubError.revisionNotFound(revision, repo: repo.description)
        }
        if Identifiers.isValidName(name),
           let record = try models.catalog.record(user: repo.user, model: repo.model, version: "@" + name) {
            return ResolvedRevision(record: record, sha: Self.sha(of: record))
        }
        throw HubError.revisionNotFound(revision, repo: repo.description)
    }

    /// 404 (401 without a token) unless the repo exists and the caller may read it.
    func requireReadable(_ repo: HubRepo, principal: Principal?) throws {
        guard let principal, (try? principal.authorize(user: repo.user)) != nil,
              try models.modelExists(user: repo.user, model: repo.model) else {
            throw HubError.repoNotFound(repo.description, anonymous: principal == nil)
        }
    }

    /// `refs/heads/main` → `main`, `refs/tags/v2` → `v2`.
    static func shortName(_ revision: String) -> String {
        for prefix in ["refs/heads/", "refs/tags/"] where revision.hasPrefix(prefix) {
            return String(revision.dropFirst(prefix.count))
        }
        return revision
    }

    /// The commit id of a version (computed for a record from before commit ids, which the
    /// next start-up stores).
    static func sha(of record: ModelVersionRecord) -> String {
        record.commitSHA ?? VersionCommit.sha(of: record)
    }
}

/// How a file looks to a Hub client: every file is shown as a Git LFS object (its SHA-256 is
/// what the warehouse keeps), so the tree's `oid` is the id of its LFS pointer.
enum HubFileIdentity {
    static func pointer(_ file: ModelFile) -> String {
        "version https://git-lfs.github.com/spec/v1\noid sha256:\(file.fileHash)\nsize \(file.fileSize)\n"
    }

    /// The git blob id of the file's LFS pointer.
    static func oid(_ file: ModelFile) -> String {
        let pointer = Array(pointer(file).utf8)
        return SHA1.hex(of: Array("blob \(pointer.count)\u{0}".utf8) + pointer)
    }

    static func pointerSize(_ file: ModelFile) -> Int { pointer(file).utf8.count }

    /// The git blob id of a file's bytes (what a client compares a small file against).
    static func gitBlobID(size: UInt64, read: (UnsafeMutableRawBufferPointer) throws -> Int) throws -> String {
        let hasher = SHA1()
        hasher.update(Array("blob \(size)\u{0}".utf8))
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let count = try read(buffer)
            if count == 0 { break }
            hasher.update(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
        }
        return Hex.encode(hasher.finalize())
    }

    /// A folder's id: stable for the same files under it at the same commit.
    static func folderOID(path: String, commit: String) -> String {
        SHA1.hex(of: Array("tree \(commit) \(path)".utf8))
    }
}
