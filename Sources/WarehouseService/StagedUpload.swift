import Foundation
import WarehouseCatalog
import WarehouseCore
import WarehouseFormats

/// A single-file upload whose bytes go to the store while the request body still arrives
/// (S3: complete parts are sent as soon as they are spooled), so the upload does not wait for
/// the whole body before it starts talking to the bucket.
///
/// It exists only when the fields that decide the object key (user_id, model_id, and version
/// if any) came before the file part and name a new version. Its pending catalog row is
/// reserved at once; if the request fails, is aborted, or its final fields disagree, the
/// staged object and the row are removed (in `discard`, or at the latest in `deinit`).
/// Used by one thread at a time: `available` on the file part's spool queue while the body
/// arrives, everything else on the request's thread once the spool queue has drained.
public final class StagedUpload {
    let userID: String
    let modelID: String
    let requestedVersion: String?
    let filePath: String
    let transaction: VersionTransaction
    private let upload: any StreamingObjectUpload
    private var done = false

    /// Nil when the upload cannot be staged (missing or invalid early fields, an existing
    /// version, or a store that has nothing to gain); the normal path then handles it.
    public init?(service: ModelService, fieldsSoFar: [(name: String, value: String)], filename: String) {
        guard service.store.streamsUploads else { return nil }
        var values: [String: String] = [:]
        for (name, value) in fieldsSoFar where values[name] == nil { values[name] = value.trimmingCharacters(in: .whitespacesAndNewlines) }
        guard let user = try? Identifiers.userID(values["user_id"]),
              let model = try? Identifiers.name(values["model_id"], field: "model_id"),
              let path = try? FilePaths.validate(filename) else { return nil }
        var requested: String?
        if let version = values["version"], !version.isEmpty {
            guard let number = ModelVersionNumber(version),
                  (try? service.catalog.record(user: user, model: model, version: number.text)) == .some(nil) else { return nil }
            requested = number.text
        }
        let placeholder = ModelVersionRecord(modelID: model, userID: user, name: model, version: requested ?? "v0",
                                             framework: .other, modelType: .other, createdAt: Timestamps.now())
        guard let transaction = try? service.beginVersion(placeholder, requestedVersion: requested) else { return nil }
        guard let upload = service.store.beginStreamingUpload(key: transaction.key(for: path)) else {
            try? transaction.abandon()
            return nil
        }
        self.userID = user
        self.modelID = model
        self.requestedVersion = requested
        self.filePath = path
        self.transaction = transaction
        self.upload = upload
    }

    deinit {
        if !done { discard() }
    }

    /// More of the file is in the spool.
    public func available(_ bytes: UnsafeRawBufferPointer, path: String, size: UInt64) {
        guard !done else { return }
        upload.available(bytes, path: path, size: size)
    }

    /// Whether the final, complete fields describe what was staged.
    func matches(_ fields: UploadFields, path: String) -> Bool {
        !done && fields.userID == userID && fields.modelID == modelID && fields.version == requestedVersion && path == filePath
    }

    /// Finishes the object and commits the version (`record` holds its one file), or removes
    /// everything on failure.
    func commit(_ record: ModelVersionRecord, file: IncomingFile) throws -> ModelVersionRecord {
        do {
            try upload.finish(path: file.spoolPath, size: file.size, sha256: file.sha256)
            for modelFile in record.files { transaction.adopt(modelFile) }
            done = true
            return try transaction.commit(record)
        } catch {
            done = false
            discard()
            throw error
        }
    }

    /// Removes the staged object, any parts, and the reserved version.
    public func discard() {
        guard !done else { return }
        done = true
        upload.abort()
        try? transaction.abandon()
    }
}
