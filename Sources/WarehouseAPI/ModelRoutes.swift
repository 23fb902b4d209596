import Foundation
import WarehouseCore
import WarehouseHTTPServer
import WarehouseService

/// The /ai-models surface of DESIGN.md.
struct ModelRoutes {
    let service: ModelService
    let access: AccessControl
    let uploadBody: HTTPBodyKind
    /// Like `uploadBody`, and stages the file in the store while it arrives (`StagedUpload`).
    let stagedUploadBody: HTTPBodyKind
    let storedObjectCheck: StoredObjectCheck

    var definitions: [RouteDefinition] {
        let service = self.service
        let access = self.access
        let check = self.storedObjectCheck
        return [
            RouteDefinition("POST", "/ai-models/upload/single", body: stagedUploadBody) { request in
                let form = try Self.form(of: request)
                let staged = request.head.values[StagedUploadKey.self]?.staged
                let fields: UploadFields
                let incoming: IncomingFile
                do {
                    fields = try UploadFields(form.fields)
                    try request.principal().authorize(user: fields.userID)
                    incoming = try Self.incomingFile(named: "file", in: form)
                } catch {
                    staged?.discard()
                    throw error
                }
                return JSON.response(try service.uploadSingle(fields: fields, file: incoming, staged: staged))
            },
            RouteDefinition("POST", "/ai-models/upload/folder", body: uploadBody) { request in
                let form = try Self.form(of: request)
                let fields = try UploadFields(form.fields)
                try request.principal().authorize(user: fields.userID)
                let archive = try Self.incomingFile(named: "zip_file", in: form)
                let preserve = try form.field("preserve_structure").flatMap { $0.isEmpty ? nil : $0 }
                    .map { try FieldValues.bool($0, field: "preserve_structure") } ?? true
                let primary = form.field("primary_file").flatMap { $0.isEmpty ? nil : $0 }
                return JSON.response(try service.uploadFolder(fields: fields, archive: archive, preserveStructure: preserve,
                                                              primaryFile: primary,
                                                              isCancelled: { request.head.cancellation.isCancelled }))
            },
            RouteDefinition("GET", "/ai-models/search/{user_id}") { request in
                let user = try request.userParameter()
                let query = try request.modelQuery(user: user, text: request.nonEmptyQuery("query") ?? request.nonEmptyQuery("q"),
                                                   principal: try request.principal())
                return Self.listing(try service.search(query))
            },
            RouteDefinition("GET", "/ai-models/{user_id}") { request in
                let query = try request.modelQuery(user: try request.userParameter(), text: nil, principal: try request.principal())
                return Self.listing(try service.search(query))
            },
            RouteDefinition("GET", "/ai-models/{user_id}/{model_id}") { request in
                JSON.response(try service.record(user: try request.userParameter(), model: try request.modelParameter(),
                                                 version: try request.versionQuery()))
            },
            RouteDefinition("PUT", "/ai-models/{user_id}/{model_id}", body: .buffered(maxBytes: 1 << 20)) { request in
                let patch = try JSON.object(from: request.body.bytes)
                return JSON.response(try service.update(user: try request.userParameter(), model: try request.modelParameter(),
                                                        version: try request.versionQuery(), patch: patch))
            },
            RouteDefinition("DELETE", "/ai-models/{user_id}/{model_id}") { request in
                let user = try request.userParameter()
                let model = try request.modelParameter()
                let deleted = try service.delete(user: user, model: model, version: try request.versionQuery(),
                                                 force: try request.flagQuery("force"))
                return JSON.response(DeletionDTO(userID: user, modelID: model, deletedVersions: deleted))
            },
            RouteDefinition("GET", "/ai-models/{user_id}/{model_id}/download") { request in
                let user = try request.userParameter()
                let model = try request.modelParameter()
                let version = try request.versionQuery()
                guard let filename = request.nonEmptyQuery("filename") else {
                    let record = try service.record(user: user, model: model, version: version)
                    return try ArchiveResponse.make(record, request: request, service: service, check: check)
                }
                let download = try service.downloadTarget(user: user, model: model, version: version, filename: filename)
                return try DownloadResponse.make(download, request: request, store: service.store, check: check)
            },
            RouteDefinition("GET", "/ai-models/{user_id}/{model_id}/files") { request in
                let record = try service.record(user: try request.userParameter(), model: try request.modelParameter(),
                                                version: try request.versionQuery())
                return JSON.response(FileListDTO(record))
            },
            RouteDefinition("GET", "/ai-models/{user_id}/{model_id}/versions") { request in
                let user = try request.userParameter()
                let model = try request.modelParameter()
                let versions = try service.versions(user: user, model: model)
                return JSON.response(VersionListDTO(userID: user, modelID: model, versions: versions))
            },
        ]
    }

    /// A page of versions with its total and, when more follow, the cursor to the next page.
    static func listing(_ results: SearchResults) -> HTTPResponse {
        var response = HTTPResponse.json(SearchHitEncoding.shared.encode(results.hits))
        response.headers.add("X-Total-Count", String(results.total))
        if let next = results.nextCursor { response.headers.add("X-Next-Cursor", next) }
        return response
    }

    static func form(of request: HTTPRequest) throws -> MultipartForm {
        guard case .multipart(let form) = request.body else {
            throw WarehouseError.invalid("expected a multipart/form-data body")
        }
        return form
    }

