import Foundation
import Testing
@testable import WarehouseHTTPServer

@Suite struct MultipartParserTests {
    let boundary = "XyZ-boundary"

    func body(fileBytes: [UInt8]) -> [UInt8] {
        var bytes = Array("preamble to ignore\r\n--\(boundary)\r\nContent-Disposition: form-data; name=\"user_id\"\r\n\r\nalice\r\n".utf8)
        bytes += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"we\\\"ird name.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n".utf8)
        bytes += fileBytes
        bytes += Array("\r\n--\(boundary)\r\ncontent-disposition: form-data; name=\"after\"\r\n\r\nline1\r\nline2\r\n--\(boundary)--\r\nepilogue".utf8)
        return bytes
    }

    /// Feeds `bytes` in chunks of the given sizes, in turn.
    func feed(_ parser: MultipartParser, _ bytes: [UInt8], chunkSizes: [Int]) throws {
        var offset = 0
        var index = 0
        while offset < bytes.count {
            let size = min(chunkSizes[index % chunkSizes.count], bytes.count - offset)
            try bytes[offset..<(offset + size)].withUnsafeBytes { try parser.feed($0) }
            offset += size
            index += 1
        }
    }

    func parse(_ bytes: [UInt8], chunkSizes: [Int]) throws -> (MultipartForm, [UInt8]) {
        let directory = FileManager.default.temporaryDirectory.path
        let parser = MultipartParser(boundary: boundary, configuration: MultipartConfiguration(spoolDirectory: directory))
        try feed(parser, bytes, chunkSizes: chunkSizes)
        let form = try parser.finish()
        let file = try #require(form.file("file"))
        let stored = try [UInt8](Data(contentsOf: URL(fileURLWithPath: file.spoolPath)))
        return (form, stored)
    }

    @Test(arguments: [[1], [2, 3, 5], [7], [64], [1 << 20]])
    func anyChunkingGivesTheSameResult(chunkSizes: [Int]) throws {
        // File content that contains near-boundaries: CRLF, dashes, and a boundary prefix.
        let fileBytes = Array("\r\n--XyZ-bound\r\n-- \r\n\r\n".utf8) + (0..<3000).map { UInt8($0 % 251) }
        let (form, stored) = try parse(body(fileBytes: fileBytes), chunkSizes: chunkSizes)
        #expect(form.field("user_id") == "alice")
        #expect(form.field("after") == "line1\r\nline2")
        let file = try #require(form.file("file"))
        #expect(file.filename == "we\"ird name.bin")
        #expect(file.contentType == "application/octet-stream")
        #expect(file.size == UInt64(fileBytes.count))
        #expect(stored == fileBytes)
    }

    /// Files past several spool slots, cut at sizes around the delimiter's length and the
    /// slot size, with near-delimiters placed across chunk edges: the bytes, the size and the
    /// digest (computed on the spool queue) are exactly the file's.
    @Test(arguments: [[16], [17, 4093], [65539], [1 << 20], [(1 << 20) + 1, 15, 300_000]])
    func largeFilesSpoolExactlyWhateverTheChunks(chunkSizes: [Int]) throws {
        // More slots than the writer has, so slots are reused while the queue still works.
        let slot = SpoolWriter.slotBytes
        var fileBytes = (0..<((SpoolWriter.slotCount + 4) * slot + 4321)).map { UInt8(truncatingIfNeeded: $0 &* 2654435761 >> 13) }
        let nearDelimiter = Array("\r\n--XyZ-boundar".utf8)
        for offset in [0, 5, 4090, 65530, slot - 7, 2 * slot, (1 << 20) - 7, fileBytes.count - nearDelimiter.count] {
            fileBytes.replaceSubrange(offset..<(offset + nearDelimiter.count), with: nearDelimiter)
        }
        let directory = FileManager.default.temporaryDirectory.path
        var configuration = MultipartConfiguration(spoolDirectory: directory)
        configuration.makeDigest = { FNVDigest() }
        let parser = MultipartParser(boundary: boundary, configuration: configuration)
        try feed(parser, body(fileBytes: fileBytes), chunkSizes: chunkSizes)
        let form = try parser.finish()
        let file = try #require(form.file("file"))
        #expect(form.field("after") == "line1\r\nline2")
        #expect(file.size == UInt64(fileBytes.count))
        let expected = FNVDigest()
        fileBytes.withUnsafeBytes { expected.update($0) }
        #expect(file.digest == expected.finalizeHex())
        #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: file.spoolPath))) == fileBytes)
    }

    @Test func spoolFileIsRemovedWithTheForm() throws {
        var path = ""
        do {
            let (form, _) = try parse(body(fileBytes: [1, 2, 3]), chunkSizes: [100])
            path = try #require(form.file("file")).spoolPath
            #expect(FileManager.default.fileExists(atPath: path))
        }
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test func truncatedAndHeaderlessBodiesFail() throws {
        let directory = FileManager.default.temporaryDirectory.path
        let truncated = MultipartParser(boundary: boundary, configuration: MultipartConfiguration(spoolDirectory: directory))
        try Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nvalue".utf8).withUnsafeBytes { try truncated.feed($0) }
        #expect(throws: HTTPBodyError.self) { try truncated.finish() }

        let noName = MultipartParser(boundary: boundary, configuration: MultipartConfiguration(spoolDirectory: directory))
        #expect(throws: HTTPBodyError.self) {
            try Array("--\(boundary)\r\nContent-Disposition: form-data\r\n\r\nvalue\r\n--\(boundary)--".utf8).withUnsafeBytes { try noName.feed($0) }
        }
        let large = MultipartParser(boundary: boundary,
                                    configuration: MultipartConfiguration(spoolDirectory: directory, maxFieldBytes: 10))
        #expect(throws: HTTPBodyError.self) {
            try Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n01234567890123456789\r\n--\(boundary)--".utf8)
                .withUnsafeBytes { try large.feed($0) }
        }
    }

    @Test func contentTypeBoundaryParsing() {
        #expect(MultipartParser.boundary(fromContentType: "multipart/form-data; boundary=abc") == "abc")
        #expect(MultipartParser.boundary(fromContentType: "Multipart/Form-Data; charset=utf-8; boundary=\"a b;c\"") == "a b;c")
        #expect(MultipartParser.boundary(fromContentType: "application/json") == nil)
        #expect(MultipartParser.boundary(fromContentType: "multipart/form-data") == nil)
        #expect(MultipartParser.boundary(fromContentType: nil) == nil)
    }

    @Test func routerPrefersLiteralSegments() {
        let router = Router(routes: [
            RouteDefinition("GET", "/ai-models/{user_id}/{model_id}") { _ in .text("model") },
            RouteDefinition("GET", "/ai-models/search/{user_id}") { _ in .text("search") },
        ]) { _, _ in .text("error", status: 500) }
        func answer(_ method: String, _ path: String) -> (Int, [UInt8]) {
            let head = HTTPRequestHead(method: method, path: path, headers: HTTPHeaders(), queryItems: [])
            let response = router.plan(for: head).respond(.success(.none))
            if case .bytes(let bytes) = response.body { return (response.status, bytes) }
            return (response.status, [])
        }
        #expect(answer("GET", "/ai-models/search/alice").1 == Array("search".utf8))
        #expect(answer("GET", "/ai-models/alice/m").1 == Array("model".utf8))
        #expect(answer("HEAD", "/ai-models/alice/m").0 == 200)
        #expect(answer("POST", "/ai-models/alice/m").0 == 405)
        #expect(answer("GET", "/nothing").0 == 404)
    }
}

/// A digest for tests: 64-bit FNV-1a, order-sensitive, so any reordering or loss shows.
final class FNVDigest: UploadDigest, @unchecked Sendable {
    private var state: UInt64 = 0xcbf2_9ce4_8422_2325
    func update(_ buffer: UnsafeRawBufferPointer) {
        for byte in buffer { state = (state ^ UInt64(byte)) &* 0x100_0000_01b3 }
    }
    func finalizeHex() -> String { String(state, radix: 16) }
}
