import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A response as the test client saw it.
public struct TestResponse {
    public let status: Int
    /// Lowercased header names.
    public let headers: [String: String]
    public let body: [UInt8]

    public var text: String { String(decoding: body, as: UTF8.self) }

    /// The body parsed as JSON (nil when it is not JSON).
    public var json: Any? { try? JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed]) }
    public var object: [String: Any] { json as? [String: Any] ?? [:] }
    public var array: [[String: Any]] { json as? [[String: Any]] ?? [] }
    public var detail: String? { object["detail"] as? String }
}

/// One part of a multipart upload.
public enum TestFilePart {
    case bytes([UInt8])
    /// Streamed from a file, never loaded whole.
    case file(String)
}

/// A small blocking HTTP/1.1 client over a TCP socket, one connection per request. It can send
/// exactly the bytes a test wants (malformed bodies, aborted uploads), which URLSession cannot.
public struct TestClient: Sendable {
    public let host: String
    public let port: UInt16
    /// Sent as `Authorization: Bearer …` with every request when set.
    public var token: String?

    public init(host: String = "127.0.0.1", port: UInt16, token: String? = nil) {
        self.host = host
        self.port = port
        self.token = token
    }

    /// The same client with another token (nil: none).
    public func with(token: String?) -> TestClient {
        TestClient(host: host, port: port, token: token)
    }

    /// The Authorization header line, or nothing.
    public var authorizationLine: String {
        token.map { "Authorization: Bearer \($0)\r\n" } ?? ""
    }

    public func get(_ path: String, headers: [(String, String)] = []) throws -> TestResponse {
        try request("GET", path, headers: headers)
    }

    public func delete(_ path: String) throws -> TestResponse {
        try request("DELETE", path)
    }

    public func put(_ path: String, json: String) throws -> TestResponse {
        try request("PUT", path, headers: [("Content-Type", "application/json")], body: Array(json.utf8))
    }

    public func request(_ method: String, _ path: String, headers: [(String, String)] = [], body: [UInt8] = []) throws -> TestResponse {
        let connection = try TestConnection(host: host, port: port)
        var head = "\(method) \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nConnection: close\r\n" + authorizationLine
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if !body.isEmpty || method == "POST" || method == "PUT" { head += "Content-Length: \(body.count)\r\n" }
        head += "\r\n"
        try connection.send(Array(head.utf8))
        try connection.send(body)
        return try connection.readResponse(method: method)
    }

    /// A multipart/form-data POST with the fields and files in the order given.
    public func upload(_ path: String, fields: [(String, String)], files: [(field: String, filename: String, content: TestFilePart)],
                       fieldsAfterFiles: Bool = false, headers: [(String, String)] = []) throws -> TestResponse {
        let boundary = "----warehouse-test-\(UUID().uuidString)"
        var fieldBytes: [UInt8] = []
        for (name, value) in fields {
            fieldBytes += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n".utf8)
        }
        var fileHeads: [[UInt8]] = []
        var fileSizes: [UInt64] = []
        for file in files {
            fileHeads.append(Array(("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(file.field)\"; filename=\"\(file.filename)\"\r\n"
                + "Content-Type: application/octet-stream\r\n\r\n").utf8))
            switch file.content {
            case .bytes(let bytes): fileSizes.append(UInt64(bytes.count))
            case .file(let path):
                let attributes = try FileManager.default.attributesOfItem(atPath: path)
                fileSizes.append((attributes[.size] as? NSNumber)?.uint64Value ?? 0)
            }
        }
        let closing = Array("--\(boundary)--\r\n".utf8)
        var length = UInt64(fieldBytes.count + closing.count)
        for (index, head) in fileHeads.enumerated() { length += UInt64(head.count) + fileSizes[index] + 2 }

        let connection = try TestConnection(host: host, port: port)
        let head = "POST \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nConnection: close\r\n" + authorizationLine
            + headers.map { "\($0.0): \($0.1)\r\n" }.joined()
            + "Content-Type: multipart/form-data; boundary=\(boundary)\r\nContent-Length: \(length)\r\n\r\n"
        do {
            try connection.send(Array(head.utf8))
            if !fieldsAfterFiles { try connection.send(fieldBytes) }
            for (index, file) in files.enumerated() {
                try connection.send(fileHeads[index])
                switch file.content {
                case .bytes(let bytes): try connection.send(bytes)
                case .file(let path): try connection.sendFile(path)
                }
                try connection.send([13, 10])
            }
            if fieldsAfterFiles { try connection.send(fieldBytes) }
            try connection.send(closing)
        } catch {
            // The server may answer before the body is in (413 on the declared length) and
            // close: as curl does, the answer counts when there is one.
            if let early = try? connection.readResponse(method: "POST") { return early }
            throw error
        }
        return try connection.readResponse(method: "POST")
    }