    /// The spooled file part `name`, as the service takes it.
    static func incomingFile(named name: String, in form: MultipartForm) throws -> IncomingFile {
        guard let part = form.file(name) else {
            if form.field(name) != nil {
                throw WarehouseError.invalid("field '\(name)' must be a file part with a filename (curl -F \(name)=@path)")
            }
            throw WarehouseError.invalid("field '\(name)' is required: the multipart file part to upload")
        }
        return IncomingFile(filename: part.filename, contentType: part.contentType, spoolPath: part.spoolPath,
                            size: part.size, sha256: part.digest ?? "")
    }
}

struct DeletionDTO: Encodable {
    let userID: String
    let modelID: String
    let deletedVersions: [String]

    enum CodingKeys: String, CodingKey {
        case userID = "user_id", modelID = "model_id", deletedVersions = "deleted_versions", deleted
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(true, forKey: .deleted)
        try container.encode(userID, forKey: .userID)
        try container.encode(modelID, forKey: .modelID)
        try container.encode(deletedVersions, forKey: .deletedVersions)
    }
}

struct FileListDTO: Encodable {
    let userID: String
    let modelID: String
    let version: String
    let files: [ModelFile]
    let primaryFilePath: String?
    let totalSizeBytes: UInt64

    init(_ record: ModelVersionRecord) {
        userID = record.userID
        modelID = record.modelID
        version = record.version
        files = record.files
        primaryFilePath = record.primaryFilePath
        totalSizeBytes = record.totalSize
    }

    enum CodingKeys: String, CodingKey {
        case userID = "user_id", modelID = "model_id", version, files, primaryFilePath = "primary_file_path"
        case totalSizeBytes = "total_size_bytes"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(userID, forKey: .userID)
        try container.encode(modelID, forKey: .modelID)
        try container.encode(version, forKey: .version)
        try container.encode(files, forKey: .files)
        try container.encode(primaryFilePath, forKey: .primaryFilePath)
        try container.encode(totalSizeBytes, forKey: .totalSizeBytes)
    }
}

struct VersionListDTO: Encodable {
    struct Summary: Encodable {
        let version: String
        let createdAt: String
        let updatedAt: String
        let framework: String
        let modelType: String
        let algorithm: String?
        let modelSizeMB: Double
        let fileCount: Int
        let primaryFilePath: String?
        let validationAccuracy: Double?
        let isActive: Bool
        let isProductionReady: Bool
        let aliases: [String]

        enum CodingKeys: String, CodingKey {
            case version, createdAt = "created_at", updatedAt = "updated_at", framework, modelType = "model_type"
            case algorithm, modelSizeMB = "model_size_mb", fileCount = "file_count", primaryFilePath = "primary_file_path"
            case validationAccuracy = "validation_accuracy", isActive = "is_active", isProductionReady = "is_production_ready"
            case aliases
        }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(version, forKey: .version)
            try c.encode(createdAt, forKey: .createdAt)
            try c.encode(updatedAt, forKey: .updatedAt)
            try c.encode(framework, forKey: .framework)
            try c.encode(modelType, forKey: .modelType)
            try c.encode(algorithm, forKey: .algorithm)
            try c.encode(modelSizeMB, forKey: .modelSizeMB)
            try c.encode(fileCount, forKey: .fileCount)
            try c.encode(primaryFilePath, forKey: .primaryFilePath)
            try c.encode(validationAccuracy, forKey: .validationAccuracy)
            try c.encode(isActive, forKey: .isActive)
            try c.encode(isProductionReady, forKey: .isProductionReady)
            try c.encode(aliases, forKey: .aliases)
        }
    }

    let userID: String
    let modelID: String
    let versions: [Summary]
    let latest: String?

    init(userID: String, modelID: String, versions records: [ModelVersionRecord]) {
        self.userID = userID
        self.modelID = modelID
        self.versions = records.map {
            Summary(version: $0.version, createdAt: $0.createdAt, updatedAt: $0.updatedAt, framework: $0.framework.rawValue,
                    modelType: $0.modelType.rawValue, algorithm: $0.algorithm, modelSizeMB: $0.modelSizeMB,
                    fileCount: $0.files.count, primaryFilePath: $0.primaryFilePath,
                    validationAccuracy: $0.validationAccuracy, isActive: $0.isActive, isProductionReady: $0.isProductionReady,
                    aliases: $0.aliases)
        }
        self.latest = records.last?.version
    }

    enum CodingKeys: String, CodingKey {
        case userID = "user_id", modelID = "model_id", versions, latest
    }
}

/// The single-file upload staged while its body arrives: the route's handle on it, kept with
/// the request from the moment the file part begins.
enum StagedUploadKey: RequestValueKey {
    typealias Value = StagedUploadObserver
}

/// Connects a spooling file part to its `StagedUpload`.
/// `@unchecked Sendable`: the spool queue feeds it while the body arrives, then the request's
/// thread commits or discards it, never both at once (`StagedUpload` says the same).
final class StagedUploadObserver: SpoolObserver, @unchecked Sendable {
    let staged: StagedUpload
    init(_ staged: StagedUpload) { self.staged = staged }
    func spooled(_ bytes: UnsafeRawBufferPointer, path: String, size: UInt64) {
        staged.available(bytes, path: path, size: size)
    }
}
