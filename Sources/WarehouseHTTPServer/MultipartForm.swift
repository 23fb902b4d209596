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
/// Called on the part's spool queue, in order, never on two threads at once; the request's
/// thread sees every call finished once the part has ended.
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
    public internal(set) var size: UInt64 = 0
    /// Hex digest from the configured `UploadDigest`, when there was one.
    public internal(set) var digest: String?
    /// What `MultipartConfiguration.observeFile` attached, if anything.
    public internal(set) var observer: (any SpoolObserver)?
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
