import WarehouseCore
import WarehouseCrypto
import WarehouseHTTPServer
import WarehouseService

/// Builds a file download: ETag (the SHA-256), conditional requests (If-None-Match → 304),
/// single byte ranges (Range → 206, If-Range), and a body sent with sendfile when the store
/// has a local file, else streamed from the store.
public enum DownloadResponse {
    /// `check` runs once the answer would carry or point at the bytes, before any is sent.
    /// `redirect` decides whether to send the client to the bucket; nil: `?redirect=true` does.
    public static func make(_ download: Download, request: HTTPRequest, store: any ObjectStore,
                            check: StoredObjectCheck, redirect: Bool? = nil) throws -> HTTPResponse {
        let file = download.file
        let etag = "\"\(file.fileHash)\""
        var headers = HTTPHeaders()
        headers.add("ETag", etag)
        headers.add("Accept-Ranges", "bytes")
        headers.add("X-Model-Version", download.record.version)
        headers.add("X-Checksum-SHA256", file.fileHash)

        if let condition = request.headers["if-none-match"], matches(condition, etag: etag) {
            return HTTPResponse(status: 304, headers: headers)
        }
        try check.file(download)
        // ?redirect=true: send the client straight to the bucket with a presigned URL (S3 only;
        // a local store has none and serves the bytes itself).
        let redirecting = try redirect ?? request.nonEmptyQuery("redirect").map { try FieldValues.bool($0, field: "redirect") } ?? false
        if redirecting, let url = store.presignedURL(key: download.key, expires: 900) {
            headers.add("Location", url)
            headers.add("Cache-Control", "no-store")
            return HTTPResponse(status: 307, headers: headers)
        }
        headers.add("Content-Type", file.contentType)
        headers.add("Content-Disposition", contentDisposition(filename: file.filename))

        let size = file.fileSize
        var range: Range<UInt64>?
        if let rangeHeader = request.headers["range"], rangeApplies(request.headers["if-range"], etag: etag) {
            range = try ByteRange.parse(rangeHeader, size: size)
        }
        let bounds = range ?? 0..<size
        if let range {
            headers.add("Content-Range", "bytes \(range.lowerBound)-\(range.upperBound - 1)/\(size)")
        }
        let status = range == nil ? 200 : 206
        if let path = store.localPath(key: download.key) {
            return HTTPResponse(status: status, headers: headers,
                                body: .file(path: path, offset: bounds.lowerBound, length: UInt64(bounds.count)))
        }
        let reader = try store.open(key: download.key, range: range)
        return HTTPResponse(status: status, headers: headers,
                            body: .stream(length: UInt64(bounds.count), reader: ObjectReaderAdapter(reader)))
    }

    /// If-None-Match: a list of entity tags (weak ones compare equal too) or `*`.
    static func matches(_ condition: String, etag: String) -> Bool {
        condition.split(separator: ",").contains { candidate in
            let tag = candidate.trimmingCharacters(in: .whitespaces)
            return tag == "*" || tag == etag || tag == "W/" + etag || "W/" + tag == etag
        }
    }

    /// A Range is honoured without If-Range, or when If-Range names the current entity.
    static func rangeApplies(_ ifRange: String?, etag: String) -> Bool {
        guard let ifRange else { return true }
        return ifRange.trimmingCharacters(in: .whitespaces) == etag
    }

    static func contentDisposition(filename: String) -> String {
        let ascii = String(filename.unicodeScalars.map { $0.isASCII && $0.value >= 0x20 && $0 != "\"" && $0 != "\\" ? Character($0) : "_" })
        let encoded = filename.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(.init(charactersIn: "-._~"))) ?? ascii
        return "attachment; filename=\"\(ascii)\"; filename*=UTF-8''\(encoded)"
    }
}

/// Makes sure stored objects are still the recorded files before a download answers, and
/// reports each one that is not (a metric and a log line, given by the application).
public struct StoredObjectCheck: Sendable {
    let service: ModelService
    let report: @Sendable (String) -> Void

