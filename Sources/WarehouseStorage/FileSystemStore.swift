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

    public init(root: String, temporaryDirectory: String) throws {
        self.root = root
        self.temporaryDirectory = temporaryDirectory
        for directory in [root, temporaryDirectory] {
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
            guard key.hasPrefix(prefix) else { continue }
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
