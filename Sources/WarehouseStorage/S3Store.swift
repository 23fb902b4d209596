import Foundation
import Synchronization
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

    public func copy(from source: String, to destination: String, size: UInt64) throws {
        try mapping { try client.copyObject(from: fullKey(source), to: fullKey(destination), size: size) }
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

    public func list(prefix listPrefix: String, startAfter: String) throws -> [ObjectInfo] {
        try mapping {
            try client.listObjects(prefix: fullKey(listPrefix), startAfter: fullKey(startAfter)).map {
                ObjectInfo(key: String($0.key.dropFirst(prefix.count)), size: $0.size, etag: $0.etag)
            }.filter { $0.key > startAfter }.sorted { $0.key < $1.key }
        }
    }

    public func checkHealth() throws {
        try mapping { try client.checkBucket() }
    }

    // MARK: - Conditional writes

    public func putData(key: String, data: [UInt8], condition: WriteCondition) throws -> String? {
        try conditional(key) {
            switch condition {
            case .absent:
                return try client.putObject(key: fullKey(key), data: data, contentType: "application/json", ifNoneMatch: "*")
            case .matches(let etag):
                return try client.putObject(key: fullKey(key), data: data, contentType: "application/json", ifMatch: etag)
            }
        }
    }

    public func getDataAndETag(key: String) throws -> (bytes: [UInt8], etag: String?)? {
        try mapping { try client.getDataAndETag(key: fullKey(key)) }
    }

    public func delete(key: String, ifMatch etag: String) throws {
        try conditional(key) { try client.deleteObject(key: fullKey(key), ifMatch: etag) }
    }

    /// 412 is the race lost; 409 is AWS's ConditionalRequestConflict (another conditional
    /// write to the key in flight), lost as well.
    private func conditional<T>(_ key: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as S3Error where error.status == 412 || error.status == 409 {
            throw ConditionalWriteLost(key: key, detail: "\(error)")
        } catch let error as S3Error {
            throw Self.warehouseError(error)
        }
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

    // MARK: - Parted uploads: S3 multipart uploads, one part per request

    public func createPartedUpload(key: String, size: UInt64) throws -> String {
        try mapping { try client.startMultipartUpload(key: fullKey(key)) }
    }

    public func partWriter(key: String, uploadID: String, number: Int, offset: UInt64, length: UInt64,
                           sha256: String) throws -> any PartWriter {
        S3PartWriter(client: client, key: fullKey(key), uploadID: uploadID, number: number, length: length, sha256: sha256)
    }

    public func listParts(key: String, uploadID: String) throws -> [StoredPart]? {
        try mapping {
            try client.listParts(key: fullKey(key), uploadID: uploadID).map { StoredPart(number: $0.number, size: $0.size, etag: $0.etag) }
        }
    }

    public func completePartedUpload(key: String, uploadID: String, parts: [StoredPart], size: UInt64) throws {
        try mapping {
            try client.finishMultipartUpload(key: fullKey(key), uploadID: uploadID, parts: parts.map { ($0.number, $0.etag) },
                                             expectedSize: size)
        }
    }

    public func abortPartedUpload(key: String, uploadID: String) throws {
        try mapping { try client.cancelMultipartUpload(key: fullKey(key), uploadID: uploadID) }
    }

    public func presignedPartURL(key: String, uploadID: String, number: Int, expires: Int) -> String? {
        client.presignedPartURL(key: fullKey(key), uploadID: uploadID, number: number, expires: expires)
    }

    public func pendingPartedUploads() throws -> [PendingPartedUpload] {
        try mapping {
            try client.listMultipartUploads(prefix: prefix).map {
                PendingPartedUpload(key: String($0.key.dropFirst(prefix.count)), uploadID: $0.uploadID)
            }
        }
    }

    /// A presigned GET URL for `key`.
    public func presignedURL(key: String, expires: Int) -> String? {
        client.presignedGetURL(key: fullKey(key), expires: expires)
    }

    public func presignedUploadURL(key: String, expires: Int) -> String? {
        client.presignedPutURL(key: fullKey(key), expires: expires)
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

/// One part streamed from the request body into an UploadPart request: curl pulls on its own
/// thread from a bounded pipe the request's thread fills. The part's last byte is held back
/// until `commit`, so a part the service refuses (a wrong checksum, found only at its end)
/// never completes in the bucket: its transfer is aborted instead.
final class S3PartWriter: PartWriter {
    private let pipe: PartPipe
    private let done = DispatchSemaphore(value: 0)
    private let outcome = PartOutcome()
    private var finished = false

    init(client: S3Client, key: String, uploadID: String, number: Int, length: UInt64, sha256: String) {
        let pipe = PartPipe(capacity: 8 << 20, length: length)
        self.pipe = pipe
        let outcome = self.outcome
        let done = self.done
        let thread = Thread {
            let result = Result {
                try client.uploadPart(key: key, uploadID: uploadID, number: number, length: length, sha256: sha256) { buffer in
                    try pipe.pull(into: buffer)
                }
            }
            pipe.cancel()
            outcome.value.withLock { $0 = result }
            done.signal()
        }
        thread.stackSize = 1 << 20
        thread.start()
    }

    deinit { abort() }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard pipe.push(bytes) else {
            wait()
            if case .failure(let error)? = outcome.value.withLock({ $0 }) { throw Self.mapped(error) }
            throw WarehouseError.storageUnavailable("the bucket stopped taking the part")
        }
    }

    func commit() throws -> String {
        pipe.seal()
        wait()
        switch outcome.value.withLock({ $0 }) {
        case .success(let etag)?: return etag
        case .failure(let error)?: throw Self.mapped(error)
        case nil: throw WarehouseError.storageUnavailable("the part upload ended without an answer")
        }
    }

    func abort() {
        pipe.cancel()
        wait()
    }

    private func wait() {
        guard !finished else { return }
        done.wait()
        finished = true
    }

    static func mapped(_ error: any Error) -> any Error {
        guard let error = error as? S3Error else { return error }
        if error.code == "NotImplemented", "\(error)".contains("cannot be replaced") { return PartReplacementRefused("\(error)") }
        return S3Store.warehouseError(error)
    }
}

/// What the part's upload thread ended with.
final class PartOutcome: Sendable {
    let value = Mutex<Result<String, any Error>?>(nil)
}

/// The bytes of one part between the request's thread (`push`) and curl's (`pull`).
///
/// `@unchecked Sendable`: every field is read and written only while `condition` is locked.
final class PartPipe: @unchecked Sendable {
    private let condition = NSCondition()
    private var chunks: [[UInt8]] = []
    private var head = 0
    private var stored = 0
    private let capacity: Int
    private let length: UInt64
    private var delivered: UInt64 = 0
    private var sealed = false
    private var cancelled = false

    struct Cancelled: Error {}

    init(capacity: Int, length: UInt64) {
        self.capacity = capacity
        self.length = length
    }

    /// False once the consumer has gone (the transfer failed or was cancelled).
    func push(_ bytes: UnsafeRawBufferPointer) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while stored >= capacity, !cancelled { condition.wait() }
        guard !cancelled else { return false }
        chunks.append(Array(bytes))
        stored += bytes.count
        condition.broadcast()
        return true
    }

    /// Every byte is pushed and accepted: the last one may go.
    func seal() {
        condition.lock()
        sealed = true
        condition.broadcast()
        condition.unlock()
    }

    func cancel() {
        condition.lock()
        cancelled = true
        chunks.removeAll()
        stored = 0
        condition.broadcast()
        condition.unlock()
    }

    /// Curl's read: blocks until bytes may go; throws (aborting the transfer) once cancelled.
    func pull(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        condition.lock()
        defer { condition.unlock() }
        while true {
            if cancelled { throw Cancelled() }
            if delivered >= length { return 0 }
            // Before the seal, everything but the part's last byte.
            let allowance = sealed ? length - delivered : length - delivered - 1
            let ready = min(UInt64(stored), allowance, UInt64(buffer.count))
            if ready > 0 {
                var written = 0
                while written < Int(ready) {
                    let chunk = chunks[0]
                    let count = min(Int(ready) - written, chunk.count - head)
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
                delivered += UInt64(written)
                condition.broadcast()
                return written
            }
            condition.wait()
        }
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
