import Foundation
import Synchronization
import WarehouseCatalog
import WarehouseCore

/// The one way into a version: reserve → add files → commit | abandon.
///
/// Reserving makes a `pending` catalog row (its unique key turns a concurrent duplicate into
/// a 409) and, where replicas share the bucket, claims the version's manifest. Files are
/// stored at their final keys: streamed from a spool file, put there by a parted or streaming
/// upload the caller ran (`adopt`), or carried over from a parent version by a server-side
/// copy. Committing checks each stored object against its file, writes the manifest and only
/// then flips the row to `ready`, so no bucket call runs inside the catalog's write
/// transaction and a crash between the two leaves a pending row that recovery removes with
/// its manifest. Abandoning removes every object, the manifest or claim, and the row.
///
/// Used by one thread at a time (a request's, or a job's).
public final class VersionTransaction {
    let service: ModelService
    public let userID: String
    public let modelID: String
    public let pending: PendingVersion
    /// The files added so far, by path.
    private(set) var files: [String: ModelFile] = [:]
    /// Keys known to hold an object of this version (their store call returned).
    private var storedKeys = Set<String>()
    /// Whether the transaction ended (committed or abandoned).
    private(set) var finished = false
    /// The manifest was written (an abandon must announce its removal).
    private var manifestWritten = false

    public var version: String { pending.version }

    /// Reserves the version: `requestedVersion`, or the next free number when nil.
    init(service: ModelService, draft: ModelVersionRecord, requestedVersion: String?) throws {
        self.service = service
        userID = draft.userID
        modelID = draft.modelID
        pending = try service.reserveVersion(draft, requestedVersion: requestedVersion)
    }

    /// A transaction reserved earlier and resumed (an upload session's, in a later request or
    /// after a restart, or a leftover that recovery abandons).
    init(service: ModelService, userID: String, modelID: String, resuming pending: PendingVersion) {
        self.service = service
        self.userID = userID
        self.modelID = modelID
        self.pending = pending
        // The process that reserved it may have written the manifest: removing it is news.
        manifestWritten = true
    }

    /// The object key of `path` in this version.
    public func key(for path: String) -> String {
        ObjectKeys.file(user: userID, model: modelID, version: version, path: path)
    }

    var manifestKey: String { ObjectKeys.manifest(user: userID, model: modelID, version: version) }

    // MARK: - Adding files

    /// Stores the spooled file at its key (the store may move the spool file there).
    public func add(_ file: ModelFile, spoolPath: String) throws {
        precondition(!finished, "a finished version transaction takes no files")
        files[file.filePath] = file
        try service.store.putFile(key: key(for: file.filePath), path: spoolPath, size: file.fileSize, sha256: file.fileHash)
        storedKeys.insert(key(for: file.filePath))
    }

    /// Records a file whose bytes the caller already put at `key(for:)` (a streaming or parted
    /// upload); the commit checks they are there.
    public func adopt(_ file: ModelFile) {
        precondition(!finished, "a finished version transaction takes no files")
        files[file.filePath] = file
        storedKeys.insert(key(for: file.filePath))
    }

    /// Adds files by server-side copies (S3 CopyObject, a local hard link) of the objects at
    /// their sources (files of another version, objects uploaded ahead of the commit that
    /// names them): the bytes are neither sent nor read again. Several run at once (each is
    /// one request the store works on by itself, so a commit carrying a thousand files does
    /// not wait for them in turn). On a failure the copies made stay known to the
    /// transaction, which abandon removes.
    public func copyAll(_ copies: [(file: ModelFile, source: String)], concurrency: Int = 8) throws {
        precondition(!finished, "a finished version transaction takes no files")
        for (file, _) in copies {
            var copied = file
            copied.storeETag = nil
            files[file.filePath] = copied
            storedKeys.insert(key(for: file.filePath))
        }
        let next = Mutex(0)
        let failure = Mutex<(any Error)?>(nil)
        let store = service.store
        let targets = copies.map { (key: key(for: $0.file.filePath), source: $0.source, size: $0.file.fileSize) }
        DispatchQueue.concurrentPerform(iterations: min(concurrency, targets.count)) { _ in
            while failure.withLock({ $0 == nil }) {
                let index = next.withLock { value -> Int in
                    defer { value += 1 }
                    return value
                }
                guard index < targets.count else { return }
                do {
                    try store.copy(from: targets[index].source, to: targets[index].key, size: targets[index].size)
                } catch {
                    failure.withLock { if $0 == nil { $0 = error } }
                }
            }
        }
        if let error = failure.withLock({ $0 }) { throw error }
    }

    /// Forgets a file added earlier and removes its object (a replaced or dropped path).
    public func remove(path: String) throws {
        guard files.removeValue(forKey: path) != nil else { return }
        try service.store.delete(key: key(for: path))
        storedKeys.remove(key(for: path))
    }

    /// The files added so far, in path order.
    public var addedFiles: [ModelFile] { files.values.sorted { $0.filePath < $1.filePath } }

    // MARK: - Ending

    /// Commits `record` (its version and files become this transaction's; `primary` names the
    /// primary file, else the record's choice, else the files' own): every object is checked against its file and
    /// given its ETag, the manifest is written, the row flips to ready, and the change is
    /// announced. Any failure abandons the transaction and rethrows.
    public func commit(_ record: ModelVersionRecord, primary: String? = nil) throws -> ModelVersionRecord {
        precondition(!finished, "a version transaction commits once")
        do {
            var ready = record
            ready.version = version
            // The files are the ones added; the record may describe them further (primary
            // flag, description). Their ETags are what the store holds now.
            let described = Dictionary(record.files.map { ($0.filePath, $0) }, uniquingKeysWith: { first, _ in first })
            let files = addedFiles.map { added -> ModelFile in
                var file = described[added.filePath] ?? added
                file.storeETag = nil
                return file
            }
            ready.files = try service.stored(files, user: userID, model: modelID, version: version)
            ready.choosePrimary(primary ?? record.primaryFilePath ?? ready.files.first(where: \.isPrimary)?.filePath)
            ready.stampCommit()
            manifestWritten = true
            try service.writeManifest(ready)
            let committed = try service.catalog.commitVersion(pending, record: ready)
            finished = true
            service.announceVersion(user: userID, model: modelID, version: version)
            return committed
        } catch {
            try? abandon()
            throw error
        }
    }

    /// Removes everything the transaction made: its objects (also any that a crashed process
    /// stored under the version), the manifest or claim, and the pending row. When the store
    /// cannot remove objects known to be stored, or the manifest or claim, the row stays
    /// pending and this throws, so startup recovery finishes the job (a manifest left alone
    /// would bring the version back at the next reindex). Objects a failed call may have left
    /// unbeknown are unreferenced, so gc collects them.
    public func abandon() throws {
        guard !finished else { return }
        let prefix = ObjectKeys.versionPrefix(user: userID, model: modelID, version: version)
        var doomed = storedKeys.union(files.keys.map(key(for:)))
        do {
            doomed.formUnion(try service.store.list(prefix: prefix).map(\.key))
            try service.store.delete(keys: doomed.sorted())
        } catch where storedKeys.isEmpty {
            // Nothing of it is known to be stored: the row need not wait for the store.
        }
        if manifestWritten || service.holdsClaimObject(manifestKey) {
            try service.store.delete(key: manifestKey)
        }
        service.forgetClaim(user: userID, model: modelID, version: version)
        try service.catalog.abandonVersion(pending)
        finished = true
        if manifestWritten { service.announceVersion(user: userID, model: modelID, version: version) }
    }
}
