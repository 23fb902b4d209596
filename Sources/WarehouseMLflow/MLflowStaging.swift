import Foundation
import WarehouseAPI
import WarehouseCore
import WarehouseCrypto
import WarehouseFormats
import WarehouseService

/// Where an MLflow artifact path leads: a version's files (`registry/{user}/{model}/{version}`),
/// read only, or what a client staged for a logged model or a run (`staging/{user}/{id}`).
enum MLflowArtifactPath: Equatable {
    case registry(user: String, model: String, version: String, path: String)
    case staging(user: String, id: String, path: String)

    static func registry(user: String, model: String, version: String) -> String { "registry/\(user)/\(model)/\(version)" }
    static func staging(user: String, id: String) -> String { "staging/\(user)/\(id)" }

    /// Parses a path after `/artifacts/` (or `?path=`); nil for a path of neither kind.
    init?(_ raw: String) {
        let segments = raw.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        guard !segments.contains(".."), !segments.contains(".") else { return nil }
        switch segments.first {
        case "registry" where segments.count >= 4:
            self = .registry(user: segments[1], model: segments[2], version: segments[3], path: segments.dropFirst(4).joined(separator: "/"))
        case "staging" where segments.count >= 3:
            guard ObjectKeys.mlflowStagingCreated(segments[2]) != nil else { return nil }
            self = .staging(user: segments[1], id: segments[2], path: segments.dropFirst(3).joined(separator: "/"))
        default:
            return nil
        }
    }

    var user: String {
        switch self {
        case .registry(let user, _, _, _), .staging(let user, _, _): return user
        }
    }
}

/// A logged model (MLflow 3's `log_model` creates one, uploads its files under its artifact
/// URI, then registers `models:/{id}`) or a run: a record in the bucket beside its staged
/// files, until a version takes them (or gc removes them after `upload_session_lifetime_seconds`).
struct MLflowStagedRecord: Codable {
    var id: String
    var user: String
    var kind: String            // "model" or "run"
    var experimentID: String
    var name: String
    var status: String
    var createdMS: Int64
    var updatedMS: Int64
    var endMS: Int64?
    var sourceRunID: String?
    var modelType: String?
    var tags: [String: String] = [:]
    var params: [String: String] = [:]
    var metrics: [String: Double] = [:]
    var metricHistory: [String: [MetricPoint]] = [:]
    /// Once registered: the versions that took its files (their URI replaces the staging one).
    var registered: [RegisteredVersion] = []

    struct MetricPoint: Codable {
        var value: Double
        var timestamp: Int64
        var step: Int64
    }

    struct RegisteredVersion: Codable {
        var user: String
        var model: String
        var version: String
    }
}

/// What a version is made from: the files, and the logged model's metrics and params.
struct StagedVersionFiles {
    var files: [StoredFile]
    var metrics: [String: Double] = [:]
    var params: [String: String] = [:]
    /// The logged model whose staged files these are (cleared once registered).
    var logged: (user: String, id: String)?
}

struct MLflowStaging {
    let models: ModelService

    /// The namespace a caller stages under (the admin has none of its own).
    static func user(_ principal: Principal) -> String {
        switch principal {
        case .admin: return "admin"
        case .user(let user): return user
        }
    }

    static func newID(kind: Character) -> String {
        let random = (0..<8).map { _ in UInt8.random(in: 0...255) }
        return "\(kind)-\(Int64(Date().timeIntervalSince1970))-\(Hex.encode(random))"
    }

    static func nowMS() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    func recordKey(user: String, id: String) -> String { ObjectKeys.mlflowStaging(user: user, id: id) + "record.json" }
    func artifactPrefix(user: String, id: String) -> String { ObjectKeys.mlflowStaging(user: user, id: id) + "artifacts/" }
    func checkKey(user: String, id: String, path: String) -> String { ObjectKeys.mlflowStaging(user: user, id: id) + "checks/" + path }

    func create(_ record: MLflowStagedRecord) throws {
        try save(record)
    }

    func save(_ record: MLflowStagedRecord) throws {
        try models.store.putData(key: recordKey(user: record.user, id: record.id), data: Array(try JSONCoding.string(record).utf8))
    }

    /// The record of `id`, which must be the caller's (another user's answers as missing).
    func load(_ id: String, principal: Principal, kind: String) throws -> MLflowStagedRecord {
        let what = kind == "run" ? "Run" : "Logged model"
        guard ObjectKeys.mlflowStagingCreated(id) != nil,
              let bytes = try models.store.getDataAndETag(key: recordKey(user: Self.user(principal), id: id))?.bytes,
              let record = try? JSONDecoder().decode(MLflowStagedRecord.self, from: Data(bytes)), record.kind == kind else {
            throw MLflowError.notFound("\(what) with id '\(id)' not found")
        }
        return record
    }

