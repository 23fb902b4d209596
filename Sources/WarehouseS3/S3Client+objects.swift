import Foundation
import WarehouseCrypto
import WarehouseCurl

/// One object of a listing.
public struct S3Object: Sendable, Equatable {
    public let key: String
    public let size: UInt64
    /// Without its quotes.
    public var etag: String? = nil

    static func unquoted(_ etag: String?) -> String? {
        etag.map { $0.replacingOccurrences(of: "&quot;", with: "").trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
    }
}

extension S3Client {
    /// Creates the bucket unless it exists (and the credentials may create it).
    public func createBucketIfMissing() throws {
        let head = try send(method: "HEAD", key: nil, acceptStatus: { $0 == 200 || $0 == 404 || $0 == 301 })
        guard head.status == 404 else { return }
        var body: [UInt8] = []
        if configuration.region != "us-east-1" {
            body = Array(("<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                + "<LocationConstraint>\(configuration.region)</LocationConstraint></CreateBucketConfiguration>").utf8)
        }
        _ = try send(method: "PUT", key: nil, body: .bytes(body), payloadHash: SHA256.hex(of: body),
                     acceptStatus: { (200..<300).contains($0) || $0 == 409 })
    }

    /// HEAD of the bucket: throws when it cannot be reached or used.
    public func checkBucket() throws {
        _ = try send(method: "HEAD", key: nil)
    }

    /// PutObject from memory.
    public func putObject(key: String, data: [UInt8], contentType: String? = nil) throws {
        var headers: [(String, String)] = []
        if let contentType { headers.append(("Content-Type", contentType)) }
        _ = try send(method: "PUT", key: key, headers: headers, body: .bytes(data), payloadHash: SHA256.hex(of: data))
    }

    /// PutObject from memory that happens only if the object is absent (`ifNoneMatch: "*"`) or
    /// still has the ETag `ifMatch`. Answers the new ETag; a lost race is status 412 (or 409,
    /// AWS's ConditionalRequestConflict while another conditional write is in flight).
    public func putObject(key: String, data: [UInt8], contentType: String? = nil, ifNoneMatch: String? = nil,
                          ifMatch: String? = nil) throws -> String? {
        var headers: [(String, String)] = []
        if let contentType { headers.append(("Content-Type", contentType)) }
        if let ifNoneMatch { headers.append(("If-None-Match", ifNoneMatch)) }
        if let ifMatch { headers.append(("If-Match", "\"\(ifMatch)\"")) }
        let response = try send(method: "PUT", key: key, headers: headers, body: .bytes(data), payloadHash: SHA256.hex(of: data))
        return S3Object.unquoted(response.headers["etag"])
    }

    /// A whole (small) object and its ETag, or nil when it does not exist.
    public func getDataAndETag(key: String) throws -> (bytes: [UInt8], etag: String?)? {
        let response = try send(method: "GET", key: key, acceptStatus: { $0 == 200 || $0 == 404 })
        guard response.status == 200 else { return nil }
        return (response.body, S3Object.unquoted(response.headers["etag"]))
    }

    /// DeleteObject only while the object still has the ETag `ifMatch` (412 otherwise); a
    /// missing key is not an error.
    public func deleteObject(key: String, ifMatch: String) throws {
        _ = try send(method: "DELETE", key: key, headers: [("If-Match", "\"\(ifMatch)\"")],
                     acceptStatus: { (200..<300).contains($0) || $0 == 404 })
    }

    /// Uploads `size` bytes of the file at `path`: one PutObject signed with `sha256`, or a
    /// multipart upload with several parts in flight when it is larger than the part size.
    public func upload(key: String, path: String, size: UInt64, sha256: String) throws {
        if size <= configuration.partSize {
            _ = try send(method: "PUT", key: key, body: .file(path: path, offset: 0, length: size), payloadHash: sha256)
        } else {
            try multipartUpload(key: key, path: path, size: size)
        }
    }

    /// GetObject streamed to `onData` (return false to stop). `range` is a half-open byte range.
    public func getObject(key: String, range: Range<UInt64>? = nil, onData: @escaping (UnsafeRawBufferPointer) -> Bool) throws {
        var headers: [(String, String)] = []
        if let range {
            guard !range.isEmpty else { return }
            headers.append(("Range", "bytes=\(range.lowerBound)-\(range.upperBound - 1)"))
        }
        let response = try send(method: "GET", key: key, headers: headers, onData: onData)
        // A server that ignores Range answers 200 with the whole object; callers asked for a
        // range, so that would be wrong data.
        if range != nil, response.status == 200, let length = response.headers["content-length"].flatMap(UInt64.init),
           let range, length != UInt64(range.count) {
            throw S3Error.service(status: 200, code: "RangeIgnored", message: "the server ignored the Range header", requestID: nil)
        }
    }

    /// A whole (small) object in memory.
    public func getData(key: String) throws -> [UInt8] {
        var bytes: [UInt8] = []
        try getObject(key: key) { chunk in
            bytes.append(contentsOf: chunk)
            return true
        }
        return bytes
    }

    /// Size of an object, or nil when it does not exist.
    public func headObject(key: String) throws -> UInt64? {
        try headObjectInfo(key: key)?.size
    }

    /// Size and ETag of an object, or nil when it does not exist.
    public func headObjectInfo(key: String) throws -> S3Object? {
        let response = try send(method: "HEAD", key: key, acceptStatus: { $0 == 200 || $0 == 404 })
        guard response.status == 200 else { return nil }
        return S3Object(key: key, size: response.headers["content-length"].flatMap(UInt64.init) ?? 0,
                        etag: S3Object.unquoted(response.headers["etag"]))
    }

    /// DeleteObject; a missing key is not an error.
    public func deleteObject(key: String) throws {
        _ = try send(method: "DELETE", key: key, acceptStatus: { (200..<300).contains($0) || $0 == 404 })
    }

    /// DeleteObjects in batches of 1,000 (the API's limit).
    public func deleteObjects(keys: [String]) throws {
        var start = 0
        while start < keys.count {
            let batch = keys[start..<min(start + 1000, keys.count)]
            start += batch.count
            let xml = "<Delete><Quiet>true</Quiet>" + batch.map { "<Object><Key>\(S3XML.escape($0))</Key></Object>" }.joined()
                + "</Delete>"
            let body = Array(xml.utf8)
            let response = try send(method: "POST", key: nil, query: [("delete", "")],
                                    headers: [("Content-MD5", MD5.base64(of: body)), ("Content-Type", "application/xml")],
                                    body: .bytes(body), payloadHash: SHA256.hex(of: body))
            let answer = String(decoding: response.body, as: UTF8.self)
            if let failed = S3XML.blocks("Error", in: answer).first {
                throw S3Error.service(status: response.status, code: S3XML.value(of: "Code", in: failed) ?? "DeleteFailed",
                                      message: "cannot delete \(S3XML.value(of: "Key", in: failed) ?? "?"): "
                                          + (S3XML.value(of: "Message", in: failed) ?? ""), requestID: nil)
            }
        }
    }

    /// ListObjectsV2 of every key under `prefix`, following continuation tokens.
    /// With `startAfter`, only keys after it (in the bucket's UTF-8 order).
    public func listObjects(prefix: String, startAfter: String? = nil) throws -> [S3Object] {
        var objects: [S3Object] = []
        var token: String?
        repeat {
            var query = [("list-type", "2"), ("prefix", prefix), ("max-keys", "1000")]
            if let token { query.append(("continuation-token", token)) } else if let startAfter { query.append(("start-after", startAfter)) }
            let response = try send(method: "GET", key: nil, query: query)
            let xml = String(decoding: response.body, as: UTF8.self)
            for block in S3XML.blocks("Contents", in: xml) {
                guard let key = S3XML.value(of: "Key", in: block) else { continue }
                objects.append(S3Object(key: key, size: S3XML.value(of: "Size", in: block).flatMap(UInt64.init) ?? 0,
                                        etag: S3Object.unquoted(S3XML.value(of: "ETag", in: block))))
            }
            token = S3XML.value(of: "IsTruncated", in: xml) == "true" ? S3XML.value(of: "NextContinuationToken", in: xml) : nil
        } while token != nil
        return objects
    }

    /// Copies `source` to `destination` inside the bucket, the bytes never leaving it: one
    /// CopyObject up to `maxSingleCopyBytes` (S3 refuses more than 5 GiB in one), else a
    /// multipart upload whose parts are UploadPartCopy ranges of the source.
    public func copyObject(from source: String, to destination: String, size: UInt64) throws {
        guard size > configuration.maxSingleCopyBytes else { return try copyObject(from: source, to: destination) }
        let partSize = max(configuration.partSize, (size + 9_999) / 10_000)
        do {
            try copyInParts(from: source, to: destination, size: size, partSize: partSize) { uploadID, number, range in
                let response = try send(method: "PUT", key: destination,
                                        query: [("partNumber", String(number)), ("uploadId", uploadID)],
                                        headers: [("x-amz-copy-source", copySource(source)),
                                                  ("x-amz-copy-source-range", "bytes=\(range.lowerBound)-\(range.upperBound - 1)")],
                                        body: .bytes([]))
                // A server without UploadPartCopy may take the request for an empty UploadPart
                // (rclone serve s3 does): no CopyPartResult ETag means no copy was made.
                let xml = String(decoding: response.body, as: UTF8.self)
                guard !xml.contains("<Error>"), xml.contains("CopyPartResult"), let etag = S3XML.value(of: "ETag", in: xml) else {
                    throw S3Error.service(status: response.status, code: "NotImplemented",
                                          message: "UploadPartCopy answered without a CopyPartResult", requestID: nil)
                }
                return S3XML.decode(etag)
            }
        } catch S3Error.service(_, "NotImplemented", _, _) {
            // Copied through this process instead, one part in memory at a time.
            try copyInParts(from: source, to: destination, size: size, partSize: partSize) { uploadID, number, range in
                var bytes: [UInt8] = []
                bytes.reserveCapacity(range.count)
                try getObject(key: source, range: range) { chunk in
                    bytes.append(contentsOf: chunk)
                    return true
                }
                guard bytes.count == range.count else {
                    throw S3Error.service(status: 500, code: "IncompleteBody", message: "\(source) ended early while copying", requestID: nil)
                }
                let response = try send(method: "PUT", key: destination, query: [("partNumber", String(number)), ("uploadId", uploadID)],
                                        body: .bytes(bytes), payloadHash: SHA256.hex(of: bytes))
                guard let etag = response.headers["etag"] else {
                    throw S3Error.service(status: response.status, code: "MalformedResponse", message: "no ETag for part \(number)",
                                          requestID: nil)
                }
                return etag
            }
        }
    }

    /// A multipart upload of `destination` whose parts `copyPart` makes from ranges of `source`.
    private func copyInParts(from source: String, to destination: String, size: UInt64, partSize: UInt64,
                             copyPart: (_ uploadID: String, _ number: Int, _ range: Range<UInt64>) throws -> String) throws {
        let uploadID = try createMultipartUpload(key: destination)
        do {
            var etags: [String] = []
            var offset: UInt64 = 0
            while offset < size {
                let end = min(size, offset + partSize)
                etags.append(try copyPart(uploadID, etags.count + 1, offset..<end))
                offset = end
            }
            try completeMultipartUpload(key: destination, uploadID: uploadID, etags: etags, expectedSize: size)
        } catch {
            abortMultipartUpload(key: destination, uploadID: uploadID)
            throw error
        }
    }

    /// CopyObject within the bucket (up to 5 GiB).
    public func copyObject(from source: String, to destination: String) throws {
        let response = try send(method: "PUT", key: destination, headers: [("x-amz-copy-source", copySource(source))],
                                body: .bytes([]))
        // CopyObject can fail after a 200 with an <Error> body.
        let xml = String(decoding: response.body, as: UTF8.self)
        if xml.contains("<Error>") { throw Self.serviceError(CurlResponse(status: 500, headers: [:], body: response.body)) }
    }

    /// `x-amz-copy-source`: bucket and key, URI-encoded.
    func copySource(_ key: String) -> String {
        "/" + S3URI.encode(configuration.bucket, keepSlash: false) + "/" + S3URI.encodePath(key)
    }

    /// A presigned GET URL for `key`, valid for `expires` seconds.
    public func presignedGetURL(key: String, expires: Int = 900, date: Date = Date()) -> String {
        presignedURL(method: "GET", key: key, expires: expires, date: date)
    }

    /// A presigned PutObject URL: the client PUTs the object's bytes to the bucket itself.
    public func presignedPutURL(key: String, expires: Int = 900, date: Date = Date()) -> String {
        presignedURL(method: "PUT", key: key, expires: expires, date: date)
    }

    func presignedURL(method: String, key: String, expires: Int, date: Date) -> String {
        let (host, path) = location(key: key)
        let query = signer.presignedQuery(method: method, path: path, host: host, expires: expires, date: date)
        return "\(scheme)://\(host)\(path)?\(query)"
    }
}
