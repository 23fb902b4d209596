import Foundation
import Synchronization
import WarehouseCrypto

/// A multipart upload fed from a file that is still being written: each complete part is
/// sent (several at once) as soon as its bytes are on disk, so sending overlaps receiving.
/// A file that never reaches one part goes up as a single PutObject at `finish`.
public final class S3StreamingUpload: Sendable {
    private let client: S3Client
    private let key: String
    private let state = Mutex(State())
    private let group = DispatchGroup()
    private let slots: DispatchSemaphore
    /// Parts take a slot in their order: a server that streams parts into the object in order
    /// (rclone) holds a later part until the earlier ones arrive, so a later part holding the
    /// last slot while an earlier one waits for it would stall the upload.
    private let starter = DispatchQueue(label: "warehouse.s3.part-starter")
    /// Each part's SHA-256, computed from the bytes as they arrive (so parts are read once).
    private let hashes = Mutex<[Int: String]>([:])
    private let producer = ProducerHashing()

    /// The running hash of the part being received.
    /// `@unchecked Sendable`: used by `available` and then `finish`, one after the other, never at once.
    final class ProducerHashing: @unchecked Sendable {
        var current = SHA256()
        var written: UInt64 = 0
    }

    struct State {
        var uploadID: String?
        var nextPart = 0
        var etags: [Int: String] = [:]
        var error: (any Error)?
        var finished = false
    }

    public init(client: S3Client, key: String) {
        self.client = client
        self.key = key
        self.slots = DispatchSemaphore(value: client.configuration.concurrentParts)
    }

    var partSize: UInt64 { client.configuration.partSize }

    /// Hashes `bytes` for their part's signature (when parts are signed; the file now holds
    /// `size` bytes) and starts the parts they complete. Never blocks the caller.
    public func available(_ bytes: UnsafeRawBufferPointer, path: String, size: UInt64) {
        let partSize = self.partSize
        var offset = 0
        // Unsigned parts need no digest of their own.
        while client.configuration.signPartPayloads, offset < bytes.count {
            let part = Int(producer.written / partSize)
            let partEnd = UInt64(part + 1) * partSize
            let take = Int(min(UInt64(bytes.count - offset), partEnd - producer.written))
            producer.current.update(UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + take)]))
            producer.written += UInt64(take)
            offset += take
            if producer.written == partEnd {
                let hash = Hex.encode(producer.current.finalize())
                hashes.withLock { $0[part] = hash }
                producer.current = SHA256()
            }
        }
        // A part goes once bytes exist past it, so it is never the last one: the last part is
        // sent by finish, and a file of one part or less is a single PutObject.
        while let part = claimPart(upTo: size, final: false) {
            send(part: part, path: path)
        }
    }

    /// Sends what is left and completes the upload (or does one PutObject for a small file).
    public func finish(path: String, size: UInt64, sha256: String) throws {
        let started = state.withLock { $0.uploadID != nil }
        if !started {
            try client.upload(key: key, path: path, size: size, sha256: sha256)
            return
        }
        // The last, partial part: its hash is complete now (only if every byte was seen).
        if client.configuration.signPartPayloads, producer.written == size, size % partSize != 0 {
            let hash = Hex.encode(producer.current.finalize())
            hashes.withLock { $0[Int(size / partSize)] = hash }
            producer.current = SHA256()
        }
        while let part = claimPart(upTo: size, final: true) {
            send(part: part, path: path)
        }
        group.wait()
        let (uploadID, etags, error) = state.withLock { state in
            state.finished = true
            return (state.uploadID!, state.etags, state.error)
        }
        if let error {
            abort()
            throw error
        }
        do {
            try client.completeMultipartUpload(key: key, uploadID: uploadID,
                                               etags: (0..<etags.count).map { etags[$0] ?? "" }, expectedSize: size)
        } catch {
            abort()
            throw error
        }
    }

    /// Aborts the multipart upload (and any object already completed is the caller's to delete).
    public func abort() {
        group.wait()
        let uploadID = state.withLock { state -> String? in
            state.finished = true
            defer { state.uploadID = nil }
            return state.uploadID
        }
        if let uploadID { client.abortMultipartUpload(key: key, uploadID: uploadID) }
    }

    /// The next part to send, if `size` bytes complete it (with `final`, the last partial one).
    private func claimPart(upTo size: UInt64, final: Bool) -> Int? {
        state.withLock { state in
            guard state.error == nil, !(state.finished && !final) else { return nil }
            let start = UInt64(state.nextPart) * partSize
            let complete = final ? start < size : start + partSize < size
            guard complete else { return nil }
            if state.uploadID == nil {
                do {
                    state.uploadID = try client.createMultipartUpload(key: key)
                } catch {
                    state.error = error
                    return nil
                }
            }
            defer { state.nextPart += 1 }
            return state.nextPart
        }
    }

    private func send(part index: Int, path: String) {
        let uploadID = state.withLock { $0.uploadID! }
        let offset = UInt64(index) * partSize
        group.enter()
        starter.async { [self] in
            slots.wait()
            DispatchQueue.global().async { [self] in
                defer { group.leave() }
                defer { slots.signal() }
                upload(part: index, path: path, uploadID: uploadID, offset: offset)
            }
        }
    }

    private func upload(part index: Int, path: String, uploadID: String, offset: UInt64) {
        guard state.withLock({ $0.error == nil }) else { return }
        do {
            let length = try Self.partLength(path: path, offset: offset, partSize: partSize)
            let hash = hashes.withLock { $0[index] }
            let etag = try client.uploadPart(key: key, uploadID: uploadID, number: index + 1, path: path,
                                             offset: offset, length: length, sha256: hash)
            state.withLock { $0.etags[index] = etag }
        } catch {
            state.withLock { if $0.error == nil { $0.error = error } }
        }
    }

    /// A part is a full part size, or what the file holds past `offset` for the last one.
    static func partLength(path: String, offset: UInt64, partSize: UInt64) throws -> UInt64 {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        let size = (attributes[.size] as? NSNumber)?.uint64Value ?? 0
        return min(partSize, size - min(size, offset))
    }
}
