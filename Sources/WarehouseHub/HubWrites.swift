import Foundation
import WarehouseAPI
import WarehouseCore
import WarehouseHTTPServer
import WarehouseService

/// The Hub's write endpoints: repos, preupload, commits (each one new version through the
/// one version transaction), tags and branches as aliases.
struct HubWrites {
    let models: ModelService
    let lifecycle: ModelLifecycle
    let revisions: HubRevisions
    let largeFiles: HubLargeFiles
    /// Files up to this size are sent inline in the commit (`regular`); larger ones through LFS.
    let regularUploadMaxBytes: UInt64

    static let commitTitleKey = "hub_commit_title"
    static let commitMessageKey = "hub_commit_message"
    /// Above this, a file's git blob id is not computed for a preupload (its upload is then
    /// never skipped as unchanged).
    static let blobIDLimit: UInt64 = 16 << 20

    /// A write needs the repo's namespace; another user's repo looks missing.
    func requireWritable(_ repo: HubRepo, principal: Principal) throws {
        guard (try? principal.authorize(user: repo.user)) != nil else { throw HubError.repoNotFound(repo.description) }
        guard try models.modelExists(user: repo.user, model: repo.model) else { throw HubError.repoNotFound(repo.description) }
    }

    // MARK: - Repos

    /// `POST /api/repos/create` `{"name", "organization", "visibility"|"private", "type"}`.
    func createRepo(body: [UInt8], endpoint: String, principal: Principal) throws -> HTTPResponse {
        let object = try JSON.object(from: body)
        let repo = try Self.repo(object, principal: principal)
        try principal.authorize(user: repo.user)
        let url = Self.repoURL(repo, endpoint: endpoint)
        guard try models.registerModel(user: repo.user, model: repo.model) else {
            return JSON.response(JSONValue.object(["url": .string(url), "error": .string("You already created this model repo: \(repo)")]),
                                 status: 409)
        }
        return JSON.response(JSONValue.object(["url": .string(url), "name": .string(repo.description), "id": .string(repo.description)]))
    }

    /// `DELETE /api/repos/delete` `{"name", "organization", "type"}`: the model, every version.
    func deleteRepo(body: [UInt8], principal: Principal) throws -> HTTPResponse {
        let repo = try Self.repo(try JSON.object(from: body), principal: principal)
        try requireWritable(repo, principal: principal)
        _ = try models.delete(user: repo.user, model: repo.model, version: nil, force: true)
        return JSON.response(JSONValue.object(["deleted": .string(repo.description)]))
    }

    /// `{endpoint}/models/{repo}`: with the repo type spelled out, the URL parses the same in
    /// every client version, even below a path prefix (0.36 mistakes `hf` for a repo type in
    /// `{endpoint}/{repo}`).
    static func repoURL(_ repo: HubRepo, endpoint: String) -> String {
        "\(endpoint)/models/\(repo)"
    }

    static func repo(_ object: [String: JSONValue], principal: Principal) throws -> HubRepo {
        if let type = object["type"]?.stringValue, type != "model" {
            throw WarehouseError.invalid("this warehouse keeps model repos only, not \(type)s")
        }
        guard let name = object["name"]?.stringValue, Identifiers.isValidName(name) else {
            throw WarehouseError.invalid("'name' must be a model id: 1-128 letters, digits, '.', '_' or '-'")
        }
        let namespace: String
        if let organization = object["organization"]?.stringValue, !organization.isEmpty {
            namespace = organization
        } else if case .user(let own) = principal {
            namespace = own
        } else {
            throw WarehouseError.invalid("the admin token has no namespace of its own: name the repo 'user/model'")
        }
        return HubRepo(user: try Identifiers.userID(namespace, field: "organization"), model: name)
    }

    // MARK: - Preupload

