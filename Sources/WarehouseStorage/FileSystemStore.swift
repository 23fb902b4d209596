import Foundation
import WarehouseCore
#if canImport(Glibc)
import Glibc
#endif

/// The embedded default store: objects are files under `root`, at their keys.
///
/// Writes are atomic and durable: bytes go to a temporary file on the same filesystem, are
/// fsynced, and are renamed into place, so a crash leaves either the old object or the new one.
/// `Sendable`: it holds only immutable paths; the filesystem does the synchronisation.
public struct FileSystemStore: ObjectStore {
    public let root: String
    /// Same filesystem as `root`, so renames are atomic.
    public let temporaryDirectory: String

    /// Parted uploads of open upload sessions: one file each, named by its upload id, filled
    /// part by part and renamed into place at completion. Inside `root` (so on its
    /// filesystem) but outside every key; unlike `temporaryDirectory` it survives restarts.
    public var uploadsDirectory: String { root + "/.uploads" }

    public init(root: String, temporaryDirectory: String) throws {
        self.root = root
        self.temporaryDirectory = temporaryDirectory
        for directory in [root, temporaryDirectory, root + "/.uploads"] {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            } catch {
                throw WarehouseError.storageUnavailable("cannot create storage directory \(directory): \(error.localizedDescription)")
            }
        }
    }

    func path(for key: String) throws -> String {
        let segments = key.split(separator: "/", omittingEmptySubsequences: false)
        guard !key.isEmpty, !key.hasPrefix("/"), !segments.contains(where: { $0.isEmpty || $0 == ".." || $0 == "." }) else {
            throw WarehouseError.invalid("invalid object key \(Identifiers.quoted(key))")
        }
        return root + "/" + key
    }

    public func putFile(key: String, path source: String, size: UInt64, sha256: String) throws {
        let destination = try path(for: key)
        try ensureParent(of: destination)
        try syncFile(source)
        if rename(source, destination) != 0 {
            guard errno == EXDEV else { throw posixFailure("cannot store \(key)") }
            // Spool on another filesystem: copy through a temporary file, then rename.
            let temporary = temporaryPath()
            do {
                try FileManager.default.copyItem(atPath: source, toPath: temporary)
                try syncFile(temporary)
                guard rename(temporary, destination) == 0 else { throw posixFailure("cannot store \(key)") }
            } catch {
                unlink(temporary)
                throw error
            }
        }
        syncDirectory(of: destination)
    }

    /// A hard link: objects are never rewritten in place (every write renames a new file over
    /// the key), so the two keys can share one inode. Where links are refused (another
    /// filesystem, a filesystem without them) the bytes are copied through a temporary file.
    public func copy(from source: String, to destination: String, size: UInt64) throws {
        let from = try path(for: source)
        let to = try path(for: destination)
        try ensureParent(of: to)
        let temporary = temporaryPath()
        if link(from, temporary) != 0 {
            if errno == ENOENT { throw WarehouseError.notFound("object \(source) does not exist") }
            do {
                try FileManager.default.copyItem(atPath: from, toPath: temporary)
                try syncFile(temporary)
            } catch {
                unlink(temporary)
                throw WarehouseError.storageUnavailable("cannot copy \(source) to \(destination): \(error.localizedDescription)")
            }
        }
        guard rename(temporary, to) == 0 else {
            let failure = posixFailure("cannot copy \(source) to \(destination)")
            unlink(temporary)
            throw failure
        }
        syncDirectory(of: to)
    }

    public func putData(key: String, data: [UInt8]) throws {
        let destination = try path(for: key)
        try ensureParent(of: destination)
        let temporary = temporaryPath()
        let descriptor = Glibc.open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw posixFailure("cannot write \(key)") }
        var failed = false
        data.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 { if errno == EINTR { continue }; failed = true; return }
                offset += written
            }
        }
        if failed || fsync(descriptor) != 0 {
            let failure = posixFailure("cannot write \(key)")
            close(descriptor)
            unlink(temporary)
            throw failure
        }
        close(descriptor)
        guard rename(temporary, destination) == 0 else {
            let failure = posixFailure("cannot write \(key)")
            unlink(temporary)
            throw failure
        }
        syncDirectory(of: destination)
    }

    public func getData(key: String) throws -> [UInt8] {
        let path = try path(for: key)
        guard let data = FileManager.default.contents(atPath: path) else {
            throw WarehouseError.notFound("object \(key) does not exist")
        }
        return Array(data)
    }

    public func open(key: String, range: Range<UInt64>?) throws -> any ObjectReader {
        let path = try path(for: key)
        let descriptor = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            if errno == ENOENT { throw WarehouseError.notFound("object \(key) does not exist") }
            throw posixFailure("cannot open \(key)")
        }
        var status = stat()
        fstat(descriptor, &status)
        let size = UInt64(status.st_size)
        let bounds = range ?? 0..<size
        return FileObjectReader(descriptor: descriptor, offset: bounds.lowerBound, end: min(bounds.upperBound, size))
    }

    public func localPath(key: String) -> String? {
        guard let path = try? path(for: key), access(path, R_OK) == 0 else { return nil }
        return path
    }

    public func head(key: String) throws -> ObjectInfo? {
        let path = try path(for: key)
        var status = stat()
        guard stat(path, &status) == 0 else {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw posixFailure("cannot stat \(key)")
        }
        guard (status.st_mode & S_IFMT) == S_IFREG else { return nil }
        return ObjectInfo(key: key, size: UInt64(status.st_size), etag: Self.etag(status))
    }

    /// The file's identity as an entity tag: inode and modification time. A file rewritten in
    /// place or replaced by another (even with as many bytes) gets a new one.
    static func etag(_ status: stat) -> String {
        "\(status.st_ino)-\(status.st_mtim.tv_sec).\(status.st_mtim.tv_nsec)"
    }

    public func delete(key: String) throws {
        let path = try path(for: key)
        if unlink(path) != 0, errno != ENOENT, errno != ENOTDIR {
            throw posixFailure("cannot delete \(key)")
        }
        removeEmptyParents(of: path)
    }

    public func list(prefix: String) throws -> [ObjectInfo] {
        // Walk from the deepest directory the prefix names, then filter by the full prefix.
        let directoryPart = prefix.contains("/") ? String(prefix[..<prefix.lastIndex(of: "/")!]) : ""
        let start = directoryPart.isEmpty ? root : root + "/" + directoryPart
        guard let enumerator = FileManager.default.enumerator(atPath: start) else { return [] }
        var objects: [ObjectInfo] = []
        while let relative = enumerator.nextObject() as? String {
            let key = directoryPart.isEmpty ? relative : directoryPart + "/" + relative
            guard key.hasPrefix(prefix), !key.hasPrefix(".uploads/") else { continue }
            var status = stat()
            guard stat(root + "/" + key, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG else { continue }
            objects.append(ObjectInfo(key: key, size: UInt64(status.st_size), etag: Self.etag(status)))
        }
        return objects.sorted { $0.key < $1.key }
    }

    public func checkHealth() throws {
        guard access(root, W_OK) == 0, access(temporaryDirectory, W_OK) == 0 else {
            throw WarehouseError.storageUnavailable("storage directory \(root) is not writable")
        }
    }

    // MARK: - Parted uploads

    public func createPartedUpload(key: String, size: UInt64) throws -> String {
        _ = try path(for: key)
        let uploadID = UUID().uuidString.lowercased()
        let staging = uploadsDirectory + "/" + uploadID
        let descriptor = Glibc.open(staging, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw posixFailure("cannot start an upload of \(key)") }
        defer { close(descriptor) }
        // Sparse until the parts arrive: the space is the file's size, never more.
        guard ftruncate(descriptor, off_t(size)) == 0 else {
            let failure = posixFailure("cannot start an upload of \(key)")
            unlink(staging)
            throw failure
        }
        return uploadID
    }

    public func partWriter(key: String, uploadID: String, number: Int, offset: UInt64, length: UInt64,
                           sha256: String) throws -> any PartWriter {
        let staging = try stagingPath(uploadID)
        let descriptor = Glibc.open(staging, O_WRONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            if errno == ENOENT { throw WarehouseError.notFound("the upload of \(key) is gone") }
            throw posixFailure("cannot open the upload of \(key)")
        }
        return FilePartWriter(descriptor: descriptor, offset: offset, length: length, etag: sha256)
    }

    public func completePartedUpload(key: String, uploadID: String, parts: [StoredPart], size: UInt64) throws {
        let staging = try stagingPath(uploadID)
        var status = stat()
        guard stat(staging, &status) == 0 else { throw WarehouseError.notFound("the upload of \(key) is gone") }
        guard UInt64(status.st_size) == size else {
            throw WarehouseError.storageUnavailable("the upload of \(key) holds \(status.st_size) bytes, expected \(size)")
        }
        let destination = try path(for: key)
        try ensureParent(of: destination)
        try syncFile(staging)
        guard rename(staging, destination) == 0 else { throw posixFailure("cannot store \(key)") }
        syncDirectory(of: destination)
    }

    public func abortPartedUpload(key: String, uploadID: String) throws {
        let staging = try stagingPath(uploadID)
        if unlink(staging) != 0, errno != ENOENT { throw posixFailure("cannot remove the upload of \(key)") }
    }

    public func pendingPartedUploads() throws -> [PendingPartedUpload] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: uploadsDirectory)) ?? []
        return names.sorted().map { PendingPartedUpload(key: nil, uploadID: $0) }
    }

    public func partedUploadPath(uploadID: String) -> String? {
        guard let staging = try? stagingPath(uploadID), access(staging, R_OK) == 0 else { return nil }
        return staging
    }

    private func stagingPath(_ uploadID: String) throws -> String {
        guard !uploadID.isEmpty, uploadID.allSatisfy({ $0.isHexDigit || $0 == "-" }) else {
            throw WarehouseError.invalid("invalid upload id \(Identifiers.quoted(uploadID))")
        }
        return uploadsDirectory + "/" + uploadID
    }

    // MARK: - Helpers

    private func temporaryPath() -> String {
        temporaryDirectory + "/object-" + UUID().uuidString + ".tmp"
    }

    private func ensureParent(of path: String) throws {
        let parent = (path as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        } catch {
            throw WarehouseError.storageUnavailable("cannot create directory \(parent): \(error.localizedDescription)")
        }
    }

    private func syncFile(_ path: String) throws {
        let descriptor = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw posixFailure("cannot open \(path)") }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw posixFailure("cannot sync \(path)") }
    }

    private func syncDirectory(of path: String) {
        let descriptor = Glibc.open((path as NSString).deletingLastPathComponent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        fsync(descriptor)
        close(descriptor)
    }

    /// Deletes leave no empty directories behind, up to (not including) the root.
    private func removeEmptyParents(of path: String) {
        var directory = (path as NSString).deletingLastPathComponent
        while directory.count > root.count, directory.hasPrefix(root + "/") {
            guard rmdir(directory) == 0 else { return }
            directory = (directory as NSString).deletingLastPathComponent
        }
    }

    /// The current errno as a storage failure (disk full, permissions, I/O error: all 503).
    private func posixFailure(_ what: String) -> WarehouseError {
        .storageUnavailable("\(what): \(String(cString: strerror(errno)))")
    }
}