    /// Sends raw bytes and returns the response (for malformed requests).
    public func raw(_ bytes: [UInt8], method: String = "POST") throws -> TestResponse {
        let connection = try TestConnection(host: host, port: port)
        try connection.send(bytes)
        return try connection.readResponse(method: method)
    }

    /// Sends the head and part of a body, then closes the socket without finishing.
    public func abort(after bytes: [UInt8]) throws {
        let connection = try TestConnection(host: host, port: port)
        try connection.send(bytes)
        usleep(100_000)
    }

    /// GET streaming the body into `hasher`-style consumer; returns status, headers and byte count.
    public func download(_ path: String, headers: [(String, String)] = [], consume: (UnsafeRawBufferPointer) -> Void) throws
        -> (status: Int, headers: [String: String], size: UInt64) {
        let connection = try TestConnection(host: host, port: port)
        var head = "GET \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nConnection: close\r\n" + authorizationLine
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        try connection.send(Array((head + "\r\n").utf8))
        return try connection.streamResponse(consume: consume)
    }
}

/// One TCP connection, closed in deinit.
final class TestConnection {
    private let socketDescriptor: Int32
    var socketDescriptorForPoll: Int32 { socketDescriptor }
    private var pending: [UInt8] = []

    init(host: String, port: UInt16) throws {
        socketDescriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        inet_pton(AF_INET, host, &address.sin_addr)
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socketDescriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard status == 0 else {
            close(socketDescriptor)
            throw TestClientError("cannot connect to \(host):\(port): \(String(cString: strerror(errno)))")
        }
    }

    deinit { close(socketDescriptor) }