    public init(service: ModelService, report: @escaping @Sendable (String) -> Void) {
        self.service = service
        self.report = report
    }

    public func file(_ download: Download) throws { try reporting { try service.checkStored(download) } }

    func version(_ record: ModelVersionRecord) throws { try reporting { try service.checkStored(record) } }

    private func reporting(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch WarehouseError.storedObjectDrifted(let detail) {
            report(detail)
            throw WarehouseError.storedObjectDrifted(detail)
        }
    }
}

/// A whole version as a ZIP streamed while it is written (chunked: its length is not known
/// in advance). Stored entries by default; `?compress=deflate` compresses them. The ETag is
/// derived from the compression and every file's path and SHA-256, so an unchanged version
/// answers If-None-Match with 304.
enum ArchiveResponse {
    static func make(_ record: ModelVersionRecord, request: HTTPRequest, service: ModelService,
                     check: StoredObjectCheck) throws -> HTTPResponse {
        let deflate: Bool
        switch request.nonEmptyQuery("compress")?.lowercased() {
        case nil, "store", "none", "stored": deflate = false
        case "deflate": deflate = true
        case let other?:
            throw WarehouseError.invalid("query parameter 'compress' must be 'store' or 'deflate' (got \(Identifiers.quoted(other)))")
        }
        guard !record.files.isEmpty else { throw WarehouseError.notFound("version \(record.version) has no files") }
        let listing = record.files.map { "\($0.filePath)\u{0}\($0.fileHash)" }.joined(separator: "\n")
        let etag = "W/\"" + SHA256.hex(of: Array(((deflate ? "deflate\n" : "store\n") + listing).utf8)) + "\""
        var headers = HTTPHeaders()
        headers.add("ETag", etag)
        headers.add("X-Model-Version", record.version)
        if let condition = request.headers["if-none-match"], DownloadResponse.matches(condition, etag: etag) {
            return HTTPResponse(status: 304, headers: headers)
        }
        try check.version(record)
        headers.add("Content-Type", "application/zip")
        headers.add("Content-Disposition", DownloadResponse.contentDisposition(filename: "\(record.modelID)-\(record.version).zip"))
        let stream = try service.archiveStream(for: record, deflate: deflate)
        return HTTPResponse(status: 200, headers: headers, body: .stream(length: nil, reader: ObjectReaderAdapter(stream)))
    }
}

/// `Range: bytes=…` for one range (RFC 9110 §14.1.2). Multiple ranges, or a unit other than
/// bytes, are ignored (a full 200 is a valid answer); a range past the end is 416.
enum ByteRange {
    static func parse(_ header: String, size: UInt64) throws -> Range<UInt64>? {
        let value = header.trimmingCharacters(in: .whitespaces)
        guard value.lowercased().hasPrefix("bytes=") else { return nil }
        let spec = value.dropFirst("bytes=".count)
        guard !spec.contains(",") else { return nil }
        let parts = spec.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else { return nil }
        let first = parts[0].trimmingCharacters(in: .whitespaces)
        let last = parts[1].trimmingCharacters(in: .whitespaces)
        if first.isEmpty {
            // Suffix range: the last N bytes.
            guard let count = UInt64(last) else { return nil }
            guard count > 0, size > 0 else { throw WarehouseError.rangeNotSatisfiable(size: size) }
            return (size - min(count, size))..<size
        }
        guard let start = UInt64(first) else { return nil }
        let end: UInt64
        if last.isEmpty {
            end = size
        } else {
            guard let inclusive = UInt64(last), inclusive >= start else { return nil }
            end = min(inclusive + 1, size)
        }
        guard start < size else { throw WarehouseError.rangeNotSatisfiable(size: size) }
        return start..<end
    }
}

/// Lets the HTTP layer pull from a store reader.
public final class ObjectReaderAdapter: HTTPBodyReader {
    let reader: any ObjectReader
    public init(_ reader: any ObjectReader) { self.reader = reader }
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int { try reader.read(into: buffer) }
    public func close() { reader.close() }
}

import Foundation