    /// `POST /api/models/{repo}/preupload/{rev}`: `regular` (inline in the commit) up to the
    /// limit, `lfs` above; the current file's id where the path exists, so the client skips
    /// an unchanged file.
    func preupload(_ repo: HubRepo, revision: String, body: [UInt8], principal: Principal) throws -> HTTPResponse {
        try requireWritable(repo, principal: principal)
        let target = try commitTarget(repo, revision: revision, principal: principal)
        let object = try JSON.object(from: body)
        guard case .array(let files)? = object["files"] else { throw WarehouseError.invalid("'files' must be a list of {path, size, sample}") }
        let current = Dictionary((target.record?.files ?? []).map { ($0.filePath, $0) }, uniquingKeysWith: { first, _ in first })
        var answers: [JSONValue] = []
        for item in files {
            guard case .object(let file) = item, let path = file["path"]?.stringValue else {
                throw WarehouseError.invalid("each entry of 'files' needs a 'path'")
            }
            let size = file["size"]?.doubleValue.map { UInt64(max(0, $0)) } ?? 0
            let mode = size > regularUploadMaxBytes ? "lfs" : "regular"
            var answer: [String: JSONValue] = ["path": .string(path), "uploadMode": .string(mode), "shouldIgnore": .bool(false)]
            if let existing = current[path], let record = target.record {
                if mode == "lfs" {
                    answer["oid"] = .string(existing.fileHash)
                } else if existing.fileSize == size, size <= Self.blobIDLimit, let id = try? blobID(existing, of: record) {
                    answer["oid"] = .string(id)
                }
            }
            answers.append(.object(answer))
        }
        return JSON.response(JSONValue.object(["files": .array(answers)]))
    }

    /// The git blob id of a stored file (read back: it is small).
    func blobID(_ file: ModelFile, of record: ModelVersionRecord) throws -> String {
        let reader = try models.store.open(key: ObjectKeys.file(user: record.userID, model: record.modelID, version: record.version,
                                                                path: file.filePath), range: nil)
        defer { reader.close() }
        return try HubFileIdentity.gitBlobID(size: file.fileSize, read: reader.read)
    }

    /// Commits go to `main` only: a version never changes, and an alias moves, it is not
    /// written to.
    func commitTarget(_ repo: HubRepo, revision: String, principal: Principal) throws -> ResolvedRevision {
        let name = HubRevisions.shortName(revision)
        let resolved = try revisions.resolve(repo, revision, principal: principal)
        guard name == "main" else {
            let why = ModelVersionNumber(name) != nil
                ? "\(name) is a published version of \(repo) and never changes"
                : "\(name) is not a branch you can commit to (an alias moves with create_tag/delete_tag; a commit id is fixed)"
            throw HubError(status: 403, code: nil, message: "\(why): commit to main, which makes the next version")
        }
        return resolved
    }

    // MARK: - Commits

