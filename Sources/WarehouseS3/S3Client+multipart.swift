import Foundation
import Synchronization
import WarehouseCrypto
#if canImport(Glibc)
import Glibc
#endif

extension S3Client {
    /// A multipart upload of the file at `path`: parts of `partSize` bytes, `concurrentParts`
    /// in flight, each signed with its own SHA-256 (read from the file just before sending).
    /// Any failure aborts the upload so no parts are left behind.
    func multipartUpload(key: String, path: String, size: UInt64) throws {
        let uploadID = try createMultipartUpload(key: key)
        do {
            let partSize = configuration.partSize
            let partCount = Int((size + partSize - 1) / partSize)
            let results = PartResults(count: partCount)
            let next = Atomic<Int>(0)
            let workers = max(1, min(configuration.concurrentParts, partCount))
            DispatchQueue.concurrentPerform(iterations: workers) { _ in
                while !results.failed {
                    let index = next.wrappingAdd(1, ordering: .relaxed).oldValue
                    guard index < partCount else { return }
                    let offset = UInt64(index) * partSize
                    do {
                        results.set(index, etag: try uploadPart(key: key, uploadID: uploadID, number: index + 1, path: path,
                                                                offset: offset, length: min(partSize, size - offset)))
                    } catch {
                        results.fail(error)
                    }
                }
            }
            if let error = results.firstError { throw error }
            try completeMultipartUpload(key: key, uploadID: uploadID, etags: results.etags, expectedSize: size)
        } catch {
            abortMultipartUpload(key: key, uploadID: uploadID)
            throw error
        }
    }

    /// CreateMultipartUpload; answers the upload id.
    func createMultipartUpload(key: String) throws -> String {
        let created = try send(method: "POST", key: key, query: [("uploads", "")], body: .bytes([]), idempotent: false)
        guard let uploadID = S3XML.value(of: "UploadId", in: String(decoding: created.body, as: UTF8.self)) else {
            throw S3Error.service(status: created.status, code: "MalformedResponse", message: "no UploadId in CreateMultipartUpload",
                                  requestID: nil)
        }
        return uploadID
    }

    /// UploadPart from a file range, signed with the range's SHA-256 (unless payloads go
    /// unsigned); answers the part's ETag. `sha256` is the range's digest when the caller has it.
    func uploadPart(key: String, uploadID: String, number: Int, path: String, offset: UInt64, length: UInt64,
                    sha256: String? = nil) throws -> String {
        let hash = configuration.signPartPayloads
            ? try sha256 ?? Self.sha256(ofFile: path, offset: offset, length: length)
            : SigV4Signer.unsignedPayload
        let response = try send(method: "PUT", key: key, query: [("partNumber", String(number)), ("uploadId", uploadID)],
                                body: .file(path: path, offset: offset, length: length), payloadHash: hash)
        guard let etag = response.headers["etag"] else {
            throw S3Error.service(status: response.status, code: "MalformedResponse", message: "no ETag for part \(number)",
                                  requestID: nil)
        }
        return etag
    }

    /// CompleteMultipartUpload with the parts' ETags in order. The server may take minutes to
    /// answer (it assembles the object first), so the call gets a long stall timeout. Retried
    /// here rather than in `send`: when an attempt that timed out or failed with a 5xx had in
    /// fact completed, the retry finds the parts gone (InvalidPart, NoSuchUpload); then an
    /// object of the expected size under the key means the upload is done.
    func completeMultipartUpload(key: String, uploadID: String, etags: [String], expectedSize: UInt64) throws {
        try completeMultipartUpload(key: key, uploadID: uploadID, numberedETags: etags.enumerated().map { ($0.offset + 1, $0.element) },
                                    expectedSize: expectedSize)
    }

    func completeMultipartUpload(key: String, uploadID: String, numberedETags: [(number: Int, etag: String)],
                                 expectedSize: UInt64) throws {
        let xml = "<CompleteMultipartUpload>" + numberedETags.map { part in
            "<Part><PartNumber>\(part.number)</PartNumber><ETag>\"\(S3XML.escape(part.etag.trimmingCharacters(in: CharacterSet(charactersIn: "\""))))\"</ETag></Part>"
        }.joined() + "</CompleteMultipartUpload>"
        let body = Array(xml.utf8)
        var attempt = 0
        while true {
            attempt += 1
            do {
                let completed = try send(method: "POST", key: key, query: [("uploadId", uploadID)],
                                         headers: [("Content-Type", "application/xml")], body: .bytes(body),
                                         payloadHash: SHA256.hex(of: body), idempotent: false,
                                         stallTimeoutSeconds: configuration.completeTimeoutSeconds)
                // CompleteMultipartUpload may answer 200 with an <Error> body.
                if String(decoding: completed.body, as: UTF8.self).contains("<Error>") {
                    throw Self.serviceError(.init(status: 500, headers: completed.headers, body: completed.body))
                }
                return
            } catch S3Error.service(_, let code, _, _) where attempt > 1 && (code == "InvalidPart" || code == "NoSuchUpload") {
                if try headObject(key: key) == expectedSize { return }
                throw S3Error.service(status: 400, code: code, message: "the parts are gone after a retried CompleteMultipartUpload, and no complete object is there",
                                      requestID: nil)
            } catch let error as S3Error where attempt < configuration.maxAttempts && Self.isRetryable(error) {
                usleep(UInt32(Int.random(in: 25_000 * (1 << attempt)...100_000 * (1 << attempt))))
            }
        }
    }

    static func isRetryable(_ error: S3Error) -> Bool {
        switch error {
        case .unreachable: return true
        case .service(let status, let code, _, _):
            return status == 500 || status == 503 || status == 429 || code == "SlowDown" || code == "InternalError"
        case .invalidConfiguration: return false
        }
    }

    /// AbortMultipartUpload, best effort (the server may be the reason we abort).
    func abortMultipartUpload(key: String, uploadID: String) {
        _ = try? send(method: "DELETE", key: key, query: [("uploadId", uploadID)],
                      acceptStatus: { (200..<300).contains($0) || $0 == 404 })
    }

    static func sha256(ofFile path: String, offset: UInt64, length: UInt64) throws -> String {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw S3Error.invalidConfiguration("cannot open \(path)") }
        defer { close(descriptor) }
        let hasher = SHA256()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        var done: UInt64 = 0
        while done < length {
            let wanted = Int(min(UInt64(buffer.count), length - done))
            let count = pread(descriptor, buffer.baseAddress, wanted, off_t(offset + done))
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { throw S3Error.invalidConfiguration("cannot read \(path)") }
            hasher.update(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
            done += UInt64(count)
        }
        return Hex.encode(hasher.finalize())
    }
}

/// ETags of the parts as they complete, and the first failure.
final class PartResults: Sendable {
    private let state: Mutex<(etags: [String?], error: (any Error)?)>

    init(count: Int) {
        state = Mutex((Array(repeating: nil, count: count), nil))
    }

    func set(_ index: Int, etag: String) { state.withLock { $0.etags[index] = etag } }
    func fail(_ error: any Error) { state.withLock { if $0.error == nil { $0.error = error } } }
    var failed: Bool { state.withLock { $0.error != nil } }
    var firstError: (any Error)? { state.withLock { $0.error } }
    var etags: [String] { state.withLock { $0.etags.map { $0 ?? "" } } }
}
