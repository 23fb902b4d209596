/// The kinds of call an `ObjectStoreInterceptor` sees (also the `operation` label of the
/// storage error metric).
public enum ObjectStoreOperation: String, Sendable, CaseIterable {
    case put, get, head, delete, list, copy, health
}

/// Runs around every call a store makes that can fail: counts failures (metrics), or makes
/// calls fail on purpose (the tests' fault injection). A strategy plugged into one
/// `InterceptedObjectStore`, so no store or service branches on either.
public protocol ObjectStoreInterceptor: Sendable {
    func intercept<T>(_ operation: ObjectStoreOperation, key: String?, _ body: () throws -> T) throws -> T
    /// Wraps a streaming upload the store began (nil-free: answer it unchanged to leave it).
    func intercept(streamingUpload: any StreamingObjectUpload) -> any StreamingObjectUpload
}

extension ObjectStoreInterceptor {
    public func intercept(streamingUpload: any StreamingObjectUpload) -> any StreamingObjectUpload { streamingUpload }
}

/// A store whose every fallible call goes through an interceptor; calls that cannot fail
/// (local paths, presigned URLs) pass straight to the inner store.
public struct InterceptedObjectStore: ObjectStore {
    public let inner: any ObjectStore
    public let interceptor: any ObjectStoreInterceptor

    public init(_ inner: any ObjectStore, interceptor: any ObjectStoreInterceptor) {
        self.inner = inner
        self.interceptor = interceptor
    }

    private func run<T>(_ operation: ObjectStoreOperation, _ key: String?, _ body: () throws -> T) throws -> T {
        try interceptor.intercept(operation, key: key, body)
    }

    public func putFile(key: String, path: String, size: UInt64, sha256: String) throws {
        try run(.put, key) { try inner.putFile(key: key, path: path, size: size, sha256: sha256) }
    }
    public func putData(key: String, data: [UInt8]) throws { try run(.put, key) { try inner.putData(key: key, data: data) } }
    public func getData(key: String) throws -> [UInt8] { try run(.get, key) { try inner.getData(key: key) } }
    public func open(key: String, range: Range<UInt64>?) throws -> any ObjectReader {
        try run(.get, key) { try inner.open(key: key, range: range) }
    }
    public func localPath(key: String) -> String? { inner.localPath(key: key) }
    public func head(key: String) throws -> ObjectInfo? { try run(.head, key) { try inner.head(key: key) } }
    public func delete(key: String) throws { try run(.delete, key) { try inner.delete(key: key) } }
    public func delete(keys: [String]) throws { try run(.delete, keys.first) { try inner.delete(keys: keys) } }
    public func copy(from source: String, to destination: String, size: UInt64) throws {
        try run(.copy, destination) { try inner.copy(from: source, to: destination, size: size) }
    }
    public func presignedURL(key: String, expires: Int) -> String? { inner.presignedURL(key: key, expires: expires) }
    public func beginStreamingUpload(key: String) -> (any StreamingObjectUpload)? {
        inner.beginStreamingUpload(key: key).map(interceptor.intercept(streamingUpload:))
    }
    public var streamsUploads: Bool { inner.streamsUploads }
    public func list(prefix: String) throws -> [ObjectInfo] { try run(.list, prefix) { try inner.list(prefix: prefix) } }
    public func list(prefix: String, startAfter: String) throws -> [ObjectInfo] {
        try run(.list, prefix) { try inner.list(prefix: prefix, startAfter: startAfter) }
    }
    public func putData(key: String, data: [UInt8], condition: WriteCondition) throws -> String? {
        try run(.put, key) { try inner.putData(key: key, data: data, condition: condition) }
    }
    public func getDataAndETag(key: String) throws -> (bytes: [UInt8], etag: String?)? {
        try run(.get, key) { try inner.getDataAndETag(key: key) }
    }
    public func delete(key: String, ifMatch etag: String) throws { try run(.delete, key) { try inner.delete(key: key, ifMatch: etag) } }
    public func checkHealth() throws { try run(.health, nil) { try inner.checkHealth() } }

    public func createPartedUpload(key: String, size: UInt64) throws -> String {
        try run(.put, key) { try inner.createPartedUpload(key: key, size: size) }
    }
    public func partWriter(key: String, uploadID: String, number: Int, offset: UInt64, length: UInt64,
                           sha256: String) throws -> any PartWriter {
        try run(.put, key) {
            try inner.partWriter(key: key, uploadID: uploadID, number: number, offset: offset, length: length, sha256: sha256)
        }
    }
    public func listParts(key: String, uploadID: String) throws -> [StoredPart]? {
        try run(.list, key) { try inner.listParts(key: key, uploadID: uploadID) }
    }
    public func completePartedUpload(key: String, uploadID: String, parts: [StoredPart], size: UInt64) throws {
        try run(.put, key) { try inner.completePartedUpload(key: key, uploadID: uploadID, parts: parts, size: size) }
    }
    public func abortPartedUpload(key: String, uploadID: String) throws {
        try run(.delete, key) { try inner.abortPartedUpload(key: key, uploadID: uploadID) }
    }
    public func presignedUploadURL(key: String, expires: Int) -> String? {
        inner.presignedUploadURL(key: key, expires: expires)
    }

    public func presignedPartURL(key: String, uploadID: String, number: Int, expires: Int) -> String? {
        inner.presignedPartURL(key: key, uploadID: uploadID, number: number, expires: expires)
    }
    public func pendingPartedUploads() throws -> [PendingPartedUpload] { try run(.list, nil) { try inner.pendingPartedUploads() } }
    public func partedUploadPath(uploadID: String) -> String? { inner.partedUploadPath(uploadID: uploadID) }
}
