import Foundation
import Synchronization
import WarehouseCatalog
import WarehouseCore
import WarehouseReplication
import WarehouseFormats
import WarehouseZip

/// The model use cases: upload, read, list, search, download, update, delete.
///
/// Every new version goes through one `VersionTransaction`: a `pending` catalog row first (its
/// unique key makes a concurrent duplicate fail with 409), then objects at their final keys,
/// then the manifest, then the flip to `ready` (no bucket call inside a catalog transaction).
/// A failure at any step removes what the earlier steps made, so nothing partial is ever
/// visible or left behind.
public final class ModelService: Sendable {
    public let catalog: Catalog
    public let store: any ObjectStore
    /// Where files being received or extracted wait (same filesystem as a local store).
    public let spoolDirectory: String
    public let zipLimits: ZipLimits
    /// The bucket as shared with other replicas; nil when this replica is the only one.
    public let shared: SharedBucket?
    /// How writes other replicas could also make are made: alone, or over a shared bucket.
    public let replication: any Replication
    /// ETags of the manifests this replica claimed and has not committed yet.
    let claims = Mutex<[String: String]>([:])
    /// Rewrites of a ready version's manifest and record (an added file, an update, a delete)
    /// run one at a time per model, since the bucket write and the catalog write that follows
    /// it are no longer one transaction.
    let modelLocks = ModelLocks()

    public init(catalog: Catalog, store: any ObjectStore, spoolDirectory: String, zipLimits: ZipLimits = ZipLimits(),
                shared: SharedBucket? = nil) {
        self.catalog = catalog
        self.store = store
        self.spoolDirectory = spoolDirectory
        self.zipLimits = zipLimits
        self.shared = shared
        replication = shared ?? SoloReplication(store: store)
    }

    // MARK: - Upload

    /// Stores one uploaded file: a new version (numbered `v{n+1}` when no version is given), or
    /// one more file in an existing version (409 if that path exists there).
    /// `staged` is the same upload already streaming to the store (see `StagedUpload`); it is
    /// used when the final fields agree with it, and discarded otherwise.
    public func uploadSingle(fields: UploadFields, file: IncomingFile, staged: StagedUpload? = nil) throws -> ModelVersionRecord {
        guard !file.filename.isEmpty else {
            throw WarehouseError.invalid("the 'file' part has no filename; send it as a file (curl -F file=@path)")
        }
        let path = try FilePaths.validate(file.filename, field: "filename")
        let now = Timestamps.now()
        // Headers only: a 10 GiB file costs a few reads here.
        let analysis = FormatDetector.analyze(path: file.spoolPath, name: path)
        let modelFile = ModelFile(
            filename: FilePaths.baseName(path), filePath: path, fileSize: file.size,
            fileType: FilePaths.fileExtension(path), fileHash: file.sha256,
            contentType: Self.contentType(path: path, declared: file.contentType), isPrimary: true, format: analysis.format)
        let detected = VersionAnalysis(files: [(path, analysis)], primary: path)

        var record = fields.makeRecord(version: fields.version ?? "v0", framework: detected.framework, createdAt: now)
        Detection.apply(detected, to: &record, given: fields.framework)
        if let staged {
            if staged.matches(fields, path: path) {
                var draft = record
                draft.files = [modelFile]
                draft.choosePrimary(path)
                return try staged.commit(draft, file: file)
            }
            staged.discard()
        }
        if let version = fields.version,
           try catalog.record(user: fields.userID, model: fields.modelID, version: version) != nil {
            return try addFile(modelFile, from: file, to: version, fields: fields, now: now, detected: detected)
        }
        return try createVersion(record, requestedVersion: fields.version, primary: path) { transaction in
            try transaction.add(modelFile, spoolPath: file.spoolPath)
        }
    }

    /// Creates a version through one `VersionTransaction`: `fill` adds the files (each streams
    /// from its spool file to its final key), `finalize` completes the record once they are
    /// all in, and the transaction commits it, or abandons everything if any step fails.
    func createVersion(_ draft: ModelVersionRecord, requestedVersion: String?, primary: String? = nil,
                       fill: (VersionTransaction) throws -> Void,
                       finalize: (inout ModelVersionRecord) throws -> Void = { _ in }) throws -> ModelVersionRecord {
        let transaction = try beginVersion(draft, requestedVersion: requestedVersion)
        do {
            try fill(transaction)
            var record = draft
            record.files = transaction.addedFiles
            try finalize(&record)
            return try transaction.commit(record, primary: primary)
        } catch {
            try? transaction.abandon()
            throw error
        }
    }

