internal import CArchive

/// Writes a ZIP archive with libarchive into an in-memory output queue that the caller drains,
/// so an archive can be produced step by step while it is being sent (pull, not push).
/// Memory is bounded by what one step writes: the caller feeds small pieces and drains often.
///
/// ZIP64 records are written by libarchive when sizes or offsets need them. Owns its
/// `struct archive`, freed in `deinit`. Not `Sendable`.
public final class ZipStreamWriter {
    public enum Compression: Sendable {
        /// Entries stored as they are (weights rarely compress; this is the fast default).
        case store
        case deflate
    }

    private let archive: OpaquePointer
    private var output: [UInt8] = []
    private var outputStart = 0
    private var closed = false

    public init(compression: Compression) throws {
        guard let archive = archive_write_new() else { throw ZipError.library("archive_write_new failed") }
        self.archive = archive
        archive_write_set_format_zip(archive)
        // Names are written as UTF-8 with the language-encoding flag set.
        archive_write_set_format_option(archive, "zip", "hdrcharset", "UTF-8")
        switch compression {
        case .store: archive_write_zip_set_compression_store(archive)
        case .deflate: archive_write_zip_set_compression_deflate(archive)
        }
        // No blocking: every write reaches the output queue at once.
        archive_write_set_bytes_per_block(archive, 0)
        let context = Unmanaged.passUnretained(self).toOpaque()
        // The callback is a literal closure so Swift can form a C function pointer from it; it
        // captures nothing and finds the writer through the context pointer (the writer owns
        // the archive, so it outlives every call).
        let status = archive_write_open2(archive, context, nil, { _, context, buffer, length in
            guard let context, let buffer else { return -1 }
            Unmanaged<ZipStreamWriter>.fromOpaque(context).takeUnretainedValue()
                .append(UnsafeRawBufferPointer(start: buffer, count: length))
            return length
        }, nil, nil)
        guard status == ARCHIVE_OK else {
            throw ZipError.library("cannot start the ZIP archive: \(lastError)")
        }
    }

    deinit {
        archive_write_free(archive)
    }

    private var lastError: String {
        archive_error_string(archive).map { String(cString: $0) } ?? "unknown libarchive error"
    }

    /// Starts a regular file entry of `size` bytes at `path` (relative, `/`-separated).
    public func beginEntry(path: String, size: UInt64, modificationTime: Int = 0) throws {
        guard let entry = archive_entry_new() else { throw ZipError.library("archive_entry_new failed") }
        defer { archive_entry_free(entry) }
        archive_entry_set_pathname_utf8(entry, path)
        mw_archive_entry_set_regular_file(entry, Int64(size))
        archive_entry_set_mtime(entry, modificationTime, 0)
        guard archive_write_header(archive, entry) == ARCHIVE_OK else {
            throw ZipError.library("cannot write the ZIP entry for \(path): \(lastError)")
        }
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard bytes.count > 0 else { return }
        let written = archive_write_data(archive, bytes.baseAddress, bytes.count)
        guard written == bytes.count else { throw ZipError.library("cannot write ZIP data: \(lastError)") }
    }

    public func finishEntry() throws {
        guard archive_write_finish_entry(archive) == ARCHIVE_OK else {
            throw ZipError.library("cannot finish the ZIP entry: \(lastError)")
        }
    }

    /// Writes the central directory; the output then holds the rest of the archive.
    public func finish() throws {
        guard !closed else { return }
        closed = true
        guard archive_write_close(archive) == ARCHIVE_OK else {
            throw ZipError.library("cannot finish the ZIP archive: \(lastError)")
        }
    }

    /// Bytes produced and not yet taken.
    public var pendingCount: Int { output.count - outputStart }

    /// Moves produced bytes into `buffer`; returns how many.
    public func take(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        let count = min(buffer.count, pendingCount)
        guard count > 0 else { return 0 }
        output.withUnsafeBytes { source in
            buffer.baseAddress!.copyMemory(from: source.baseAddress! + outputStart, byteCount: count)
        }
        outputStart += count
        if outputStart == output.count {
            output.removeAll(keepingCapacity: true)
            outputStart = 0
        }
        return count
    }

    fileprivate func append(_ bytes: UnsafeRawBufferPointer) {
        output.append(contentsOf: bytes)
    }
}

@available(*, unavailable)
extension ZipStreamWriter: Sendable {}
