/// One stored object as a listing or HEAD reports it.
public struct ObjectInfo: Sendable, Equatable {
    public let key: String
    public let size: UInt64
    /// The store's entity tag (S3's ETag, quotes removed), where the store has one.
    public let etag: String?

    public init(key: String, size: UInt64, etag: String? = nil) {
        self.key = key
        self.size = size
        self.etag = etag
    }
}

/// A stream of an object's bytes, pulled by the response writer. Not shared between threads.
public protocol ObjectReader: AnyObject {
    /// Fills `buffer`; returns the byte count, 0 at the end.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int
    func close()
}

/// Where artifact bytes live: a local folder or an S3 bucket. Keys are the layout of
/// DESIGN.md (`models/{user}/{model}/{version}/{path}`, `manifests/…`). Errors are
/// `WarehouseError` (`notFound`, `storageUnavailable`).
public protocol ObjectStore: Sendable {
    /// Stores the file at `path` under `key`. The store may move the file instead of copying it;
    /// the caller must not rely on `path` existing afterwards. `sha256` is the file's digest.
    func putFile(key: String, path: String, size: UInt64, sha256: String) throws

    /// Stores a small object from memory (manifests).
    func putData(key: String, data: [UInt8]) throws

    /// Reads a small object whole (manifests).
    func getData(key: String) throws -> [UInt8]

    /// Opens `key` for streaming, optionally only the byte range `range`.
    func open(key: String, range: Range<UInt64>?) throws -> any ObjectReader

    /// A local file holding exactly the object's bytes, when the store has one (lets the HTTP
    /// layer use sendfile).
    func localPath(key: String) -> String?

    /// Size of `key`, or nil when absent.
    func head(key: String) throws -> ObjectInfo?

    /// Removes `key`; absent keys are not an error.
    func delete(key: String) throws

    /// A URL a client can GET the object from directly for `expires` seconds (presigned), when
    /// the store has such URLs.
    func presignedURL(key: String, expires: Int) -> String?

    /// An upload of `key` that can start while its bytes are still arriving in a local file,
    /// for stores where sending takes real time (S3). Nil: use `putFile` once the file is whole.
    func beginStreamingUpload(key: String) -> (any StreamingObjectUpload)?

    /// Whether `beginStreamingUpload` can return anything (checked before reserving work).
    var streamsUploads: Bool { get }

    /// Removes many keys (a store may batch them).
    func delete(keys: [String]) throws

    /// Every object whose key starts with `prefix`.
    func list(prefix: String) throws -> [ObjectInfo]

    /// Throws `storageUnavailable` when the store cannot be used.
    func checkHealth() throws
}

extension ObjectStore {
    public func presignedURL(key: String, expires: Int) -> String? { nil }

    public func beginStreamingUpload(key: String) -> (any StreamingObjectUpload)? { nil }

    public var streamsUploads: Bool { false }

    public func delete(keys: [String]) throws {
        for key in keys { try delete(key: key) }
    }
}

/// An object being sent while its local file still grows. Called from one thread at a time.
public protocol StreamingObjectUpload: AnyObject {
    /// `bytes` were just appended, so the first `size` bytes of the file at `path` are
    /// written; complete parts may go now.
    func available(_ bytes: UnsafeRawBufferPointer, path: String, size: UInt64)
    /// The file is whole: send the rest and make the object visible. Throws what failed.
    func finish(path: String, size: UInt64, sha256: String) throws
    /// Give up; nothing of the upload may remain.
    func abort()
}

/// Object keys of the layout in DESIGN.md, built in one place.
public enum ObjectKeys {
    /// `datasets/{user}/{dataset}/{version}/`
    public static func datasetPrefix(user: String, dataset: String, version: String? = nil) -> String {
        "datasets/\(user)/\(dataset)/" + (version.map { $0 + "/" } ?? "")
    }

    public static func versionPrefix(user: String, model: String, version: String) -> String {
        "models/\(user)/\(model)/\(version)/"
    }

    public static func modelPrefix(user: String, model: String) -> String {
        "models/\(user)/\(model)/"
    }

    public static func file(user: String, model: String, version: String, path: String) -> String {
        versionPrefix(user: user, model: model, version: version) + path
    }

    public static func manifest(user: String, model: String, version: String) -> String {
        "manifests/models/\(user)/\(model)/\(version).json"
    }

    /// A model's aliases, so that `reindex` restores them too.
    public static func aliasManifest(user: String, model: String) -> String {
        "manifests/aliases/\(user)/\(model).json"
    }
}