    /// `POST /api/models/{repo}/commit/main`: the next version, from the latest one's files
    /// plus the commit's files minus its deletions; a `parentCommit` that is no longer the
    /// latest is refused (412).
    func commit(_ repo: HubRepo, revision: String, body: CommitBody, endpoint: String, principal: Principal) throws -> HTTPResponse {
        try requireWritable(repo, principal: principal)
        let target = try commitTarget(repo, revision: revision, principal: principal)
        let operations = try body.finish()
        var summary = "Upload with huggingface_hub"
        var message = ""
        var changes = VersionChanges()
        let parentFiles = target.record?.files ?? []
        for operation in operations {
            switch operation {
            case .header(let title, let description, let parentCommit):
                if !title.isEmpty { summary = title }
                message = description
                if let parentCommit, !target.sha.hasPrefix(parentCommit.lowercased()) {
                    throw HubError(status: 412, code: nil, message: "parentCommit \(parentCommit) is not the head of main "
                        + "(\(target.sha), \(target.record?.version ?? "no version yet")): pull and commit again")
                }
            case .file(let path, let spool, let sha256):
                changes.additions.append(IncomingFile(filename: path, contentType: nil, spoolPath: spool.path, size: spool.size, sha256: sha256))
            case .lfsFile(let path, let sha256, let size):
                changes.copies.append(try largeFiles.storedFile(repo, path: path, sha256: sha256, size: size))
            case .deletedFile(let path):
                guard parentFiles.contains(where: { $0.filePath == path }) else {
                    throw HubError.entryNotFound(path, revision: revision, commit: target.sha)
                }
                changes.deletions.append(path)
            case .deletedFolder(let path):
                let folder = path.hasSuffix("/") ? path : path + "/"
                guard parentFiles.contains(where: { $0.filePath.hasPrefix(folder) }) else {
                    throw HubError.entryNotFound(path, revision: revision, commit: target.sha)
                }
                changes.deletions.append(folder)
            }
        }
        let record = try models.deriveVersion(user: repo.user, model: repo.model, parent: target.record?.version, changes: changes,
                                              requireLatest: true) { record in
            record.customMetadata[Self.commitTitleKey] = .string(summary)
            record.customMetadata[Self.commitMessageKey] = message.isEmpty ? nil : .string(message)
        }
        largeFiles.committed(repo, changes.copies)
        let sha = HubRevisions.sha(of: record)
        return JSON.response(JSONValue.object([
            "commitUrl": .string(Self.repoURL(repo, endpoint: endpoint) + "/commit/\(sha)"), "commitOid": .string(sha), "success": .bool(true),
            "commitMessage": .string(summary), "version": .string(record.version),
        ]))
    }

    // MARK: - Tags and branches

    /// `POST /api/models/{repo}/tag/{rev}` `{"tag"}` and `POST …/branch/{name}`
    /// `{"startingPoint"}`: point a new alias at the revision's version.
    func createAlias(_ repo: HubRepo, name: String, revision: String, principal: Principal) throws -> HTTPResponse {
        try requireWritable(repo, principal: principal)
        let resolved = try revisions.resolve(repo, revision, principal: principal)
        guard let record = resolved.record else {
            throw HubError.revisionNotFound(revision, repo: repo.description)
        }
        let alias = try Self.aliasName(name)
        if try models.catalog.aliases(user: repo.user, model: repo.model)[alias] != nil {
            throw WarehouseError.conflict("\(alias) exists already on \(repo): delete it first to move it")
        }
        _ = try lifecycle.setAlias(user: repo.user, model: repo.model, alias: alias, version: record.version)
        return JSON.response(JSONValue.object(["name": .string(alias), "version": .string(record.version), "targetCommit": .string(resolved.sha)]))
    }

    /// `DELETE /api/models/{repo}/tag/{name}` (or `…/branch/{name}`): removes the alias.
    func deleteAlias(_ repo: HubRepo, name: String, principal: Principal) throws -> HTTPResponse {
        try requireWritable(repo, principal: principal)
        if ModelVersionNumber(name) != nil || name == "main" {
            throw HubError(status: 403, code: nil, message: "\(name) is not an alias of \(repo): versions and main are not deleted as tags")
        }
        guard try models.catalog.aliases(user: repo.user, model: repo.model)[name] != nil else {
            throw HubError.revisionNotFound(name, repo: repo.description)
        }
        _ = try lifecycle.removeAlias(user: repo.user, model: repo.model, alias: name)
        return JSON.response(JSONValue.object(["deleted": .string(name)]))
    }

    /// An alias must not read as another revision: not `main`, a version or a commit id.
    static func aliasName(_ name: String) throws -> String {
        let alias = try Identifiers.alias(name, field: "tag")
        if alias == "main" || ModelVersionNumber(alias) != nil {
            throw WarehouseError.conflict("\(alias) names a revision already (main or a version): choose another name")
        }
        if alias.utf8.count >= 7, alias.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }) {
            throw WarehouseError.invalid("\(alias) looks like a commit id: choose a name with other letters")
        }
        return alias
    }
}
