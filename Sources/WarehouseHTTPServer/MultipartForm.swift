#if canImport(Glibc)
import Glibc
#endif
import Foundation
internal import CMicroHTTPD

/// A digest computed while a file part streams to disk (the API plugs in SHA-256).
public protocol UploadDigest: AnyObject {
    func update(_ buffer: UnsafeRawBufferPointer)
    func finalizeHex() -> String
}

/// Watches a file part while it is spooled, e.g. to start storing it before the body ends.
/// Called on the connection's thread.
public protocol SpoolObserver: AnyObject {
    /// `bytes` were just appended; the first `size` bytes of the part are in the spool file
    /// at `path`.
    func spooled(_ bytes: UnsafeRawBufferPointer, path: String, size: UInt64)
}

/// Limits and the spool location for multipart bodies.
public struct MultipartConfiguration: Sendable {
    public var spoolDirectory: String
    public var maxFieldBytes: Int
    public var maxFields: Int
    public var maxFileParts: Int
    /// Makes one digest per file part; nil computes none.
    public var makeDigest: (@Sendable () -> any UploadDigest)?
    /// Called as each file part starts, with the request head and the fields received before
    /// it; may return an observer, which the part keeps (`UploadedFile.observer`).
    public var observeFile: (@Sendable (_ head: HTTPRequestHead, _ fieldsSoFar: [(name: String, value: String)],
                                        _ file: UploadedFile) -> (any SpoolObserver)?)?
    /// Start disk writeback while spooling (when the spool file itself will be kept, as a
    /// local store does by renaming it; pointless I/O when it is only a staging copy).
    public var startsWriteback = true

    public init(spoolDirectory: String, maxFieldBytes: Int = 1 << 20, maxFields: Int = 200, maxFileParts: Int = 16,
                makeDigest: (@Sendable () -> any UploadDigest)? = nil) {
        self.spoolDirectory = spoolDirectory
        self.maxFieldBytes = maxFieldBytes
        self.maxFields = maxFields
        self.maxFileParts = maxFileParts
        self.makeDigest = makeDigest
    }
}

/// A file part spooled to disk. The spool file is removed when this object goes away,
/// unless a store took it over with `claim()` (for instance by renaming it into place).
public final class UploadedFile {
    public let fieldName: String
    /// The client's file name, as sent (not yet validated).
    public let filename: String
    public let contentType: String?
    public let spoolPath: String
    public fileprivate(set) var size: UInt64 = 0
    /// Hex digest from the configured `UploadDigest`, when there was one.
    public fileprivate(set) var digest: String?
    /// What `MultipartConfiguration.observeFile` attached, if anything.
    public fileprivate(set) var observer: (any SpoolObserver)?
    private var claimed = false

    init(fieldName: String, filename: String, contentType: String?, spoolPath: String) {
        self.fieldName = fieldName
        self.filename = filename
        self.contentType = contentType
        self.spoolPath = spoolPath
    }

    /// The caller now owns the spool file and its removal.
    public func claim() { claimed = true }

    deinit {
        if !claimed { unlink(spoolPath) }
    }
}

/// The parsed form: text fields in memory, file parts on disk.
public final class MultipartForm {
    public private(set) var fields: [(name: String, value: String)] = []
    public private(set) var files: [UploadedFile] = []

    public init() {}

    public func field(_ name: String) -> String? {
        fields.first { $0.name == name }?.value
    }

    public func file(_ name: String) -> UploadedFile? {
        files.first { $0.fieldName == name }
    }

    func append(field name: String, value: String) { fields.append((name, value)) }
    func append(file: UploadedFile) { files.append(file) }
}

/// Writes one file part to its spool file, hashing as it goes.
final class SpoolWriter {
    let file: UploadedFile
    private let descriptor: Int32
    private let digest: (any UploadDigest)?
    private var writebackStart: UInt64 = 0
    /// Start writeback every this many bytes: the store fsyncs the file when it commits, and
    /// by then most of it is already on disk.
    private static let writebackInterval: UInt64 = 8 << 20

    private let startsWriteback: Bool

    init(file: UploadedFile, digest: (any UploadDigest)?, observer: (any SpoolObserver)? = nil, startsWriteback: Bool = true) throws {
        let descriptor = open(file.spoolPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw HTTPBodyError.spool("cannot create spool file \(file.spoolPath): \(String(cString: strerror(errno)))")
        }
        self.file = file
        self.descriptor = descriptor
        self.digest = digest
        self.startsWriteback = startsWriteback
        file.observer = observer
    }

    deinit { close(descriptor) }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard var base = bytes.baseAddress, bytes.count > 0 else { return }
        digest?.update(bytes)
        var remaining = bytes.count
        while remaining > 0 {
            let written = Glibc.write(descriptor, base, remaining)
            if written < 0 {
                if errno == EINTR { continue }
                throw HTTPBodyError.spool("writing spool file failed: \(String(cString: strerror(errno)))")
            }
            remaining -= written
            base += written
        }
        file.size += UInt64(bytes.count)
        file.observer?.spooled(bytes, path: file.spoolPath, size: file.size)
        if startsWriteback, file.size - writebackStart >= Self.writebackInterval {
            _ = mw_start_writeback(descriptor, off_t(writebackStart), off_t(file.size - writebackStart))
            writebackStart = file.size
        }
    }

    func finish() throws {
        file.digest = digest?.finalizeHex()
    }
}

/// Why a request body could not be received.
public enum HTTPBodyError: Error, CustomStringConvertible {
    case malformed(String)
    case tooLarge(String)
    case spool(String)

    public var description: String {
        switch self {
        case .malformed(let text), .tooLarge(let text), .spool(let text): return text
        }
    }
}
