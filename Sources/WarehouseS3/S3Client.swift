import Foundation
import WarehouseCrypto
import WarehouseCurl

/// Where and how to reach a bucket.
public struct S3Configuration: Sendable {
    /// `http(s)://host[:port]`.
    public var endpoint: String
    public var bucket: String
    public var region: String
    public var accessKey: String
    public var secretKey: String
    /// `endpoint/bucket/key` (MinIO, rclone, moto) instead of `bucket.endpoint/key`.
    public var pathStyle: Bool
    /// Objects larger than this go up as multipart uploads of parts this size.
    public var partSize: UInt64 = 8 << 20
    /// Parts in flight at once.
    public var concurrentParts = 8
    /// Whether a multipart part sent from a file is signed with its own SHA-256 (read and
    /// hashed once more), or sent as `UNSIGNED-PAYLOAD` as the AWS CLI does over TLS. The
    /// file's whole SHA-256, hashed as it arrives, stays the upload's integrity check.
    public var signPartPayloads = false
    /// Objects larger than this are copied in UploadPartCopy ranges (S3's CopyObject limit).
    public var maxSingleCopyBytes: UInt64 = 5 << 30
    /// Attempts for idempotent requests (connection errors, 500, 503, SlowDown).
    public var maxAttempts = 4
    public var connectTimeoutMilliseconds = 3_000
    /// A transfer with no progress for this long is abandoned (and retried when safe). As
    /// aws-cli's 60 s read timeout: servers legitimately hold a part's body while earlier parts
    /// are written (rclone serve s3 writes parts in order, and rejects the whole upload when a
    /// part it has started streaming is sent again, so a short timeout turns load into failure).
    public var stallTimeoutSeconds = 60
    /// CompleteMultipartUpload sends nothing back while the server assembles the object,
    /// which can take minutes for large objects: it gets this much.
    public var completeTimeoutSeconds = 600

    public init(endpoint: String, bucket: String, region: String = "us-east-1", accessKey: String, secretKey: String,
                pathStyle: Bool = true) {
        self.endpoint = endpoint
        self.bucket = bucket
        self.region = region
        self.accessKey = accessKey
        self.secretKey = secretKey
        self.pathStyle = pathStyle
    }
}

/// Why an S3 call failed: the server's error (status, Code, Message, RequestId) or a
/// connection that never got an answer.
public enum S3Error: Error, CustomStringConvertible, Sendable {
    case service(status: Int, code: String, message: String, requestID: String?)
    case unreachable(String)
    case invalidConfiguration(String)

    public var description: String {
        switch self {
        case .service(let status, let code, let message, let requestID):
            return "S3 \(status) \(code): \(message)" + (requestID.map { " (request id \($0))" } ?? "")
        case .unreachable(let detail): return "S3 unreachable: \(detail)"
        case .invalidConfiguration(let detail): return "invalid S3 configuration: \(detail)"
        }
    }

    public var status: Int? {
        if case .service(let status, _, _, _) = self { return status }
        return nil
    }

    public var code: String? {
        if case .service(_, let code, _, _) = self { return code }
        return nil
    }
}

/// An S3 client on libcurl with SigV4 signing we do ourselves. Requests are signed with the
/// payload's real SHA-256; idempotent ones are retried with exponential backoff and jitter.
public final class S3Client: Sendable {
    public let configuration: S3Configuration
    let signer: SigV4Signer
    let pool = CurlHandlePool()
    let scheme: String
    /// `host` or `host:port`, exactly as the Host header (and so the signature) carries it.
    let hostPort: String

    public init(configuration: S3Configuration) throws {
        guard let components = URLComponents(string: configuration.endpoint), let scheme = components.scheme,
              let host = components.host, !host.isEmpty, scheme == "http" || scheme == "https" else {
            throw S3Error.invalidConfiguration("endpoint '\(configuration.endpoint)' must look like http(s)://host[:port]")
        }
        guard !configuration.bucket.isEmpty else { throw S3Error.invalidConfiguration("bucket is empty") }
        self.configuration = configuration
        self.scheme = scheme
        self.hostPort = components.port.map { "\(host):\($0)" } ?? host
        self.signer = SigV4Signer(accessKey: configuration.accessKey, secretKey: configuration.secretKey,
                                  region: configuration.region)
    }

