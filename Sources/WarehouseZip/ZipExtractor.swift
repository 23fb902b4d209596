/// A regular file of a validated archive.
public struct ZipFileEntry: Sendable, Equatable {
    /// Normalized relative path (see `ZipPaths`).
    public let path: String
    public let size: UInt64
    public let compressedSize: UInt64
}

/// Validates a whole ZIP file from its central directory before any data is read, then
/// streams its regular files one by one.
///
/// Refused before extraction: non-ZIP or damaged files, more entries than the limit, declared
/// sizes over the total limit, bomb-like compression ratios, encrypted entries, symbolic links
/// and device files, unsafe or duplicate paths, entries sharing data. During extraction each
/// entry may not produce more bytes than declared, and libarchive checks its CRC-32.
public final class ZipExtractor {
    public let files: [ZipFileEntry]
    private let path: String
    /// Directory entries in local-header order, with whether each is a file we extract.
    private let order: [(entry: ZipDirectoryEntry, file: ZipFileEntry?)]

    public init(path: String, limits: ZipLimits) throws {
        self.path = path
        let entries = try ZipCentralDirectory.read(path: path, maxEntries: limits.maxEntries)
        var seenPaths = Set<String>()
        var seenOffsets = Set<UInt64>()
        var total: UInt64 = 0
        var ordered: [(ZipDirectoryEntry, ZipFileEntry?)] = []
        for entry in entries {
            // bsdtar's `./`: the folder itself.
            if entry.isDirectory, ZipPaths.isCurrentDirectory(entry.name) {
                ordered.append((entry, nil))
                continue
            }
            let path = try ZipPaths.normalize(entry.name)
            guard seenOffsets.insert(entry.localHeaderOffset).inserted else {
                throw ZipError.unsafe("entries '\(ZipPaths.shown(entry.name))' and another share the same data (overlapping entries)")
            }
            if entry.isEncrypted {
                throw ZipError.unsafe("entry '\(ZipPaths.shown(entry.name))' is encrypted; encrypted archives are not supported")
            }
            if entry.isSymbolicLink {
                throw ZipError.unsafe("entry '\(ZipPaths.shown(entry.name))' is a symbolic link; links are not allowed")
            }
            if entry.isSpecialFile {
                throw ZipError.unsafe("entry '\(ZipPaths.shown(entry.name))' is a device, FIFO or socket; only regular files are allowed")
            }
            if entry.isDirectory {
                ordered.append((entry, nil))
                continue
            }
            guard seenPaths.insert(path).inserted else {
                throw ZipError.unsafe("the archive holds '\(path)' more than once")
            }
            if entry.method == 9 {
                throw ZipError.malformed("entry '\(path)' is compressed with Deflate64 (method 9, 7-Zip's -mm=Deflate64 and "
                    + "Windows' for large files), which the warehouse cannot read; re-create the archive with Deflate or no compression")
            }
            guard entry.method == 0 || entry.method == 8 || entry.method == 12 || entry.method == 14 else {
                throw ZipError.malformed("entry '\(path)' uses unsupported compression method \(entry.method)")
            }
            // Empty entries are not read (libarchive's seekable reader fails on an empty LZMA
            // stream), so their CRC is checked here: an empty input's is 0.
            if entry.uncompressedSize == 0, entry.crc32 != 0 {
                throw ZipError.malformed("entry '\(path)' declares 0 bytes but a CRC-32 of non-empty data")
            }
            if entry.uncompressedSize > limits.compressionRatioThresholdBytes,
               entry.uncompressedSize / max(entry.compressedSize, 1) > limits.maxCompressionRatio {
                throw ZipError.limitExceeded(
                    "entry '\(path)' expands \(entry.compressedSize) bytes to \(entry.uncompressedSize) (more than \(limits.maxCompressionRatio):1); refusing a likely zip bomb")
            }
            let (sum, overflow) = total.addingReportingOverflow(entry.uncompressedSize)
            guard !overflow, sum <= limits.maxTotalUncompressedBytes else {
                throw ZipError.limitExceeded(
                    "the archive expands to more than the limit of \(limits.maxTotalUncompressedBytes) bytes")
            }
            total = sum
            ordered.append((entry, ZipFileEntry(path: path, size: entry.uncompressedSize, compressedSize: entry.compressedSize)))
        }
        // libarchive's seekable reader visits entries in local-header order.
        order = ordered.sorted { $0.0.localHeaderOffset < $1.0.localHeaderOffset }.map { (entry: $0.0, file: $0.1) }
        files = order.compactMap(\.file)
    }

    /// Calls `body` for each regular file, in archive order, with a stream of its bytes.
    /// `body` may leave an entry unread to skip it.
    public func extract(_ body: (ZipFileEntry, ZipEntryStream) throws -> Void) throws {
        let reader = try ZipArchiveReader(path: path)
        for (index, expected) in order.enumerated() {
            guard let header = try reader.next() else {
                throw ZipError.malformed("truncated ZIP archive: entry \(index + 1) of \(order.count) is missing")
            }
            // libarchive turns the backslashes of MS-DOS-made archives into slashes.
            if let raw = header.rawName, Self.slashed(raw) != Self.slashed(expected.entry.rawName) {
                throw ZipError.malformed("corrupt ZIP archive: entry \(index + 1) does not match the central directory")
            }
            if header.isEncrypted { throw ZipError.unsafe("entry '\(ZipPaths.shown(expected.entry.name))' is encrypted") }
            guard let file = expected.file else { continue }
            if let size = header.size, size >= 0, UInt64(size) != file.size {
                throw ZipError.malformed("corrupt ZIP archive: entry '\(file.path)' has two different sizes")
            }
            let stream = ZipEntryStream(reader: reader, entry: file)
            try body(file, stream)
        }
    }
}

extension ZipExtractor {
    static func slashed(_ name: [UInt8]) -> [UInt8] {
        name.map { $0 == UInt8(ascii: "\\") ? UInt8(ascii: "/") : $0 }
    }
}

/// The bytes of one entry. Refuses to deliver more than the central directory declared.
public final class ZipEntryStream {
    private let reader: ZipArchiveReader
    public let entry: ZipFileEntry
    public private(set) var delivered: UInt64 = 0

    init(reader: ZipArchiveReader, entry: ZipFileEntry) {
        self.reader = reader
        self.entry = entry
    }

    /// Next bytes of the entry; 0 at its end.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        if entry.size == 0 { return 0 }
        let count = try reader.read(into: buffer)
        delivered += UInt64(count)
        guard delivered <= entry.size else {
            throw ZipError.limitExceeded("entry '\(entry.path)' holds more bytes than its declared \(entry.size)")
        }
        if count == 0, delivered != entry.size {
            throw ZipError.malformed("entry '\(entry.path)' ended after \(delivered) of \(entry.size) bytes (truncated archive?)")
        }
        return count
    }
}

@available(*, unavailable)
extension ZipExtractor: Sendable {}
