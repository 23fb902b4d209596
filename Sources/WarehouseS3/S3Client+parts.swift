import Foundation
import WarehouseCrypto
import WarehouseCurl

/// One part of a multipart upload as the bucket lists it.
public struct S3Part: Sendable, Equatable {
    public let number: Int
    public let size: UInt64
    /// Without its quotes.
    public let etag: String
}

/// A multipart upload the bucket still holds (neither completed nor aborted).
public struct S3PendingUpload: Sendable, Equatable {
    public let key: String
    public let uploadID: String
}

/// The multipart-upload calls an upload session needs, one part at a time: the session, not
/// this client, decides what is sent when (parts may come from the service or, presigned,
/// straight from the client).
extension S3Client {
    public func startMultipartUpload(key: String) throws -> String {
        try createMultipartUpload(key: key)
    }

    /// UploadPart of `length` bytes pulled from `read` as they are sent, signed with the
    /// part's SHA-256 as announced (a bucket that checks payload hashes refuses other bytes).
    /// Never retried: the stream cannot be replayed.
    public func uploadPart(key: String, uploadID: String, number: Int, length: UInt64, sha256: String,
                           read: @escaping (UnsafeMutableRawBufferPointer) throws -> Int) throws -> String {
        let response = try send(method: "PUT", key: key, query: [("partNumber", String(number)), ("uploadId", uploadID)],
                                body: .stream(length: length, read: read), payloadHash: sha256, idempotent: false)
        guard let etag = S3Object.unquoted(response.headers["etag"]) else {
            throw S3Error.service(status: response.status, code: "MalformedResponse", message: "no ETag for part \(number)",
                                  requestID: nil)
        }
        return etag
    }

    /// ListParts, following the part-number marker.
    public func listParts(key: String, uploadID: String) throws -> [S3Part] {
        var parts: [S3Part] = []
        var marker: String?
        repeat {
            var query = [("uploadId", uploadID), ("max-parts", "1000")]
            if let marker { query.append(("part-number-marker", marker)) }
            let xml = String(decoding: try send(method: "GET", key: key, query: query).body, as: UTF8.self)
            for block in S3XML.blocks("Part", in: xml) {
                guard let number = S3XML.value(of: "PartNumber", in: block).flatMap(Int.init),
                      let size = S3XML.value(of: "Size", in: block).flatMap(UInt64.init),
                      let etag = S3Object.unquoted(S3XML.value(of: "ETag", in: block)) else { continue }
                parts.append(S3Part(number: number, size: size, etag: etag))
            }
            marker = S3XML.value(of: "IsTruncated", in: xml) == "true" ? S3XML.value(of: "NextPartNumberMarker", in: xml) : nil
        } while marker != nil
        return parts.sorted { $0.number < $1.number }
    }

    /// CompleteMultipartUpload of exactly these parts, in number order.
    public func finishMultipartUpload(key: String, uploadID: String, parts: [(number: Int, etag: String)],
                                      expectedSize: UInt64) throws {
        try completeMultipartUpload(key: key, uploadID: uploadID, numberedETags: parts, expectedSize: expectedSize)
    }

    /// AbortMultipartUpload; an upload already gone is not an error.
    public func cancelMultipartUpload(key: String, uploadID: String) throws {
        _ = try send(method: "DELETE", key: key, query: [("uploadId", uploadID)],
                     acceptStatus: { (200..<300).contains($0) || $0 == 404 })
    }

    /// ListMultipartUploads under `prefix`, following the markers.
    public func listMultipartUploads(prefix: String) throws -> [S3PendingUpload] {
        var uploads: [S3PendingUpload] = []
        var markers: (key: String, upload: String)?
        repeat {
            var query = [("uploads", ""), ("prefix", prefix), ("max-uploads", "1000")]
            if let markers { query += [("key-marker", markers.key), ("upload-id-marker", markers.upload)] }
            let response = try send(method: "GET", key: nil, query: query, acceptStatus: { (200..<300).contains($0) || $0 == 404 })
            let xml = String(decoding: response.body, as: UTF8.self)
            if response.status == 404 {
                // rclone's gofakes3 answers 404 NoSuchUpload for a bucket that never had one.
                guard S3XML.value(of: "Code", in: xml) == "NoSuchUpload" else { throw Self.serviceError(response) }
                return uploads
            }
            for block in S3XML.blocks("Upload", in: xml) {
                guard let key = S3XML.value(of: "Key", in: block), let id = S3XML.value(of: "UploadId", in: block) else { continue }
                uploads.append(S3PendingUpload(key: key, uploadID: id))
            }
            if S3XML.value(of: "IsTruncated", in: xml) == "true", let key = S3XML.value(of: "NextKeyMarker", in: xml),
               let upload = S3XML.value(of: "NextUploadIdMarker", in: xml), key != markers?.key || upload != markers?.upload {
                markers = (key, upload)
            } else {
                markers = nil
            }
        } while markers != nil
        return uploads
    }

    /// A presigned UploadPart URL: the client PUTs the part's bytes to the bucket itself.
    public func presignedPartURL(key: String, uploadID: String, number: Int, expires: Int, date: Date = Date()) -> String {
        let (host, path) = location(key: key)
        let query = signer.presignedQuery(method: "PUT", path: path, host: host,
                                          query: [("partNumber", String(number)), ("uploadId", uploadID)],
                                          expires: expires, date: date)
        return "\(scheme)://\(host)\(path)?\(query)"
    }
}
