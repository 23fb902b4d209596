import Foundation
import WarehouseAPI
import WarehouseCore
import WarehouseHTTPServer
import WarehouseService

/// The Hub's read endpoints over the warehouse's versions: repo info, trees, refs, commits,
/// listings, and `/resolve` downloads.
struct HubReads {
    let models: ModelService
    let revisions: HubRevisions
    let check: StoredObjectCheck
    /// Send `/resolve` GETs to the bucket with a presigned URL (S3 only), not through us.
    let redirectDownloads: Bool

    // MARK: - Repo info

    /// `GET /api/models/{repo}[/revision/{rev}]`.
    func info(_ repo: HubRepo, revision: String, principal: Principal) throws -> HTTPResponse {
        let resolved = try revisions.resolve(repo, revision, principal: principal)
        return JSON.response(try modelInfo(repo, resolved))
    }

    /// `card`: read the README's front matter (one store read; a listing asks only with
    /// `cardData=true` or `full=true`, as the Hub's listing answers).
    func modelInfo(_ repo: HubRepo, _ resolved: ResolvedRevision, siblings includeSiblings: Bool = true, card readsCard: Bool = true) throws -> JSONValue {
        var info: [String: JSONValue] = [
            "_id": .string(resolved.sha), "id": .string(repo.description), "modelId": .string(repo.description),
            "author": .string(repo.user), "sha": .string(resolved.sha), "private": .bool(true), "gated": .bool(false),
            "disabled": .bool(false), "downloads": .int(0), "likes": .int(0),
        ]
        guard let record = resolved.record else {
            let created = try models.registeredAt(user: repo.user, model: repo.model) ?? Timestamps.now()
            info["createdAt"] = .string(created)
            info["lastModified"] = .string(created)
            info["tags"] = .array([])
            info["siblings"] = .array([])
            return .object(info)
        }
        info["createdAt"] = .string(try models.registeredAt(user: repo.user, model: repo.model)
            ?? models.catalog.versions(user: repo.user, model: repo.model).first?.createdAt ?? record.createdAt)
        info["lastModified"] = .string(record.updatedAt)
        info["usedStorage"] = .int(Int64(record.totalSize))
        let card = readsCard ? readme(of: record).flatMap(ModelCard.frontMatter) : nil
        if let card { info["cardData"] = .object(card) }
        let library = card?["library_name"]?.stringValue ?? Self.libraryName(record.framework)
        if let library { info["library_name"] = .string(library) }
        if let pipeline = card?["pipeline_tag"]?.stringValue { info["pipeline_tag"] = .string(pipeline) }
        var tags = record.tags
        if case .array(let cardTags)? = card?["tags"] { tags += cardTags.compactMap(\.stringValue) }
        if let library { tags.append(library) }
        tags += record.formats.filter { ["safetensors", "onnx", "gguf"].contains($0) }
        var seen = Set<String>()
        info["tags"] = .array(tags.filter { seen.insert($0).inserted }.map(JSONValue.string))
        if includeSiblings {
            info["siblings"] = .array(record.files.map { file in
                .object(["rfilename": .string(file.filePath), "size": .int(Int64(file.fileSize)), "blobId": .string(HubFileIdentity.oid(file)),
                         "lfs": .object(["sha256": .string(file.fileHash), "size": .int(Int64(file.fileSize)),
                                         "pointerSize": .int(Int64(HubFileIdentity.pointerSize(file)))])])
            })
        }
        if record.formats.contains("safetensors"), case .object(let byDType)? = record.customMetadata["parameters_by_dtype"] {
            let total = record.numParameters ?? byDType.values.compactMap { $0.doubleValue.map(Int64.init) }.reduce(0, +)
            info["safetensors"] = .object(["parameters": .object(byDType), "total": .int(total)])
        }
        if case .array(let architectures)? = record.customMetadata["architectures"] {
            var config: [String: JSONValue] = ["architectures": .array(architectures)]
            if let type = record.customMetadata["hf_model_type"] { config["model_type"] = type }
            info["config"] = .object(config)
        }
        return .object(info)
    }