    /// Every staged record of the caller's, of one kind.
    func records(principal: Principal, kind: String) throws -> [MLflowStagedRecord] {
        let user = Self.user(principal)
        return try models.store.list(prefix: ObjectKeys.mlflowStaging + user + "/").filter { $0.key.hasSuffix("/record.json") }.compactMap { object in
            guard let bytes = try? models.store.getData(key: object.key),
                  let record = try? JSONDecoder().decode(MLflowStagedRecord.self, from: Data(bytes)),
                  record.kind == kind, record.user == user else { return nil }
            return record
        }
    }

    func update(_ id: String, principal: Principal, kind: String, _ edit: (inout MLflowStagedRecord) throws -> Void) throws -> MLflowStagedRecord {
        var record = try load(id, principal: principal, kind: kind)
        try edit(&record)
        record.updatedMS = Self.nowMS()
        try save(record)
        return record
    }

    /// The artifact URI of a staged record: the version's once one took its files.
    func artifactURI(_ record: MLflowStagedRecord) -> String {
        if record.kind == "model", let version = record.registered.last {
            return "mlflow-artifacts:/" + MLflowArtifactPath.registry(user: version.user, model: version.model, version: version.version)
        }
        return "mlflow-artifacts:/" + MLflowArtifactPath.staging(user: record.user, id: record.id)
    }

    // MARK: - Sources of versions

    /// The files a `model-versions/create` source names: a logged model (`models:/m-…`, or
    /// `model_id`), another version (`models:/name/3`, `models:/name@alias`), or artifacts the
    /// warehouse holds (`mlflow-artifacts:/…`). Anything else is a place the warehouse cannot
    /// read, refused with a message that says what to do instead.
    func files(forSource source: String, modelID: String?, principal: Principal) throws -> StagedVersionFiles {
        if source.hasPrefix("models:/") {
            let rest = String(source.dropFirst("models:/".count))
            if !rest.contains("/"), !rest.contains("@") {
                return try loggedModelFiles(modelID ?? rest, principal: principal)
            }
            return try versionFiles(reference: rest, principal: principal, source: source)
        }
        var path: String?
        if source.hasPrefix("mlflow-artifacts:") {
            var rest = source.dropFirst("mlflow-artifacts:".count)
            if rest.hasPrefix("//") {
                rest = rest.dropFirst(2)
                rest = rest.drop { $0 != "/" }
            }
            path = String(rest)
        } else if source.hasPrefix("http://") || source.hasPrefix("https://"), let range = source.range(of: "/api/2.0/mlflow-artifacts/artifacts/") {
            path = String(source[range.upperBound...])
        }
        if let path {
            guard let target = MLflowArtifactPath(path) else {
                throw MLflowError.invalid("source '\(source)' names no artifacts of this warehouse")
            }
            try authorize(target.user, principal: principal)
            switch target {
            case .registry(let user, let model, let version, let sub):
                return try versionFiles(MLflowModelName(user: user, model: model), version: version, under: sub, source: source)
            case .staging(let user, let id, let sub):
                return try stagedFiles(user: user, id: id, under: sub, source: source)
            }
        }
        if let modelID, !modelID.isEmpty { return try loggedModelFiles(modelID, principal: principal) }
        if source.hasPrefix("runs:/") {
            throw MLflowError.invalid("source '\(source)' is a run URI: register the model it logged (models:/<model_id>) or its artifacts' mlflow-artifacts:/ URI")
        }
        if source.contains("://") && !source.hasPrefix("file://") {
            throw MLflowError.invalid("source '\(source)' is in a store this warehouse does not read: it registers only files it holds. "
                + "Log the model through this server (mlflow.<flavor>.log_model(..., registered_model_name=...)) instead")
        }
        throw MLflowError.invalid("source '\(source)' is a path on your machine, which the warehouse cannot read (register_model of a local "
            + "path uploads nothing). Log the model instead: mlflow.<flavor>.log_model(model, name=..., registered_model_name=...) uploads "
            + "its files and registers them")
    }

    func authorize(_ user: String, principal: Principal) throws {
        do { try principal.authorize(user: user) } catch {
            if case .admin = principal { return }
            throw MLflowError.denied("this token may not use artifacts of user '\(user)'")
        }
    }

    func loggedModelFiles(_ id: String, principal: Principal) throws -> StagedVersionFiles {
        let record = try load(id, principal: principal, kind: "model")
        if record.status == "LOGGED_MODEL_UPLOAD_FAILED" {
            throw MLflowError.invalid("logged model '\(id)' failed to upload; log it again")
        }
        var staged: StagedVersionFiles
        if let version = record.registered.last, try stagedObjects(user: record.user, id: record.id, under: "").isEmpty {
            // Registered before: its files live in that version now.
            staged = try versionFiles(MLflowModelName(user: version.user, model: version.model), version: version.version, under: "",
                                      source: "models:/\(id)")
        } else {
            staged = try stagedFiles(user: record.user, id: record.id, under: "", source: "models:/\(id)")
            staged.logged = (record.user, record.id)
        }
        staged.metrics = record.metrics
        staged.params = record.params
        return staged
    }

