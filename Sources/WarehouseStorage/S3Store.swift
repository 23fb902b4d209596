import Foundation
import WarehouseCore
import WarehouseS3

/// Objects in an S3-compatible bucket, under an optional key prefix.
///
/// `Sendable`: immutable configuration plus a thread-safe client.
public final class S3Store: ObjectStore {
    public let client: S3Client
    /// Prepended to every key ("" or ending in "/").
    public let prefix: String

    /// Connects to the bucket, creating it when missing (if the credentials allow).
    public init(configuration: S3Configuration, prefix: String = "", createBucket: Bool = true) throws {
        do {
            client = try S3Client(configuration: configuration)
        } catch {
            throw WarehouseError.invalid("\(error)")
        }
        let trimmed = prefix.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        self.prefix = trimmed.isEmpty ? "" : trimmed + "/"
        if createBucket {
            try mapping { try client.createBucketIfMissing() }
        }
    }

    func fullKey(_ key: String) -> String { prefix + key }

    public func putFile(key: String, path: String, size: UInt64, sha256: String) throws {
        try mapping { try client.upload(key: fullKey(key), path: path, size: size, sha256: sha256) }
    }

    public func putData(key: String, data: [UInt8]) throws {
        try mapping { try client.putObject(key: fullKey(key), data: data, contentType: "application/json") }
    }

    public func getData(key: String) throws -> [UInt8] {
        try mapping { try client.getData(key: fullKey(key)) }
    }

    public func open(key: String, range: Range<UInt64>?) throws -> any ObjectReader {
        try S3ObjectReader(client: client, key: fullKey(key), range: range)
    }

    public func localPath(key: String) -> String? { nil }

    public func head(key: String) throws -> ObjectInfo? {
        try mapping { try client.headObjectInfo(key: fullKey(key)).map { ObjectInfo(key: key, size: $0.size, etag: $0.etag) } }
    }

    public func delete(key: String) throws {
        try mapping { try client.deleteObject(key: fullKey(key)) }
    }

    /// Deletes many keys with DeleteObjects (1,000 per request).
    public func delete(keys: [String]) throws {
        try mapping { try client.deleteObjects(keys: keys.map(fullKey)) }
    }

    public func list(prefix listPrefix: String) throws -> [ObjectInfo] {
        try mapping {
            try client.listObjects(prefix: fullKey(listPrefix)).map {
                ObjectInfo(key: String($0.key.dropFirst(prefix.count)), size: $0.size, etag: $0.etag)
            }.sorted { $0.key < $1.key }
        }
    }

    public func checkHealth() throws {
        try mapping { try client.checkBucket() }
    }

    public var streamsUploads: Bool { true }

    public func beginStreamingUpload(key: String) -> (any StreamingObjectUpload)? {
        StreamingUpload(S3StreamingUpload(client: client, key: fullKey(key)))
    }

    /// Adapts the S3 streaming upload to the store protocol, mapping its errors.
    final class StreamingUpload: StreamingObjectUpload {
        let upload: S3StreamingUpload
        init(_ upload: S3StreamingUpload) { self.upload = upload }

        func available(_ bytes: UnsafeRawBufferPointer, path: String, size: UInt64) {
            upload.available(bytes, path: path, size: size)
        }

        func finish(path: String, size: UInt64, sha256: String) throws {
            do {
                try upload.finish(path: path, size: size, sha256: sha256)
            } catch let error as S3Error {
                throw S3Store.warehouseError(error)
            }
        }

        func abort() { upload.abort() }
    }

    /// A presigned GET URL for `key`.
    public func presignedURL(key: String, expires: Int) -> String? {
        client.presignedGetURL(key: fullKey(key), expires: expires)
    }

    func mapping<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as S3Error {
            throw Self.warehouseError(error)
        }
    }

    static func warehouseError(_ error: S3Error) -> WarehouseError {
        if error.status == 404 || error.code == "NoSuchKey" { return .notFound("object not found in the bucket: \(error)") }
        return .storageUnavailable("\(error)")
    }
}

/// Streams an object from S3 to a pull-based consumer: libcurl's write callback runs on a
/// background thread and pushes into a bounded queue (8 MiB); `read` pops. Closing early
/// makes the next push refuse, which aborts the transfer.
final class S3ObjectReader: ObjectReader {
    private let queue = BoundedByteQueue(capacity: 8 << 20)

    init(client: S3Client, key: String, range: Range<UInt64>?) throws {
        let queue = self.queue
        let thread = Thread {
            do {
                try client.getObject(key: key, range: range) { chunk in queue.push(chunk) }
                queue.finish(nil)
            } catch let error as S3Error {
                queue.finish(S3Store.warehouseError(error))
            } catch {
                queue.finish(error)
            }
        }
        thread.stackSize = 1 << 20
        thread.start()
        // Wait for the first bytes or the end, so a missing object is an error here, before
        // any response status has been sent.
        try queue.waitForStart()
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        try queue.pop(into: buffer)
    }

    func close() {
        queue.close()
    }

    deinit {
        queue.close()
    }
}

/// A byte queue with a capacity: `push` blocks while full, `pop` while empty.
///
/// `@unchecked Sendable`: every field is read and written only while `condition` is locked.
final class BoundedByteQueue: @unchecked Sendable {
    private let condition = NSCondition()
    private var chunks: [[UInt8]] = []
    private var head = 0
    private var stored = 0
    private let capacity: Int
    private var finished = false
    private var failure: (any Error)?
    private var closed = false

    init(capacity: Int) {
        self.capacity = capacity
    }

    /// Producer side; false when the consumer has gone (abort the transfer).
    func push(_ bytes: UnsafeRawBufferPointer) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while stored >= capacity, !closed { condition.wait() }
        guard !closed else { return false }
        chunks.append(Array(bytes))
        stored += bytes.count
        condition.broadcast()
        return true
    }

    func finish(_ error: (any Error)?) {
        condition.lock()
        finished = true
        failure = error
        condition.broadcast()
        condition.unlock()
    }

    func waitForStart() throws {
        condition.lock()
        defer { condition.unlock() }
        while chunks.isEmpty, !finished { condition.wait() }
        if chunks.isEmpty, let failure { throw failure }
    }

    func pop(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        condition.lock()
        defer { condition.unlock() }
        while chunks.isEmpty, !finished { condition.wait() }
        if chunks.isEmpty {
            if let failure { throw failure }
            return 0
        }
        var written = 0
        while written < buffer.count, !chunks.isEmpty {
            let chunk = chunks[0]
            let count = min(buffer.count - written, chunk.count - head)
            chunk.withUnsafeBytes { source in
                (buffer.baseAddress! + written).copyMemory(from: source.baseAddress! + head, byteCount: count)
            }
            written += count
            head += count
            if head == chunk.count {
                chunks.removeFirst()
                head = 0
            }
        }
        stored -= written
        condition.broadcast()
        return written
    }

    func close() {
        condition.lock()
        closed = true
        chunks.removeAll()
        condition.broadcast()
        condition.unlock()
    }
}
