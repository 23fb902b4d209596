import Foundation
import WarehouseAPI
import WarehouseCore
import WarehouseHTTPServer
import WarehouseService

/// MLflow's artifact proxy (`/api/2.0/mlflow-artifacts/…`) over the warehouse: a version's
/// files (with a synthesised `MLmodel` where it has none) read under `registry/…`, and what
/// `log_model` uploads written under `staging/…` until a version takes it. Listings answer
/// basenames, and `[]` for a path that is a file (the client then GETs it).
struct MLflowArtifacts {
    let models: ModelService
    let staging: MLflowStaging
    let check: StoredObjectCheck
    let spoolDirectory: String
    let urlLifetimeSeconds = 3600

    /// Whether the store presigns part uploads (S3): then `server-info` offers multipart, and
    /// the client's parts go straight to the bucket (it chooses the part size, 10 MiB by default).
    var multipartUploads: Bool {
        models.store.presignedPartURL(key: "probe", uploadID: "probe", number: 1, expires: 60) != nil
    }

    func target(_ raw: String, principal: Principal) throws -> MLflowArtifactPath {
        guard let target = MLflowArtifactPath(raw) else {
            throw MLflowError.notFound("no artifacts at '\(raw)': this server's artifact paths are registry/{user}/{model}/{version} and staging/{user}/{id}")
        }
        try staging.authorize(target.user, principal: principal)
        return target
    }

    // MARK: - Versions

    func versionRecord(user: String, model: String, version: String) throws -> ModelVersionRecord {
        guard let record = try models.catalog.record(user: user, model: model, version: version) else {
            throw MLflowError.notFound("version \(version) of model '\(model)' not found")
        }
        return record
    }

    func synthesized(_ record: ModelVersionRecord) -> [String: [UInt8]] {
        MLflowModelFile.synthesized(record) { file in
            if case .array(let inputs)? = record.customMetadata["inputs"], inputs.allSatisfy({ if case .object(let o) = $0 { o["dtype"] != nil } else { false } }) {
                return inputs
            }
            let key = ObjectKeys.file(user: record.userID, model: record.modelID, version: record.version, path: file.filePath)
            guard let analysis = try? models.inspectStored(key: key, size: file.fileSize, name: file.filePath),
                  case .array(let inputs)? = analysis.details["inputs"] else { return nil }
            return inputs
        }
    }

    // MARK: - Listing

    func list(_ raw: String?, principal: Principal) throws -> HTTPResponse {
        guard let raw, !raw.isEmpty, let target = MLflowArtifactPath(raw) else { return Self.listing([]) }
        try staging.authorize(target.user, principal: principal)
        var entries: [String: (isDirectory: Bool, size: UInt64)] = [:]
        switch target {
        case .registry(let user, let model, let version, let path):
            guard let record = try models.catalog.record(user: user, model: model, version: version) else { return Self.listing([]) }
            let files = record.files.map { ($0.filePath, $0.fileSize) } + (path.isEmpty ? synthesized(record).map { ($0.key, UInt64($0.value.count)) } : [])
            if files.contains(where: { $0.0 == path }) { return Self.listing([]) }
            Self.children(of: path, files, into: &entries)
        case .staging(let user, let id, let path):
            let root = staging.artifactPrefix(user: user, id: id)
            let objects = try models.store.list(prefix: root + (path.isEmpty ? "" : path + "/"))
            if objects.isEmpty, try models.store.head(key: root + path) != nil { return Self.listing([]) }
            Self.children(of: path, objects.map { (String($0.key.dropFirst(root.count)), $0.size) }, into: &entries)
        }
        return Self.listing(entries.sorted { $0.key < $1.key }.map { ($0.key, $0.value.isDirectory, $0.value.size) })
    }

    /// The entries directly under `directory` among `files` (relative paths).
    static func children(of directory: String, _ files: [(String, UInt64)], into entries: inout [String: (isDirectory: Bool, size: UInt64)]) {
        let prefix = directory.isEmpty ? "" : directory + "/"
        for (path, size) in files where path.hasPrefix(prefix) {
            let rest = path.dropFirst(prefix.count)
            if let slash = rest.firstIndex(of: "/") {
                entries[String(rest[..<slash])] = (true, 0)
            } else {
                entries[String(rest)] = (false, size)
            }
        }
    }

    static func listing(_ entries: [(name: String, isDirectory: Bool, size: UInt64)]) -> HTTPResponse {
        JSON.response(JSONValue.object(["files": .array(entries.map { entry in
            var info: [String: JSONValue] = ["path": .string(entry.name), "is_dir": .bool(entry.isDirectory)]
            if !entry.isDirectory { info["file_size"] = .int(Int64(entry.size)) }
            return .object(info)
        })]))
    }

    // MARK: - Download

    func download(_ raw: String, request: HTTPRequest, principal: Principal) throws -> HTTPResponse {
        switch try target(raw, principal: principal) {
        case .registry(let user, let model, let version, let path):
            let record = try versionRecord(user: user, model: model, version: version)
            if let file = record.files.first(where: { $0.filePath == path }) {
                let download = Download(record: record, file: file,
                                        key: ObjectKeys.file(user: user, model: model, version: version, path: file.filePath))
                return try DownloadResponse.make(download, request: request, store: models.store, check: check)
            }
            if let bytes = synthesized(record)[path] {
                var headers = HTTPHeaders()
                headers.add("Content-Type", "text/plain; charset=utf-8")
                return HTTPResponse(status: 200, headers: headers, body: .bytes(bytes))
            }
            throw MLflowError.notFound("file '\(path)' not found in version \(version) of model '\(model)'")
        case .staging(let user, let id, let path):
            let key = staging.artifactPrefix(user: user, id: id) + path
            guard !path.isEmpty, let info = try models.store.head(key: key) else {
                throw MLflowError.notFound("artifact '\(path)' not found")
            }
            var headers = HTTPHeaders()
            headers.add("Content-Type", "application/octet-stream")
            if let local = models.store.localPath(key: key) {
                return HTTPResponse(status: 200, headers: headers, body: .file(path: local, offset: 0, length: info.size))
            }
            return HTTPResponse(status: 200, headers: headers,
                                body: .stream(length: info.size, reader: ObjectReaderAdapter(try models.store.open(key: key, range: nil))))
        }
    }

