import Foundation
import WarehouseCrypto

/// AWS Signature Version 4 for S3 (header and query signing), following
/// https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-authenticating-requests.html
public struct SigV4Signer: Sendable {
    public let accessKey: String
    public let secretKey: String
    public let region: String
    public let service: String

    public init(accessKey: String, secretKey: String, region: String, service: String = "s3") {
        self.accessKey = accessKey
        self.secretKey = secretKey
        self.region = region
        self.service = service
    }

    /// SHA-256 of the empty payload.
    public static let emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    /// `x-amz-content-sha256` of a body the signature does not cover.
    public static let unsignedPayload = "UNSIGNED-PAYLOAD"

    /// The headers to add to a request: `x-amz-date`, `x-amz-content-sha256`, `Authorization`.
    /// `path` is already URI-encoded (see `S3URI.encodePath`); `headers` must include `host`.
    public func sign(method: String, path: String, query: [(String, String)], headers: [(String, String)],
                     payloadHash: String, date: Date) -> [(String, String)] {
        let amzDate = Self.amzDate(date)
        var all = headers
        all.append(("x-amz-date", amzDate))
        all.append(("x-amz-content-sha256", payloadHash))
        let (canonical, signedHeaders) = canonicalRequest(method: method, path: path, query: query, headers: all,
                                                          payloadHash: payloadHash)
        let scope = "\(amzDate.prefix(8))/\(region)/\(service)/aws4_request"
        let signature = self.signature(canonicalRequest: canonical, amzDate: amzDate, scope: scope)
        let authorization = "AWS4-HMAC-SHA256 Credential=\(accessKey)/\(scope), SignedHeaders=\(signedHeaders), Signature=\(signature)"
        return [("x-amz-date", amzDate), ("x-amz-content-sha256", payloadHash), ("Authorization", authorization)]
    }

    /// The query of a presigned URL (everything after `?`), valid for `expires` seconds.
    public func presignedQuery(method: String, path: String, host: String, query: [(String, String)] = [],
                               expires: Int, date: Date) -> String {
        let amzDate = Self.amzDate(date)
        let scope = "\(amzDate.prefix(8))/\(region)/\(service)/aws4_request"
        var parameters = query
        parameters += [
            ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
            ("X-Amz-Credential", "\(accessKey)/\(scope)"),
            ("X-Amz-Date", amzDate),
            ("X-Amz-Expires", String(expires)),
            ("X-Amz-SignedHeaders", "host"),
        ]
        let (canonical, _) = canonicalRequest(method: method, path: path, query: parameters, headers: [("host", host)],
                                              payloadHash: "UNSIGNED-PAYLOAD")
        let signature = self.signature(canonicalRequest: canonical, amzDate: amzDate, scope: scope)
        return Self.canonicalQuery(parameters) + "&X-Amz-Signature=" + signature
    }

    func canonicalRequest(method: String, path: String, query: [(String, String)], headers: [(String, String)],
                          payloadHash: String) -> (request: String, signedHeaders: String) {
        var merged: [String: String] = [:]
        for (name, value) in headers {
            let key = name.lowercased()
            let trimmed = value.trimmingCharacters(in: .whitespaces)
                .split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
            merged[key] = merged[key].map { $0 + "," + trimmed } ?? trimmed
        }
        let names = merged.keys.sorted()
        let canonicalHeaders = names.map { "\($0):\(merged[$0]!)\n" }.joined()
        let signedHeaders = names.joined(separator: ";")
        let request = [method, path.isEmpty ? "/" : path, Self.canonicalQuery(query), canonicalHeaders, signedHeaders, payloadHash]
            .joined(separator: "\n")
        return (request, signedHeaders)
    }

    func stringToSign(canonicalRequest: String, amzDate: String, scope: String) -> String {
        "AWS4-HMAC-SHA256\n\(amzDate)\n\(scope)\n\(SHA256.hex(of: Array(canonicalRequest.utf8)))"
    }

    func signature(canonicalRequest: String, amzDate: String, scope: String) -> String {
        let toSign = stringToSign(canonicalRequest: canonicalRequest, amzDate: amzDate, scope: scope)
        var key = HMACSHA256.authenticate(String(amzDate.prefix(8)), key: Array("AWS4\(secretKey)".utf8))
        key = HMACSHA256.authenticate(region, key: key)
        key = HMACSHA256.authenticate(service, key: key)
        key = HMACSHA256.authenticate("aws4_request", key: key)
        return Hex.encode(HMACSHA256.authenticate(toSign, key: key))
    }

    /// Names and values URI-encoded (slashes too), sorted by name then value.
    static func canonicalQuery(_ query: [(String, String)]) -> String {
        query.map { (S3URI.encode($0.0, keepSlash: false), S3URI.encode($0.1, keepSlash: false)) }
            .sorted { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
            .map { "\($0.0)=\($0.1)" }
            .joined(separator: "&")
    }

    static func amzDate(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        return String(format: "%04d%02d%02dT%02d%02d%02dZ", parts.year!, parts.month!, parts.day!,
                      parts.hour!, parts.minute!, parts.second!)
    }
}

/// URI encoding as SigV4 wants it: every byte but A-Z a-z 0-9 - _ . ~ is %XX (uppercase hex);
/// `/` is kept in paths and encoded in query strings. S3 paths are encoded once, not twice.
public enum S3URI {
    private static let hex = Array("0123456789ABCDEF".utf8)

    public static func encode(_ text: String, keepSlash: Bool) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."),
                 UInt8(ascii: "~"):
                out.append(byte)
            case UInt8(ascii: "/") where keepSlash:
                out.append(byte)
            default:
                out += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 15)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// An object path: `/bucket/key` (path style) or `/key`, each segment encoded.
    public static func encodePath(_ path: String) -> String {
        encode(path, keepSlash: true)
    }
}