    /// Reserves a version (the next free number when `requestedVersion` is nil) and answers
    /// the transaction that fills and commits it.
    public func beginVersion(_ draft: ModelVersionRecord, requestedVersion: String?) throws -> VersionTransaction {
        try VersionTransaction(service: self, draft: draft, requestedVersion: requestedVersion)
    }

    /// The transaction of a version reserved earlier (an upload session's, a leftover).
    public func resumeVersion(user: String, model: String, pending: PendingVersion) -> VersionTransaction {
        VersionTransaction(service: self, userID: user, modelID: model, resuming: pending)
    }

    private func addFile(_ modelFile: ModelFile, from incoming: IncomingFile, to version: String,
                         fields: UploadFields, now: String, detected: VersionAnalysis) throws -> ModelVersionRecord {
        try overSharedManifest(user: fields.userID, model: fields.modelID, version: version) { expected in
            try addFile(modelFile, from: incoming, to: version, fields: fields, now: now, detected: detected, expected: expected)
        }
    }

    private func addFile(_ modelFile: ModelFile, from incoming: IncomingFile, to version: String,
                         fields: UploadFields, now: String, detected: VersionAnalysis, expected: String?) throws -> ModelVersionRecord {
        var file = modelFile
        file.isPrimary = false
        let versionID = try catalog.insertPendingFile(user: fields.userID, model: fields.modelID, version: version, file: file)
        let key = ObjectKeys.file(user: fields.userID, model: fields.modelID, version: version, path: file.filePath)
        var manifestWritten: ModelVersionRecord?
        do {
            try store.putFile(key: key, path: incoming.spoolPath, size: incoming.size, sha256: incoming.sha256)
            file.storeETag = try stored(file, key: key).storeETag
            let current = try record(user: fields.userID, model: fields.modelID, version: version)
            var record = current
            record.files = (record.files + [file]).sorted { $0.filePath < $1.filePath }
            record.choosePrimary(fields.isPrimary == true || current.primaryFilePath == nil ? file.filePath : current.primaryFilePath)
            record.updatedAt = now
            Detection.apply(detected, to: &record, given: nil, fillOnly: true)
            record.stampCommit()
            try writeManifest(record, expected: expected)
            manifestWritten = current
            let committed = try catalog.commitFile(versionID: versionID, filePath: file.filePath, record: record)
            announceVersion(user: fields.userID, model: fields.modelID, version: version)
            return committed
        } catch {
            // The manifest goes back to the version as it stands without the file.
            if let previous = manifestWritten { try? writeManifest(previous) }
            try? store.delete(key: key)
            try? catalog.abandonFile(versionID: versionID, filePath: file.filePath)
            throw error
        }
    }

    static func contentType(path: String, declared: String?) -> String {
        let known = FileKinds.contentType(forPath: path)
        if known == "application/octet-stream", let declared, !declared.isEmpty, declared.count < 128,
           declared.contains("/"), !declared.unicodeScalars.contains(where: { $0.value < 0x20 }) {
            return declared
        }
        return known
    }

    // MARK: - Read

    public func record(user: String, model: String, version: String?) throws -> ModelVersionRecord {
        guard let record = try catalog.record(user: user, model: model, version: version) else {
            throw WarehouseError.notFound(Catalog.describe(model: model, version: version) + " not found for user '\(user)'")
        }
        return record
    }

    public func versions(user: String, model: String) throws -> [ModelVersionRecord] {
        let versions = try catalog.versions(user: user, model: model)
        guard !versions.isEmpty else {
            throw WarehouseError.notFound("model '\(model)' not found for user '\(user)'")
        }
        return versions
    }

    /// Listing and search share one query: each model's latest version (or every version) that
    /// matches the text and filters, one page in the requested order.
    public func search(_ query: ModelQuery) throws -> SearchResults {
        try catalog.search(query)
    }

    // MARK: - Download

