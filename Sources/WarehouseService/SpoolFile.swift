import Foundation
import WarehouseCore
import WarehouseCrypto
#if canImport(Glibc)
import Glibc
#endif

/// A temporary file in the spool directory, written while its SHA-256 is computed. Removed
/// on deinit unless a store has taken it (renamed it away).
public final class SpoolFile {
    public let path: String
    private var descriptor: Int32
    private let hasher = SHA256()
    public private(set) var size: UInt64 = 0

    public init(directory: String) throws {
        path = directory + "/extract-" + UUID().uuidString + ".part"
        descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw WarehouseError.storageUnavailable("cannot create spool file in \(directory): \(String(cString: strerror(errno)))")
        }
    }

    deinit {
        if descriptor >= 0 { close(descriptor) }
        unlink(path)
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard var base = bytes.baseAddress, bytes.count > 0 else { return }
        hasher.update(bytes)
        var remaining = bytes.count
        while remaining > 0 {
            let written = Glibc.write(descriptor, base, remaining)
            if written < 0 {
                if errno == EINTR { continue }
                throw WarehouseError.storageUnavailable("writing spool file failed: \(String(cString: strerror(errno)))")
            }
            remaining -= written
            base += written
        }
        size += UInt64(bytes.count)
    }

    /// Closes the file and answers its SHA-256.
    public func finish() -> String {
        close(descriptor)
        descriptor = -1
        return Hex.encode(hasher.finalize())
    }
}