/// Writes one part into its place in the upload's file. A refused attempt leaves bytes in
/// that range, which count for nothing: only committed parts are recorded, and a resent part
/// overwrites them.
final class FilePartWriter: PartWriter {
    private var descriptor: Int32
    private let offset: UInt64
    private let length: UInt64
    private var written: UInt64 = 0
    private let etag: String

    init(descriptor: Int32, offset: UInt64, length: UInt64, etag: String) {
        self.descriptor = descriptor
        self.offset = offset
        self.length = length
        self.etag = etag
    }

    deinit { abort() }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard var base = bytes.baseAddress, bytes.count > 0 else { return }
        guard written + UInt64(bytes.count) <= length else {
            throw WarehouseError.invalid("the part is larger than its announced \(length) bytes")
        }
        var remaining = bytes.count
        while remaining > 0 {
            let count = pwrite(descriptor, base, remaining, off_t(offset + written))
            if count < 0 {
                if errno == EINTR { continue }
                throw WarehouseError.storageUnavailable("writing a part failed: \(String(cString: strerror(errno)))")
            }
            remaining -= count
            base += count
            written += UInt64(count)
        }
    }

    func commit() throws -> String {
        defer { abort() }
        // Durable before the catalog says it arrived: a resumed session never skips lost bytes.
        guard fdatasync(descriptor) == 0 else {
            throw WarehouseError.storageUnavailable("syncing a part failed: \(String(cString: strerror(errno)))")
        }
        return etag
    }

    func abort() {
        if descriptor >= 0 {
            Glibc.close(descriptor)
            descriptor = -1
        }
    }
}

/// Streams a byte range of an open file with `pread`.
final class FileObjectReader: ObjectReader {
    private var descriptor: Int32
    private var offset: UInt64
    private let end: UInt64

    init(descriptor: Int32, offset: UInt64, end: UInt64) {
        self.descriptor = descriptor
        self.offset = offset
        self.end = end
    }

    deinit { close() }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard offset < end, let base = buffer.baseAddress else { return 0 }
        let wanted = Int(min(UInt64(buffer.count), end - offset))
        while true {
            let count = pread(descriptor, base, wanted, off_t(offset))
            if count < 0 {
                if errno == EINTR { continue }
                throw WarehouseError.storageUnavailable("read failed: \(String(cString: strerror(errno)))")
            }
            offset += UInt64(count)
            return count
        }
    }

    func close() {
        if descriptor >= 0 {
            Glibc.close(descriptor)
            descriptor = -1
        }
    }
}