    /// The file to send, found by path or by unique base name.
    public func downloadTarget(user: String, model: String, version: String?, filename: String) throws -> Download {
        let record = try record(user: user, model: model, version: version)
        let wanted = filename.replacingOccurrences(of: "\\", with: "/")
        let file: ModelFile
        if let exact = record.files.first(where: { $0.filePath == wanted }) {
            file = exact
        } else {
            let byName = record.files.filter { $0.filename == wanted }
            guard byName.count == 1 else {
                throw byName.isEmpty
                    ? WarehouseError.notFound("file \(Identifiers.quoted(filename)) not found in version \(record.version) of model '\(model)'")
                    : WarehouseError.invalid("\(byName.count) files are named \(Identifiers.quoted(filename)) in version \(record.version); give the full path: \(byName.map(\.filePath).joined(separator: ", "))")
            }
            file = byName[0]
        }
        let key = ObjectKeys.file(user: user, model: model, version: record.version, path: file.filePath)
        return Download(record: record, file: file, key: key)
    }

    /// Refuses a download whose stored object is no longer the file the catalog recorded (its
    /// size, and its ETag where the store gives one), before the status line goes out: the
    /// store is asked (a stat, or one HEAD), never trusted.
    public func checkStored(_ download: Download) throws {
        let info = try store.head(key: download.key)
        if let problem = Self.drift(info, expected: download.file) {
            try staleCopy(of: download.record)
            throw Self.drifted(download.file.filePath, of: download.record, problem)
        }
    }

    /// With replicas sharing the bucket, a drifted object usually means this catalog is behind
    /// (the version was deleted, or deleted and made again, on another replica): it catches up
    /// and answers 404 or 409 (retry), not 500.
    private func staleCopy(of record: ModelVersionRecord) throws {
        try syncVersion(user: record.userID, model: record.modelID, version: record.version)
        guard let now = try catalog.record(user: record.userID, model: record.modelID, version: record.version) else {
            throw WarehouseError.notFound("version \(record.version) of model '\(record.modelID)' was deleted on another replica")
        }
        if now.files != record.files {
            throw WarehouseError.conflict("version \(record.version) of model '\(record.modelID)' was replaced on another replica; retry")
        }
    }

    /// The same for every file of a version, from one listing of its prefix.
    public func checkStored(_ record: ModelVersionRecord) throws {
        let listed = try listing(user: record.userID, model: record.modelID, version: record.version)
        for file in record.files {
            if let problem = Self.drift(listed[file.filePath], expected: file) {
                try staleCopy(of: record)
                throw Self.drifted(file.filePath, of: record, problem)
            }
        }
    }

    /// The objects under a version's prefix by relative path.
    func listing(user: String, model: String, version: String) throws -> [String: ObjectInfo] {
        let prefix = ObjectKeys.versionPrefix(user: user, model: model, version: version)
        return Dictionary(try store.list(prefix: prefix).map { (String($0.key.dropFirst(prefix.count)), $0) },
                          uniquingKeysWith: { first, _ in first })
    }

    /// Files just stored, checked against what the store now holds and given its ETags: a
    /// store that kept other bytes than were sent fails the commit (it is rolled back).
    func stored(_ files: [ModelFile], user: String, model: String, version: String) throws -> [ModelFile] {
        let listed = try listing(user: user, model: model, version: version)
        return try files.map { file in
            if let problem = Self.drift(listed[file.filePath], expected: file) {
                throw WarehouseError.storageUnavailable("file '\(file.filePath)' \(problem) right after it was stored")
            }
            var checked = file
            checked.storeETag = listed[file.filePath]?.etag
            return checked
        }
    }

    func stored(_ file: ModelFile, key: String) throws -> ModelFile {
        let info = try store.head(key: key)
        if let problem = Self.drift(info, expected: file) {
            throw WarehouseError.storageUnavailable("file '\(file.filePath)' \(problem) right after it was stored")
        }
        var checked = file
        checked.storeETag = info?.etag
        return checked
    }

    static func drift(_ stored: ObjectInfo?, expected: ModelFile) -> String? {
        guard let stored else { return "is missing from storage" }
        if stored.size != expected.fileSize {
            return "has \(stored.size) bytes in storage, the catalog records \(expected.fileSize)"
        }
        if let recorded = expected.storeETag, let now = stored.etag, recorded != now {
            return "has ETag \(now) in storage, the catalog records \(recorded) (same size, other bytes)"
        }
        return nil
    }

    static func drifted(_ path: String, of record: ModelVersionRecord, _ problem: String) -> WarehouseError {
        .storedObjectDrifted("file '\(path)' of \(record.userID)/\(record.modelID) \(record.version) \(problem): "
            + "it was changed behind the warehouse's back, so it is not sent (warehouse fsck lists every such file)")
    }

