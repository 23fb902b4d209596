import Foundation
import WarehouseCore
import WarehouseCrypto
import WarehouseFormats
#if canImport(Glibc)
import Glibc
#endif

extension ModelService {
    /// Reads a stored object once, through `consume` (which hashes or checks what it reads),
    /// while its first and last 16 MiB (where every format's headers and a ZIP's directory
    /// are) go into a sparse local file for inspection: the object is never copied whole.
    public func readInspecting<T>(key: String, size: UInt64, name: String,
                                  consume: ((UnsafeMutableRawBufferPointer) throws -> Int) throws -> T) throws -> (T, FileAnalysis) {
        let window: UInt64 = 16 << 20
        let sparse = try SpoolFile(directory: spoolDirectory)
        let sparseDescriptor = Glibc.open(sparse.path, O_WRONLY | O_CLOEXEC)
        defer { if sparseDescriptor >= 0 { close(sparseDescriptor) } }
        _ = ftruncate(sparseDescriptor, off_t(size))
        var offset: UInt64 = 0
        let reader = size > 0 ? try store.open(key: key, range: nil) : nil
        defer { reader?.close() }
        let result = try consume { buffer in
            guard let reader else { return 0 }
            let count = try reader.read(into: buffer)
            let end = offset + UInt64(count)
            if count > 0, offset < window || end > size - min(window, size) {
                _ = pwrite(sparseDescriptor, buffer.baseAddress, count, off_t(offset))
            }
            offset = end
            return count
        }
        return (result, FormatDetector.analyze(path: sparse.path, name: name))
    }

    /// The SHA-256 and size of a stored object, read once, with its inspection.
    public func hashStored(key: String, size: UInt64, name: String) throws -> (sha256: String, size: UInt64, analysis: FileAnalysis) {
        let ((sha256, total), analysis) = try readInspecting(key: key, size: size, name: name) { read -> (String, UInt64) in
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
            defer { buffer.deallocate() }
            let hasher = SHA256()
            var total: UInt64 = 0
            while true {
                let count = try read(buffer)
                if count == 0 { break }
                hasher.update(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
                total += UInt64(count)
            }
            return (Hex.encode(hasher.finalize()), total)
        }
        return (sha256, total, analysis)
    }

    /// Inspects a stored object from its first and last 16 MiB only (two ranged reads into a
    /// sparse file), for an object whose bytes were checked before.
    public func inspectStored(key: String, size: UInt64, name: String) throws -> FileAnalysis {
        if let local = store.localPath(key: key) { return FormatDetector.analyze(path: local, name: name) }
        let window: UInt64 = 16 << 20
        let sparse = try SpoolFile(directory: spoolDirectory)
        let sparseDescriptor = Glibc.open(sparse.path, O_WRONLY | O_CLOEXEC)
        defer { if sparseDescriptor >= 0 { close(sparseDescriptor) } }
        _ = ftruncate(sparseDescriptor, off_t(size))
        let ranges = size <= 2 * window ? [0..<size] : [0..<window, (size - window)..<size]
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        for range in ranges where !range.isEmpty {
            let reader = try store.open(key: key, range: range)
            defer { reader.close() }
            var offset = range.lowerBound
            while true {
                let count = try reader.read(into: buffer)
                if count == 0 { break }
                _ = pwrite(sparseDescriptor, buffer.baseAddress, count, off_t(offset))
                offset += UInt64(count)
            }
        }
        return FormatDetector.analyze(path: sparse.path, name: name)
    }
}

/// What was recorded when a staged object's bytes were hashed: their SHA-256 and the store's
/// ETag of the object then, so an object replaced since is hashed again.
struct StagedObjectCheck: Codable {
    let sha256: String
    let size: UInt64
    let etag: String?
}

extension ModelService {
    /// Records, at `checkKey`, that `object` was read and hashed to `sha256`.
    public func recordCheck(of object: ObjectInfo, sha256: String, at checkKey: String) throws {
        let check = StagedObjectCheck(sha256: sha256, size: object.size, etag: object.etag)
        try store.putData(key: checkKey, data: Array(try JSONCoding.string(check).utf8))
    }

    /// The SHA-256 recorded at `checkKey` for `object`, if it is still the object checked then
    /// (same size and ETag).
    public func checkedSHA256(of object: ObjectInfo, at checkKey: String) -> String? {
        guard let bytes = try? store.getData(key: checkKey),
              let check = try? JSONDecoder().decode(StagedObjectCheck.self, from: Data(bytes)),
              check.size == object.size, check.etag == object.etag else { return nil }
        return check.sha256
    }
}