    /// The root `README.md` of a version, when it is small enough to be a model card.
    func readme(of record: ModelVersionRecord) -> String? {
        guard let file = record.files.first(where: { $0.filePath == "README.md" }), file.fileSize <= 1 << 20,
              let bytes = try? models.store.getData(key: ObjectKeys.file(user: record.userID, model: record.modelID,
                                                                          version: record.version, path: file.filePath)) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The Hub's `library_name` for a warehouse framework.
    static func libraryName(_ framework: Framework) -> String? {
        switch framework {
        case .huggingface: return "transformers"
        case .pytorch: return "pytorch"
        case .tensorflow: return "tensorflow"
        case .sklearn: return "sklearn"
        case .keras: return "keras"
        case .onnx: return "onnx"
        default: return nil
        }
    }

    // MARK: - Trees

    /// `GET /api/models/{repo}/tree/{rev}[/{path}]`: the files and folders under `path`
    /// (direct children, or all with `recursive=true`); a folder that does not exist is 404
    /// EntryNotFound.
    func tree(_ repo: HubRepo, revision: String, path: String, request: HTTPRequest, principal: Principal) throws -> HTTPResponse {
        let resolved = try revisions.resolve(repo, revision, principal: principal)
        let recursive = Self.flag(request.query("recursive"))
        let expand = Self.flag(request.query("expand"))
        let folder = path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        let files = resolved.record?.files ?? []
        let prefix = folder.isEmpty ? "" : folder + "/"
        let under = files.filter { $0.filePath.hasPrefix(prefix) }
        if !folder.isEmpty, under.isEmpty {
            throw HubError.entryNotFound(folder, revision: revision, commit: resolved.sha)
        }
        var entries: [JSONValue] = []
        var folders = Set<String>()
        for file in under {
            let relative = file.filePath.dropFirst(prefix.count)
            let parts = relative.split(separator: "/")
            // Each folder between `path` and the file (only the first level unless recursive).
            for depth in 1..<parts.count where recursive || depth == 1 {
                folders.insert(prefix + parts.prefix(depth).joined(separator: "/"))
            }
            if recursive || parts.count == 1 { entries.append(fileEntry(file, resolved: resolved, expand: expand)) }
        }
        entries += folders.sorted().map { folderPath in
            .object(["type": .string("directory"), "path": .string(folderPath), "size": .int(0),
                     "oid": .string(HubFileIdentity.folderOID(path: folderPath, commit: resolved.sha))])
        }
        return JSON.response(JSONValue.array(entries))
    }

    /// `POST /api/models/{repo}/paths-info/{rev}` (form `paths=…&expand=…`): entries for the
    /// paths that exist, files or folders; missing ones are left out.
    func pathsInfo(_ repo: HubRepo, revision: String, body: [UInt8], principal: Principal) throws -> HTTPResponse {
        let resolved = try revisions.resolve(repo, revision, principal: principal)
        let form = FormBody.parse(body)
        let expand = Self.flag(form.first { $0.name == "expand" }?.value)
        let files = resolved.record?.files ?? []
        var entries: [JSONValue] = []
        for path in form.filter({ $0.name == "paths" }).map(\.value) {
            let wanted = path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
            if let file = files.first(where: { $0.filePath == wanted }) {
                entries.append(fileEntry(file, resolved: resolved, expand: expand))
            } else if !wanted.isEmpty, files.contains(where: { $0.filePath.hasPrefix(wanted + "/") }) {
                entries.append(.object(["type": .string("directory"), "path": .string(wanted), "size": .int(0),
                                        "oid": .string(HubFileIdentity.folderOID(path: wanted, commit: resolved.sha))]))
            }
        }
        return JSON.response(JSONValue.array(entries))
    }

    func fileEntry(_ file: ModelFile, resolved: ResolvedRevision, expand: Bool) -> JSONValue {
        var entry: [String: JSONValue] = [
            "type": .string("file"), "path": .string(file.filePath), "size": .int(Int64(file.fileSize)),
            "oid": .string(HubFileIdentity.oid(file)),
            "lfs": .object(["oid": .string(file.fileHash), "size": .int(Int64(file.fileSize)),
                            "pointerSize": .int(Int64(HubFileIdentity.pointerSize(file)))]),
        ]
        if expand, let record = resolved.record {
            entry["lastCommit"] = .object(["id": .string(resolved.sha), "title": .string(Self.commitTitle(record)),
                                           "date": .string(record.createdAt)])
        }
        return .object(entry)
    }

    static func flag(_ value: String?) -> Bool {
        guard let value else { return false }
        return ["true", "1", "yes"].contains(value.lowercased())
    }

    // MARK: - Refs and commits

    /// `GET /api/models/{repo}/refs`: `main` and the aliases as branches, versions as tags.
    func refs(_ repo: HubRepo, request: HTTPRequest, principal: Principal) throws -> HTTPResponse {
        let main = try revisions.resolve(repo, "main", principal: principal)
        let versions = try models.catalog.versions(user: repo.user, model: repo.model)
        let shas = Dictionary(versions.map { ($0.version, HubRevisions.sha(of: $0)) }, uniquingKeysWith: { first, _ in first })
        var branches: [JSONValue] = [Self.ref("main", "refs/heads/main", main.sha)]
        for (alias, version) in try models.catalog.aliases(user: repo.user, model: repo.model).sorted(by: { $0.key < $1.key }) {
            if let sha = shas[version] { branches.append(Self.ref(alias, "refs/heads/\(alias)", sha)) }
        }
        var answer: [String: JSONValue] = [
            "branches": .array(branches), "converts": .array([]),
            "tags": .array(versions.map { Self.ref($0.version, "refs/tags/\($0.version)", HubRevisions.sha(of: $0)) }),
        ]
        if request.query("include_prs") != nil { answer["pullRequests"] = .array([]) }
        return JSON.response(JSONValue.object(answer))
    }

    static func ref(_ name: String, _ ref: String, _ sha: String) -> JSONValue {
        .object(["name": .string(name), "ref": .string(ref), "targetCommit": .string(sha)])
    }

    /// `GET /api/models/{repo}/commits/{rev}`: the revision's version and every earlier one,
    /// newest first, each version one commit.
    func commits(_ repo: HubRepo, revision: String, principal: Principal) throws -> HTTPResponse {
        let resolved = try revisions.resolve(repo, revision, principal: principal)
        guard let head = resolved.record, let top = ModelVersionNumber(head.version) else {
            let created = try models.registeredAt(user: repo.user, model: repo.model) ?? Timestamps.now()
            return JSON.response(JSONValue.array([Self.commit(id: resolved.sha, title: "initial commit", message: "", user: repo.user, date: created)]))
        }
        let history = try models.catalog.versions(user: repo.user, model: repo.model)
            .filter { ModelVersionNumber($0.version).map { $0 <= top } ?? false }
            .reversed()
        return JSON.response(JSONValue.array(history.map { record in
            Self.commit(id: HubRevisions.sha(of: record), title: Self.commitTitle(record), message: Self.commitMessage(record),
                        user: record.userID, date: record.createdAt)
        }))
    }

    static func commit(id: String, title: String, message: String, user: String, date: String) -> JSONValue {
        .object(["id": .string(id), "title": .string(title), "message": .string(message),
                 "authors": .array([.object(["user": .string(user)])]), "date": .string(date)])
    }

    /// A version's commit title: the summary of the Hub commit that made it, else what it is.
    static func commitTitle(_ record: ModelVersionRecord) -> String {
        record.customMetadata[HubWrites.commitTitleKey]?.stringValue ?? "\(record.version): \(record.name)"
    }

    static func commitMessage(_ record: ModelVersionRecord) -> String {
        record.customMetadata[HubWrites.commitMessageKey]?.stringValue ?? (record.description ?? "")
    }

    // MARK: - Listing

    /// `GET /api/models?author=&search=&limit=`: the caller's models (the admin's: everyone's,
    /// or `author`'s), `search` matching part of the repo id.
    func list(request: HTTPRequest, principal: Principal) throws -> HTTPResponse {
        let author = request.query("author").flatMap { $0.isEmpty ? nil : $0 }
        let users: [String]
        switch principal {
        case .user(let own):
            if let author, author != own { return JSON.response(JSONValue.array([])) }
            users = [own]
        case .admin:
            users = author.map { [$0] } ?? []
        }
        let search = request.query("search")?.lowercased()
        let limit = request.query("limit").flatMap(Int.init).map { max(0, $0) }
        var records: [ModelVersionRecord] = []
        var query = ModelQuery(userID: users.first ?? "", limit: 1000)
        query.allUsers = users.isEmpty
        while true {
            let page = try models.search(query)
            records += page.records
            guard let next = page.nextCursor, page.hits.count == query.limit else { break }
            query.cursor = next
        }
        var answer: [JSONValue] = []
        for record in records {
            let repo = HubRepo(user: record.userID, model: record.modelID)
            let full = Self.flag(request.query("full"))
            answer.append(try modelInfo(repo, ResolvedRevision(record: record, sha: HubRevisions.sha(of: record)),
                                        siblings: full, card: full || Self.flag(request.query("cardData"))))
        }
        // Models created without a version yet (everyone's for the admin without an author).
        for registered in try users.isEmpty ? models.registeredModels(user: nil) : users.flatMap({ try models.registeredModels(user: $0) })
        where try models.catalog.record(user: registered.userID, model: registered.modelID, version: nil) == nil {
            let repo = HubRepo(user: registered.userID, model: registered.modelID)
            answer.append(try modelInfo(repo, ResolvedRevision(record: nil, sha: VersionCommit.empty(user: repo.user, model: repo.model))))
        }
        if let search, !search.isEmpty {
            answer = answer.filter { info in
                if case .object(let object) = info, let id = object["id"]?.stringValue { return id.lowercased().contains(search) }
                return false
            }
        }
        if let limit { answer = Array(answer.prefix(limit)) }
        return JSON.response(JSONValue.array(answer))
    }

    // MARK: - Downloads

    /// `HEAD|GET /{repo}/resolve/{rev}/{path}`: the file with the headers the client needs
    /// (`X-Repo-Commit`, `X-Linked-Etag` = its SHA-256, `X-Linked-Size`) on every answer,
    /// redirects included; Range for resumed downloads.
    func resolve(_ repo: HubRepo, revision: String, path: String, request: HTTPRequest, principal: Principal) throws -> HTTPResponse {
        let resolved = try revisions.resolve(repo, revision, principal: principal)
        guard let record = resolved.record, let file = record.files.first(where: { $0.filePath == path }) else {
            throw HubError.entryNotFound(path, revision: revision, commit: resolved.sha)
        }
        let download = Download(record: record, file: file,
                                key: ObjectKeys.file(user: repo.user, model: repo.model, version: record.version, path: file.filePath))
        var response = try DownloadResponse.make(download, request: request, store: models.store, check: check,
                                                 redirect: redirectDownloads && request.method == "GET")
        response.headers.add("X-Repo-Commit", resolved.sha)
        response.headers.add("X-Linked-Etag", "\"\(file.fileHash)\"")
        response.headers.add("X-Linked-Size", String(file.fileSize))
        return response
    }
}

/// `application/x-www-form-urlencoded` bodies.
enum FormBody {
    static func parse(_ bytes: [UInt8]) -> [(name: String, value: String)] {
        String(decoding: bytes, as: UTF8.self).split(separator: "&").map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ text: Substring) -> String {
                (String(text).replacingOccurrences(of: "+", with: " ").removingPercentEncoding) ?? String(text)
            }
            return (decode(parts[0]), parts.count > 1 ? decode(parts[1]) : "")
        }
    }
}