    /// `name/3`, `name/latest`, `name@alias`.
    func versionFiles(reference: String, principal: Principal, source: String) throws -> StagedVersionFiles {
        let nameText: String
        let selector: String
        if let at = reference.firstIndex(of: "@") {
            nameText = String(reference[..<at])
            selector = "@" + reference[reference.index(after: at)...]
        } else {
            let parts = reference.split(separator: "/", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { throw MLflowError.invalid("source '\(source)' is not models:/<name>/<version> or models:/<name>@<alias>") }
            (nameText, selector) = (parts[0], parts[1])
        }
        let name = try MLflowModelName(nameText, principal: principal)
        let version: String
        if selector.lowercased() == "latest" {
            guard let latest = try models.catalog.versions(user: name.user, model: name.model).last(where: { MLflowVersion.number($0.version) != nil }) else {
                throw MLflowError.notFound("Registered Model with name=\(nameText) has no versions")
            }
            version = latest.version
        } else if selector.hasPrefix("@") {
            guard let target = try models.catalog.aliases(user: name.user, model: name.model)[String(selector.dropFirst())] else {
                throw MLflowError.invalid("Registered model alias \(selector.dropFirst()) not found.")
            }
            version = target
        } else {
            version = try MLflowVersion.version(selector)
        }
        return try versionFiles(name, version: version, under: "", source: source)
    }

    func versionFiles(_ name: MLflowModelName, version: String, under sub: String, source: String) throws -> StagedVersionFiles {
        guard let record = try models.catalog.record(user: name.user, model: name.model, version: version) else {
            throw MLflowError.notFound("source '\(source)': version \(version) of model '\(name.model)' not found")
        }
        let prefix = sub.isEmpty ? "" : sub + "/"
        let files = record.files.filter { prefix.isEmpty || $0.filePath.hasPrefix(prefix) }.map { file in
            StoredFile(path: String(file.filePath.dropFirst(prefix.count)),
                       key: ObjectKeys.file(user: record.userID, model: record.modelID, version: record.version, path: file.filePath),
                       size: file.fileSize, sha256: file.fileHash, analysis: FileAnalysis(format: file.format ?? FilePaths.fileExtension(file.filePath)))
        }
        guard !files.isEmpty else { throw MLflowError.invalid("source '\(source)' holds no files") }
        return StagedVersionFiles(files: files)
    }

    func stagedObjects(user: String, id: String, under sub: String) throws -> [ObjectInfo] {
        let prefix = artifactPrefix(user: user, id: id) + (sub.isEmpty ? "" : sub + "/")
        return try models.store.list(prefix: prefix)
    }

    /// Staged files, each hashed once (when it was uploaded through the service, or here).
    func stagedFiles(user: String, id: String, under sub: String, source: String) throws -> StagedVersionFiles {
        let root = artifactPrefix(user: user, id: id)
        let prefix = root + (sub.isEmpty ? "" : sub + "/")
        let objects = try models.store.list(prefix: prefix)
        guard !objects.isEmpty else {
            throw MLflowError.invalid("nothing was uploaded under '\(source)': log the model's files first")
        }
        let files = try objects.map { object -> StoredFile in
            let path = String(object.key.dropFirst(prefix.count))
            let check = checkKey(user: user, id: id, path: String(object.key.dropFirst(root.count)))
            if let sha256 = models.checkedSHA256(of: object, at: check) {
                return StoredFile(path: path, key: object.key, size: object.size, sha256: sha256,
                                  analysis: try models.inspectStored(key: object.key, size: object.size, name: path))
            }
            let hashed = try models.hashStored(key: object.key, size: object.size, name: path)
            return StoredFile(path: path, key: object.key, size: hashed.size, sha256: hashed.sha256, analysis: hashed.analysis)
        }
        return StagedVersionFiles(files: files)
    }

    /// After a version took a logged model's files: the record names the version, and the
    /// staged copies go (what a failed removal leaves, gc removes once it is old).
    func registered(_ staged: StagedVersionFiles, as version: ModelVersionRecord) {
        guard let (user, id) = staged.logged,
              let bytes = try? models.store.getData(key: recordKey(user: user, id: id)),
              var record = try? JSONDecoder().decode(MLflowStagedRecord.self, from: Data(bytes)) else { return }
        record.registered.append(.init(user: version.userID, model: version.modelID, version: version.version))
        record.updatedMS = Self.nowMS()
        guard (try? save(record)) != nil else { return }
        let prefix = ObjectKeys.mlflowStaging(user: user, id: id)
        if let objects = try? models.store.list(prefix: prefix) {
            try? models.store.delete(keys: objects.map(\.key).filter { $0 != recordKey(user: user, id: id) })
        }
    }
}