    /// Host and encoded path of `key` (nil: the bucket itself).
    func location(key: String?) -> (host: String, path: String) {
        let keyPath = key.map { "/" + S3URI.encodePath($0) } ?? ""
        if configuration.pathStyle {
            return (hostPort, "/" + S3URI.encode(configuration.bucket, keepSlash: false) + (keyPath.isEmpty ? "" : keyPath))
        }
        return ("\(configuration.bucket).\(hostPort)", keyPath.isEmpty ? "/" : keyPath)
    }

    /// Signs and sends one request, retrying when it is safe and worth it.
    func send(method: String, key: String?, query: [(String, String)] = [], headers: [(String, String)] = [],
              body: CurlRequest.Body = .none, payloadHash: String = SigV4Signer.emptyPayloadHash,
              idempotent: Bool = true, acceptStatus: (Int) -> Bool = { (200..<300).contains($0) },
              stallTimeoutSeconds: Int? = nil,
              onData: ((UnsafeRawBufferPointer) -> Bool)? = nil) throws -> CurlResponse {
        let (host, path) = location(key: key)
        let queryString = SigV4Signer.canonicalQuery(query)
        let url = "\(scheme)://\(host)\(path)" + (queryString.isEmpty ? "" : "?" + queryString)
        var attempt = 0
        // A streamed body may be retried only while nothing of it has been handed on.
        let delivered = DeliveryFlag()
        let forward: ((UnsafeRawBufferPointer) -> Bool)? = onData.map { consumer in
            { bytes in
                delivered.set()
                return consumer(bytes)
            }
        }
        while true {
            attempt += 1
            var allHeaders = headers
            allHeaders += signer.sign(method: method, path: path, query: query, headers: headers + [("host", host)],
                                      payloadHash: payloadHash, date: Date())
            let request = CurlRequest(method: method, url: url, headers: allHeaders, body: body)
            let outcome: Result<CurlResponse, any Error> = pool.withHandle { easy in
                easy.connectTimeoutMilliseconds = configuration.connectTimeoutMilliseconds
                easy.stallTimeoutSeconds = stallTimeoutSeconds ?? configuration.stallTimeoutSeconds
                return Result { try easy.perform(request, onData: forward) }
            }
            let retryable: Bool
            let failure: any Error
            switch outcome {
            case .success(let response):
                if acceptStatus(response.status) { return response }
                let error = Self.serviceError(response)
                failure = error
                retryable = response.status == 500 || response.status == 503 || error.code == "SlowDown"
                    || error.code == "InternalError" || response.status == 429
            case .failure(let error as CurlError):
                failure = S3Error.unreachable("\(method) \(url): \(error.message)")
                retryable = error.isTransient
            case .failure(let error):
                throw error
            }
            guard retryable, idempotent, !delivered.isSet, attempt < configuration.maxAttempts else { throw failure }
            // Exponential backoff with full jitter: 0…(100 ms × 2^attempt).
            let ceiling = 100_000 * (1 << attempt)
            usleep(UInt32(Int.random(in: ceiling / 4...ceiling)))
        }
    }

    static func serviceError(_ response: CurlResponse) -> S3Error {
        let xml = String(decoding: response.body, as: UTF8.self)
        let code = S3XML.value(of: "Code", in: xml) ?? defaultCode(response.status)
        let message = S3XML.value(of: "Message", in: xml) ?? "HTTP \(response.status)"
        let requestID = S3XML.value(of: "RequestId", in: xml) ?? response.headers["x-amz-request-id"]
        return .service(status: response.status, code: code, message: message, requestID: requestID)
    }

    static func defaultCode(_ status: Int) -> String {
        switch status {
        case 403: "AccessDenied"
        case 404: "NotFound"
        case 412: "PreconditionFailed"
        default: "HTTP\(status)"
        }
    }
}

/// Set once data has been passed on. Used only on the calling thread.
final class DeliveryFlag {
    private(set) var isSet = false
    func set() { isSet = true }
}
