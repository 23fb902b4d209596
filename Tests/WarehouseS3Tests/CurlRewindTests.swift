import Foundation
import Testing
import WarehouseCrypto
import WarehouseCurl

/// A request sent on a reused connection that the server drops unanswered is sent again on a
/// fresh one, and its body must be rewound for that: a file or in-memory body is (seek
/// callback), so the retry carries the same bytes. The server is a raw socket script.
@Suite struct CurlRewindTests {
    static let script = #"""
        import hashlib, socket
        s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(4); print(s.getsockname()[1], flush=True)
        def request(c, buf):
            while b"\r\n\r\n" not in buf:
                d = c.recv(65536)
                if not d: return None, b""
                buf += d
            head, rest = buf.split(b"\r\n\r\n", 1)
            n = int([l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")][0])
            while len(rest) < n:
                d = c.recv(65536)
                if not d: return None, b""
                rest += d
            return rest[:n], rest[n:]
        def answer(c, body):
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Sha256: " + hashlib.sha256(body).hexdigest().encode() + b"\r\n\r\n")
        for _ in range(2):
            c, _ = s.accept()
            body, buf = request(c, b"")
            answer(c, body)
            body, buf = request(c, buf)   # the next request on this kept-alive connection...
            c.close()                     # ...is dropped unanswered
            c, _ = s.accept()             # and arrives again on a fresh one
            body, buf = request(c, b"")
            answer(c, body)
            c.close()
        """#

    @Test func aBodyIsRewoundWhenItsRequestIsResentOnAFreshConnection() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", Self.script]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        defer { process.terminate() }
        var line = Data()
        while !line.contains(10) { line.append(output.fileHandleForReading.availableData) }
        let port = try #require(Int(String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)))

        let bytes = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let path = FileManager.default.temporaryDirectory.path + "/rewind-\(UUID().uuidString)"
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let url = "http://127.0.0.1:\(port)/object"
        let easy = CurlEasy()
        for body in [CurlRequest.Body.file(path: path, offset: 1000, length: 250_000), .bytes(bytes)] {
            let expected: [UInt8]
            if case .file = body { expected = Array(bytes[1000..<251_000]) } else { expected = bytes }
            for attempt in 1...2 {
                let response = try easy.perform(CurlRequest(method: "PUT", url: url, body: body))
                #expect(response.status == 200, "attempt \(attempt)")
                #expect(response.headers["x-sha256"] == SHA256.hex(of: expected), "attempt \(attempt): other bytes arrived")
            }
        }
    }
}