    /// A trained version's `metrics.json` (nil when the version has none or it does not read).
    public func trainingMetrics(_ record: ModelVersionRecord) -> JSONValue? {
        guard record.files.contains(where: { $0.filePath == "metrics.json" }),
              let bytes = try? store.getData(key: ObjectKeys.file(user: record.userID, model: record.modelID, version: record.version,
                                                                  path: "metrics.json")) else { return nil }
        return try? JSONDecoder().decode(JSONValue.self, from: Data(bytes))
    }

    // MARK: - Delete

    /// Deletes one version, or with nil the whole model: hidden from readers first, then the
    /// manifest (so a reindex cannot bring it back), then every object under its prefix, then
    /// the rows. If storage fails midway, startup recovery finishes the job.
    /// A version holding an alias is a 409 unless `force` (which removes the alias).
    public func delete(user: String, model: String, version: String?, force: Bool = false) throws -> [String] {
        try modelLocks.serialized(user: user, model: model) {
            // A model created before its versions, and still without one, is just that row.
            if version == nil, try catalog.record(user: user, model: model, version: nil) == nil,
               try unregisterModel(user: user, model: model) {
                return []
            }
            let doomed = try movingAliasesHoldingLock(user: user, model: model) { publish in
                try catalog.beginDelete(user: user, model: model, version: version, force: force, publish: publish)
            }
            var failure: (any Error)?
            for (id, record) in doomed {
                do {
                    try removeObjects(user: user, model: model, version: record.version)
                    try catalog.finishDelete(id: id)
                } catch {
                    failure = failure ?? error
                }
            }
            announceDeleted(user: user, model: model, versions: doomed.map(\.record.version))
            if let failure { throw failure }
            if version == nil { try unregisterModel(user: user, model: model) }
            return doomed.map(\.record.version)
        }
    }

    func removeObjects(user: String, model: String, version: String) throws {
        try store.delete(key: ObjectKeys.manifest(user: user, model: model, version: version))
        let objects = try store.list(prefix: ObjectKeys.versionPrefix(user: user, model: model, version: version))
        try store.delete(keys: objects.map(\.key))
    }

    // MARK: - Health

    public func checkHealth() throws {
        try store.checkHealth()
        try checkCatalog()
    }

    /// Throws when the catalog cannot be read.
    public func checkCatalog() throws {
        _ = try catalog.integrityCheckQuick()
    }

    /// Counts for /metrics: models, versions, files, bytes, datasets, jobs by state.
    public func statistics() throws -> CatalogStatistics {
        try catalog.statistics()
    }
}

/// One lock per model (striped over a fixed set): a model's manifest rewrites are serialized
/// without holding the catalog's writer lock across bucket calls.
/// `Sendable`: the locks are; the array never changes.
final class ModelLocks: Sendable {
    private final class Stripe: Sendable {
        let mutex = Mutex(())
    }

    private let stripes: [Stripe]

    init(count: Int = 64) {
        stripes = (0..<count).map { _ in Stripe() }
    }

    func serialized<T>(user: String, model: String, _ body: () throws -> T) throws -> T {
        var hasher = Hasher()
        hasher.combine(user)
        hasher.combine(model)
        let index = Int(UInt(bitPattern: hasher.finalize()) % UInt(stripes.count))
        return try stripes[index].mutex.withLock { _ in try body() }
    }
}

/// What to send for a download: the record, the file and its object key.
public struct Download: Sendable {
    public let record: ModelVersionRecord
    public let file: ModelFile
    public let key: String

    public init(record: ModelVersionRecord, file: ModelFile, key: String) {
        self.record = record
        self.file = file
        self.key = key
    }
}

/// `manifests/aliases/{user}/{model}.json`: a model's aliases, for `reindex`.
struct AliasManifest: Codable, Equatable {
    let userID: String
    let modelID: String
    let aliases: [String: String]

    enum CodingKeys: String, CodingKey { case userID = "user_id", modelID = "model_id", aliases }

    static func encode(_ manifest: AliasManifest) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(manifest))
    }
}

/// The manifest: the full version record as stored next to the objects. Its `aliases` stay
/// empty: they move without the version changing, and live in the alias manifest.
public enum Manifest {
    public static func encode(_ record: ModelVersionRecord) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        var stored = record
        stored.aliases = []
        return Array(try encoder.encode(stored))
    }

    public static func decode(_ bytes: [UInt8]) throws -> ModelVersionRecord {
        try JSONDecoder().decode(ModelVersionRecord.self, from: Data(bytes))
    }
}