    // MARK: - Upload

    /// Where a PUT may write: under a staging path of the caller's own (a version's files
    /// never change).
    func stagedKey(_ raw: String, principal: Principal) throws -> (key: String, check: String, path: String) {
        guard case .staging(let user, let id, let path) = try target(raw, principal: principal) else {
            throw MLflowError.denied("a registered version's files cannot be changed: log a new model and register it as the next version")
        }
        guard !path.isEmpty, let valid = try? FilePaths.validate(path, field: "path"), valid == path else {
            throw MLflowError.invalid("invalid artifact path '\(path)'")
        }
        guard try models.store.getDataAndETag(key: staging.recordKey(user: user, id: id)) != nil else {
            throw MLflowError.notFound("no logged model or run '\(id)' to upload to")
        }
        return (staging.artifactPrefix(user: user, id: id) + path, staging.checkKey(user: user, id: id, path: path), path)
    }

    func uploadSink(_ head: HTTPRequestHead) throws -> any HTTPBodySink {
        let raw = String(head.path.dropFirst(MLflowRoutes.artifactsPrefix.count))
        let (key, check, _) = try stagedKey(raw.removingPercentEncoding ?? raw, principal: try head.principal())
        return ArtifactSink(spool: try SpoolFile(directory: spoolDirectory), key: key, check: check)
    }

    func finishUpload(_ body: HTTPRequestBody) throws -> HTTPResponse {
        guard case .streamed(let sink) = body, let sink = sink as? ArtifactSink else { throw MLflowError.invalid("the upload has no body") }
        let sha256 = sink.spool.finish()
        try models.store.putFile(key: sink.key, path: sink.spool.path, size: sink.spool.size, sha256: sha256)
        // Hashed as it arrived: the version that takes it need not read it again.
        if let stored = try models.store.head(key: sink.key) { try models.recordCheck(of: stored, sha256: sha256, at: sink.check) }
        return JSON.response(JSONValue.object([:]))
    }

    // MARK: - Multipart (files ≥ 500 MiB; parts go straight to the bucket)

    func createMultipart(_ directory: String, parameters: MLflowParameters, principal: Principal) throws -> HTTPResponse {
        guard multipartUploads else {
            throw MLflowError.notImplemented("Multipart upload is not supported for the current artifact repository")
        }
        let name = try parameters.required("path")
        let count = try parameters.int("num_parts") ?? 1
        guard (1...10_000).contains(count) else { throw MLflowError.invalid("num_parts must be from 1 to 10000") }
        let (key, _, _) = try stagedKey(directory + "/" + name, principal: principal)
        let uploadID = try models.store.createPartedUpload(key: key, size: 0)
        let credentials = try (1...count).map { number -> JSONValue in
            guard let url = models.store.presignedPartURL(key: key, uploadID: uploadID, number: number, expires: urlLifetimeSeconds) else {
                throw MLflowError.notImplemented("Multipart upload is not supported for the current artifact repository")
            }
            return .object(["url": .string(url), "part_number": .int(Int64(number)), "headers": .object([:])])
        }
        return JSON.response(JSONValue.object(["upload_id": .string(uploadID), "credentials": .array(credentials)]))
    }

    func completeMultipart(_ directory: String, parameters: MLflowParameters, principal: Principal) throws -> HTTPResponse {
        let name = try parameters.required("path")
        let uploadID = try parameters.required("upload_id")
        let (key, _, _) = try stagedKey(directory + "/" + name, principal: principal)
        guard case .array(let listed)? = parameters.body["parts"], !listed.isEmpty else {
            throw MLflowError.invalid("the completion needs its 'parts'")
        }
        let parts = try listed.map { item -> StoredPart in
            guard case .object(let part) = item, let number = part["part_number"]?.doubleValue.map(Int.init), let etag = part["etag"]?.stringValue else {
                throw MLflowError.invalid("each part needs its 'part_number' and 'etag'")
            }
            return StoredPart(number: number, size: 0, etag: etag)
        }.sorted { $0.number < $1.number }
        guard parts.map(\.number) == Array(1...parts.count) else { throw MLflowError.invalid("the completion must list parts 1 to \(parts.count) once each") }
        try models.store.completePartedUpload(key: key, uploadID: uploadID, parts: parts, size: 0)
        return JSON.response(JSONValue.object([:]))
    }

    func abortMultipart(_ directory: String, parameters: MLflowParameters, principal: Principal) throws -> HTTPResponse {
        let name = try parameters.required("path")
        let uploadID = try parameters.required("upload_id")
        let (key, _, _) = try stagedKey(directory + "/" + name, principal: principal)
        try models.store.abortPartedUpload(key: key, uploadID: uploadID)
        return JSON.response(JSONValue.object([:]))
    }
}

/// A proxied artifact upload's body, spooled and hashed on its way to the store.
final class ArtifactSink: HTTPBodySink {
    let spool: SpoolFile
    let key: String
    let check: String

    init(spool: SpoolFile, key: String, check: String) {
        self.spool = spool
        self.key = key
        self.check = check
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws { try spool.write(bytes) }
    func abandon() {}
}
