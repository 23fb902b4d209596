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

    /// Puts a copy of the object at `source` (of `size` bytes) at `destination`, without the
    /// bytes passing through this process where the store can help it (S3 CopyObject, a
    /// hard link): how a version carries over its parent's files.
    func copy(from source: String, to destination: String, size: UInt64) throws

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

    /// The objects under `prefix` whose keys sort after `startAfter`, in key order.
    func list(prefix: String, startAfter: String) throws -> [ObjectInfo]

    // MARK: Conditional writes (several replicas on one bucket)

    /// Stores a small object only if `condition` holds when it lands; answers its new ETag.
    /// Throws `ConditionalWriteLost` when another writer got there first, and
    /// `WarehouseError.invalid` on a store that cannot write conditionally.
    func putData(key: String, data: [UInt8], condition: WriteCondition) throws -> String?

    /// A small object and its ETag, or nil when absent.
    func getDataAndETag(key: String) throws -> (bytes: [UInt8], etag: String?)?

    /// Removes `key` only while it still has `etag` (`ConditionalWriteLost` otherwise).
    func delete(key: String, ifMatch etag: String) throws

    /// Throws `storageUnavailable` when the store cannot be used.
    func checkHealth() throws

    // MARK: Parted uploads (upload sessions)

    /// Starts an upload of `key` whose parts arrive separately, in any order; answers its id.
    /// Nothing is visible at `key` until `completePartedUpload`.
    func createPartedUpload(key: String, size: UInt64) throws -> String

    /// Receives part `number` (bytes `offset..<offset+length` of the object), whose SHA-256 the
    /// client announced as `sha256`. The writer stores nothing until `commit`.
    func partWriter(key: String, uploadID: String, number: Int, offset: UInt64, length: UInt64,
                    sha256: String) throws -> any PartWriter

    /// The parts the store holds, for parts that did not pass through the service (presigned).
    /// Nil when the store cannot say (the service then knows every part itself).
    func listParts(key: String, uploadID: String) throws -> [StoredPart]?

    /// Joins the parts, in number order, into the object at `key`.
    func completePartedUpload(key: String, uploadID: String, parts: [StoredPart], size: UInt64) throws

    /// Removes every part; an upload already gone is not an error.
    func abortPartedUpload(key: String, uploadID: String) throws

    /// A URL the client can PUT the whole object at `key` to directly, when the store has such URLs.
    func presignedUploadURL(key: String, expires: Int) -> String?

    /// A URL the client can PUT part `number` to directly, when the store has such URLs.
    func presignedPartURL(key: String, uploadID: String, number: Int, expires: Int) -> String?

    /// Every parted upload the store holds (to clean up what no session owns any more).
    func pendingPartedUploads() throws -> [PendingPartedUpload]

    /// A local file holding the upload's bytes before completion, when the store has one
    /// (lets the service hash and inspect it without reading it back through the network).
    func partedUploadPath(uploadID: String) -> String?
}

/// One stored part of a parted upload.
public struct StoredPart: Sendable, Equatable {
    public let number: Int
    public let size: UInt64
    public let etag: String

    public init(number: Int, size: UInt64, etag: String) {
        self.number = number
        self.size = size
        self.etag = etag
    }
}

/// A parted upload a store still holds: its key when the store records one, and its id.
public struct PendingPartedUpload: Sendable, Equatable {
    public let key: String?
    public let uploadID: String

    public init(key: String?, uploadID: String) {
        self.key = key
        self.uploadID = uploadID
    }
}

/// A store refused a part sent again because it cannot replace one whose bytes it began to
/// take (rclone serve s3 streams parts into the object as they come).
public struct PartReplacementRefused: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Receives one part's bytes as the request body brings them. Used from one thread.
public protocol PartWriter: AnyObject {
    func write(_ bytes: UnsafeRawBufferPointer) throws
    /// Every byte was written and checked: store the part; answers its entity tag.
    func commit() throws -> String
    /// This attempt is refused (or its request was cut): nothing of it counts.
    func abort()
}

/// What must hold for a conditional write to land.
public enum WriteCondition: Sendable, Equatable {
    /// The key does not exist (`If-None-Match: *`).
    case absent
    /// The key still holds the object with this ETag (`If-Match`).
    case matches(String)
}

/// A conditional write or delete found the object other than the caller expected: another
/// replica wrote it first.
public struct ConditionalWriteLost: Error, CustomStringConvertible {
    public let key: String
    public let detail: String
    public init(key: String, detail: String) {
        self.key = key
        self.detail = detail
    }
    public var description: String { "conditional write of \(key) lost: \(detail)" }
}

extension ObjectStore {
    public func list(prefix: String, startAfter: String) throws -> [ObjectInfo] {
        try list(prefix: prefix).filter { $0.key > startAfter }.sorted { $0.key < $1.key }
    }

    public func putData(key: String, data: [UInt8], condition: WriteCondition) throws -> String? {
        throw WarehouseError.invalid("this store cannot write conditionally (\(key))")
    }

    public func getDataAndETag(key: String) throws -> (bytes: [UInt8], etag: String?)? {
        do {
            return (try getData(key: key), try head(key: key)?.etag)
        } catch WarehouseError.notFound {
            return nil
        }
    }

    public func delete(key: String, ifMatch etag: String) throws {
        throw WarehouseError.invalid("this store cannot delete conditionally (\(key))")
    }

    public func presignedURL(key: String, expires: Int) -> String? { nil }

    public func beginStreamingUpload(key: String) -> (any StreamingObjectUpload)? { nil }

    public var streamsUploads: Bool { false }

    public func delete(keys: [String]) throws {
        for key in keys { try delete(key: key) }
    }

    public func listParts(key: String, uploadID: String) throws -> [StoredPart]? { nil }

    public func presignedPartURL(key: String, uploadID: String, number: Int, expires: Int) -> String? { nil }

    public func presignedUploadURL(key: String, expires: Int) -> String? { nil }

    public func partedUploadPath(uploadID: String) -> String? { nil }
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