    func send(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try send($0) }
    }

    func send(_ buffer: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < buffer.count {
            let sent = Glibc.send(socketDescriptor, buffer.baseAddress! + offset, buffer.count - offset, Int32(MSG_NOSIGNAL))
            if sent < 0 {
                if errno == EINTR { continue }
                throw TestClientError("send failed: \(String(cString: strerror(errno)))")
            }
            offset += sent
        }
    }

    func sendFile(_ path: String) throws {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { throw TestClientError("cannot open \(path)") }
        defer { close(descriptor) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let count = read(descriptor, buffer.baseAddress, buffer.count)
            if count <= 0 { break }
            try send(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
        }
    }

    private func fill() throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        let count = chunk.withUnsafeMutableBytes { recv(socketDescriptor, $0.baseAddress, $0.count, 0) }
        if count < 0 { throw TestClientError("recv failed: \(String(cString: strerror(errno)))") }
        if count == 0 { return false }
        pending.append(contentsOf: chunk[0..<count])
        return true
    }

    private func readHead() throws -> (status: Int, headers: [String: String]) {
        let terminator: [UInt8] = [13, 10, 13, 10]
        while true {
            if let range = pending.firstRange(of: terminator) {
                let text = String(decoding: pending[..<range.lowerBound], as: UTF8.self)
                pending.removeSubrange(..<range.upperBound)
                var lines = text.components(separatedBy: "\r\n")
                let statusLine = lines.removeFirst().split(separator: " ")
                guard statusLine.count >= 2, let status = Int(statusLine[1]) else { throw TestClientError("bad status line: \(text)") }
                var headers: [String: String] = [:]
                for line in lines {
                    guard let colon = line.firstIndex(of: ":") else { continue }
                    headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                }
                return (status, headers)
            }
            guard try fill() else { throw TestClientError("connection closed before the response head") }
        }
    }

    func readResponse(method: String) throws -> TestResponse {
        var body: [UInt8] = []
        let result = try streamResponse(method: method) { body.append(contentsOf: $0) }
        return TestResponse(status: result.status, headers: result.headers, body: body)
    }

    func streamResponse(method: String = "GET", consume: (UnsafeRawBufferPointer) -> Void) throws
        -> (status: Int, headers: [String: String], size: UInt64) {
        let (status, headers) = try readHead()
        var total: UInt64 = 0
        func deliver(_ bytes: ArraySlice<UInt8>) {
            total += UInt64(bytes.count)
            bytes.withUnsafeBytes(consume)
        }
        if method == "HEAD" || status == 304 || status == 204 {
            return (status, headers, 0)
        }
        if headers["transfer-encoding"]?.lowercased() == "chunked" {
            while true {
                while pending.firstRange(of: [13, 10]) == nil { guard try fill() else { throw TestClientError("truncated chunk") } }
                let lineEnd = pending.firstRange(of: [13, 10])!
                let sizeText = String(decoding: pending[..<lineEnd.lowerBound], as: UTF8.self).split(separator: ";")[0]
                pending.removeSubrange(..<lineEnd.upperBound)
                guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16) else { throw TestClientError("bad chunk size") }
                while pending.count < size + 2 { guard try fill() else { throw TestClientError("truncated chunk") } }
                deliver(pending[0..<size])
                pending.removeSubrange(0..<(size + 2))
                if size == 0 { break }
            }
        } else if let lengthText = headers["content-length"], let length = UInt64(lengthText) {
            while total < length {
                if pending.isEmpty { guard try fill() else { throw TestClientError("body truncated at \(total) of \(length)") } }
                let take = Int(min(UInt64(pending.count), length - total))
                deliver(pending[0..<take])
                pending.removeSubrange(0..<take)
            }
        } else {
            while true {
                if !pending.isEmpty { deliver(pending[...]); pending.removeAll() }
                guard try fill() else { break }
            }
        }
        return (status, headers, total)
    }
}

public struct TestClientError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A connection a test keeps open on purpose (idle, slow, or holding a slot).
public final class HeldConnection {
    private let connection: TestConnection

    init(_ connection: TestConnection) { self.connection = connection }

    public func send(_ text: String) throws { try connection.send(Array(text.utf8)) }

    /// Waits up to `seconds` for the server to answer or close; returns the response text
    /// ("" when it closed without a word), or nil when the connection stayed open and silent.
    public func waitForServer(seconds: Double) -> String? {
        connection.waitForData(seconds: seconds)
    }
}

extension TestClient {
    /// Opens a connection and sends `prefix` (e.g. half a request), leaving it open.
    public func hold(sending prefix: String = "") throws -> HeldConnection {
        let held = HeldConnection(try TestConnection(host: host, port: port))
        if !prefix.isEmpty { try held.send(prefix) }
        return held
    }
}

extension TestConnection {
    func waitForData(seconds: Double) -> String? {
        var descriptor = pollfd(fd: socketDescriptorForPoll, events: Int16(POLLIN), revents: 0)
        guard poll(&descriptor, 1, Int32(seconds * 1000)) > 0 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 65_536)
        var text: [UInt8] = []
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(socketDescriptorForPoll, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            text += buffer[0..<count]
        }
        return String(decoding: text, as: UTF8.self)
    }
}
