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
    let service: ModelService
    let userID: String
    let modelID: String
    let requestedVersion: String?
    let filePath: String
    let pending: PendingVersion
    let key: String
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
        guard let pending = try? service.reserveVersion(placeholder, requestedVersion: requested) else { return nil }
        let key = ObjectKeys.file(user: user, model: model, version: pending.version, path: path)
        guard let upload = service.store.beginStreamingUpload(key: key) else {
            try? service.store.delete(key: ObjectKeys.manifest(user: user, model: model, version: pending.version))
            service.forgetClaim(user: user, model: model, version: pending.version)
            try? service.catalog.abandonVersion(pending)
            return nil
        }
        self.service = service
        self.userID = user
        self.modelID = model
        self.requestedVersion = requested
        self.filePath = path
        self.pending = pending
        self.key = key
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

    /// Finishes the object and commits the version, or removes everything on failure.
    func commit(_ record: ModelVersionRecord, file: IncomingFile) throws -> ModelVersionRecord {
        do {
            try upload.finish(path: file.spoolPath, size: file.size, sha256: file.sha256)
            var ready = record
            ready.version = pending.version
            ready.files = try service.stored(ready.files, user: userID, model: modelID, version: pending.version)
            let manifestKey = ObjectKeys.manifest(user: userID, model: modelID, version: pending.version)
            let committed = try service.catalog.commitVersion(pending, record: ready) { committed in
                do {
                    try service.writeManifest(committed)
                } catch {
                    try? service.store.delete(key: manifestKey)
                    throw error
                }
            }
            done = true
            return committed
        } catch {
            discard()
            throw error
        }
    }

    /// Removes the staged object, any parts, and the pending row.
    public func discard() {
        guard !done else { return }
        done = true
        upload.abort()
        try? service.store.delete(key: key)
        if service.shared != nil {
            // The claim of the version goes with it.
            try? service.store.delete(key: ObjectKeys.manifest(user: userID, model: modelID, version: pending.version))
            service.forgetClaim(user: userID, model: modelID, version: pending.version)
        }
        try? service.catalog.abandonVersion(pending)
    }
}
