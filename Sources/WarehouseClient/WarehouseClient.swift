import Foundation
import WarehouseCore
import WarehouseCurl

/// What the server refused (4xx/5xx with its `detail`), or a transfer that failed.
public struct ClientError: Error, CustomStringConvertible, Sendable {
    /// 0 when no HTTP status arrived (connection refused, timed out…).
    public let status: Int
    public let detail: String

    public var description: String { status == 0 ? detail : "\(status): \(detail)" }

    public init(status: Int, detail: String) {
        self.status = status
        self.detail = detail
    }
}

/// The warehouse's HTTP API from the command line: JSON calls, streamed multipart uploads
/// (a file, or a folder zipped on the fly), streamed downloads, and Server-Sent Events.
public final class WarehouseClient {
    public let baseURL: String
    let token: String?
    private let curl = CurlEasy()

    public init(baseURL: String, token: String?) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.token = token
        curl.stallTimeoutSeconds = 120
    }

    var authorization: [(String, String)] { token.map { [("Authorization", "Bearer \($0)")] } ?? [] }

    /// Percent-encodes a query value.
    public static func query(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~@"))) ?? value
    }

    func perform(_ request: CurlRequest, onData: ((UnsafeRawBufferPointer) -> Bool)? = nil) throws -> CurlResponse {
        do {
            let response = try curl.perform(request, onData: onData)
            guard (200..<300).contains(response.status) || response.status == 304 else {
                throw ClientError(status: response.status, detail: Self.detail(response.body))
            }
            return response
        } catch let error as CurlError {
            throw ClientError(status: 0, detail: "cannot reach \(baseURL): \(error.message)")
        }
    }

    static func detail(_ body: [UInt8]) -> String {
        if case .object(let object)? = try? JSONDecoder().decode(JSONValue.self, from: Data(body)), let detail = object["detail"]?.stringValue {
            return detail
        }
        return String(decoding: body.prefix(500), as: UTF8.self)
    }

    /// A JSON call; answers the decoded body.
    @discardableResult
    public func json(_ method: String, _ path: String, body: JSONValue? = nil) throws -> JSONValue {
        var headers = authorization
        var payload = CurlRequest.Body.none
        if let body {
            headers.append(("Content-Type", "application/json"))
            payload = .bytes(Array(try JSONEncoder().encode(body)))
        }
        let response = try perform(CurlRequest(method: method, url: baseURL + path, headers: headers, body: payload))
        return (try? JSONDecoder().decode(JSONValue.self, from: Data(response.body))) ?? .null
    }

    /// POSTs a raw body (a CSV file, say) and answers the JSON reply.
    public func post(_ path: String, file: String, contentType: String) throws -> JSONValue {
        let size = try Self.size(of: file)
        let response = try perform(CurlRequest(method: "POST", url: baseURL + path,
                                               headers: authorization + [("Content-Type", contentType)],
                                               body: .file(path: file, offset: 0, length: size)))
        return (try? JSONDecoder().decode(JSONValue.self, from: Data(response.body))) ?? .null
    }

    /// A multipart upload: the fields, then one file part streamed from `source`.
    /// `progress` gets the bytes sent so far and the total when known.
    public func upload(_ path: String, fields: [(String, String)], fileField: String, filename: String, source: UploadSource,
                       progress: @escaping (UInt64, UInt64?) -> Void = { _, _ in }) throws -> JSONValue {
        let boundary = "----warehouse-cli-\(UUID().uuidString)"
        var head = ""
        for (name, value) in fields {
            head += "--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n"
        }
        head += "--\(boundary)\r\nContent-Disposition: form-data; name=\"\(fileField)\"; filename=\"\(filename)\"\r\n"
        head += "Content-Type: application/octet-stream\r\n\r\n"
        let body = MultipartBody(head: Array(head.utf8), source: source, tail: Array("\r\n--\(boundary)--\r\n".utf8))
        let total = body.length
        let response = try perform(CurlRequest(
            method: "POST", url: baseURL + path,
            headers: authorization + [("Content-Type", "multipart/form-data; boundary=\(boundary)")],
            body: .stream(length: total) { buffer in
                let count = try body.read(into: buffer)
                progress(body.sent, total)
                return count
            }))
        return (try? JSONDecoder().decode(JSONValue.self, from: Data(response.body))) ?? .null
    }

    /// Streams a GET to `destination` (written to a temporary name, renamed when whole).
    /// Answers the bytes written.
    @discardableResult
    public func download(_ path: String, to destination: String, progress: @escaping (UInt64, UInt64?) -> Void = { _, _ in }) throws -> UInt64 {
        let partial = destination + ".partial"
        guard FileManager.default.createFile(atPath: partial, contents: nil), let handle = FileHandle(forWritingAtPath: partial) else {
            throw ClientError(status: 0, detail: "cannot write \(partial)")
        }
        var written: UInt64 = 0
        var failure: (any Error)?
        var total: UInt64?
        do {
            _ = try perform(CurlRequest(method: "GET", url: baseURL + path, headers: authorization)) { bytes in
                do {
                    try handle.write(contentsOf: Data(bytes))
                    written += UInt64(bytes.count)
                    progress(written, total)
                    return true
                } catch {
                    failure = error
                    return false
                }
            }
        } catch {
            try? handle.close()
            try? FileManager.default.removeItem(atPath: partial)
            throw error
        }
        total = written
        try handle.close()
        if let failure {
            try? FileManager.default.removeItem(atPath: partial)
            throw ClientError(status: 0, detail: "cannot write \(destination): \(failure)")
        }
        try? FileManager.default.removeItem(atPath: destination)
        try FileManager.default.moveItem(atPath: partial, toPath: destination)
        return written
    }

    /// Reads a Server-Sent Events stream; `onEvent` gets each event's JSON data and returns
    /// false to stop.
    public func events(_ path: String, onEvent: @escaping (JSONValue) -> Bool) throws {
        var pending: [UInt8] = []
        _ = try perform(CurlRequest(method: "GET", url: baseURL + path, headers: authorization)) { bytes in
            pending.append(contentsOf: bytes)
            while let end = Self.eventEnd(pending) {
                let block = String(decoding: pending[..<end], as: UTF8.self)
                pending.removeFirst(end + 2)
                for line in block.split(separator: "\n") where line.hasPrefix("data: ") {
                    if let event = try? JSONDecoder().decode(JSONValue.self, from: Data(line.dropFirst(6).utf8)), !onEvent(event) {
                        return false
                    }
                }
            }
            return true
        }
    }

    static func eventEnd(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 2 else { return nil }
        for index in 0..<(bytes.count - 1) where bytes[index] == 10 && bytes[index + 1] == 10 { return index }
        return nil
    }

    static func size(of path: String) throws -> UInt64 {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path), let size = attributes[.size] as? NSNumber else {
            throw ClientError(status: 0, detail: "cannot read \(path)")
        }
        return size.uint64Value
    }
}
