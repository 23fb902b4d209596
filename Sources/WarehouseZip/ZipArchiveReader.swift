internal import CArchive
#if canImport(Glibc)
import Glibc
#endif

/// Streams the entries of a ZIP file with libarchive's seekable ZIP reader, which trusts the
/// central directory (ZIP64, data descriptors, stored and deflated entries) and checks each
/// entry's CRC-32 as it is read.
///
/// Owns its `struct archive` and frees it in `deinit`. Not `Sendable`.
public final class ZipArchiveReader {
    private let archive: OpaquePointer
    private var entry: OpaquePointer?

    /// One entry's header as libarchive sees it.
    public struct Entry {
        /// The name as stored (libarchive's multibyte form), when it has one.
        public let rawName: [UInt8]?
        /// The name converted to UTF-8 by libarchive, when it could.
        public let utf8Name: String?
        public let size: Int64?
        public let isRegularFile: Bool
        public let isDirectory: Bool
        public let isEncrypted: Bool
    }

    public init(path: String, blockSize: Int = 1 << 20) throws {
        guard let archive = archive_read_new() else { throw ZipError.library("archive_read_new failed") }
        self.archive = archive
        archive_read_support_format_zip_seekable(archive)
        guard archive_read_open_filename(archive, path, blockSize) == ARCHIVE_OK else {
            throw ZipError.malformed("cannot open the ZIP archive: \(lastError)")
        }
    }

    deinit {
        archive_read_free(archive)
    }

    private var lastError: String {
        archive_error_string(archive).map { String(cString: $0) } ?? "unknown libarchive error"
    }

    /// The next entry, or nil after the last.
    public func next() throws -> Entry? {
        var pointer: OpaquePointer?
        let status = archive_read_next_header(archive, &pointer)
        if status == ARCHIVE_EOF { return nil }
        guard status == ARCHIVE_OK || status == ARCHIVE_WARN, let pointer else {
            throw ZipError.malformed("corrupt ZIP archive: \(lastError)")
        }
        entry = pointer
        let raw = archive_entry_pathname(pointer).map { name in
            Array(UnsafeRawBufferPointer(start: name, count: strlen(name)))
        }
        let type = archive_entry_filetype(pointer)
        return Entry(
            rawName: raw,
            utf8Name: archive_entry_pathname_utf8(pointer).map { String(cString: $0) },
            size: archive_entry_size_is_set(pointer) != 0 ? archive_entry_size(pointer) : nil,
            isRegularFile: UInt32(type) == mw_ae_ifreg,
            isDirectory: UInt32(type) == mw_ae_ifdir,
            isEncrypted: archive_entry_is_encrypted(pointer) != 0)
    }

    /// Reads the current entry's next bytes; 0 at its end. Fails on corrupt data or a bad CRC.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let count = archive_read_data(archive, buffer.baseAddress, buffer.count)
        guard count >= 0 else { throw ZipError.malformed("corrupt ZIP entry data: \(lastError)") }
        return count
    }
}

@available(*, unavailable)
extension ZipArchiveReader: Sendable {}
