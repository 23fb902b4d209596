import Foundation
import Testing
import WarehouseZip

@Suite struct ZipTests {
    @Test func pathsAreNormalizedOrRefused() throws {
        #expect(try ZipPaths.normalize("a/b.bin") == "a/b.bin")
        #expect(try ZipPaths.normalize("./a/./b.bin") == "a/b.bin")
        #expect(try ZipPaths.normalize("dir\\sub\\w.onnx") == "dir/sub/w.onnx")
        #expect(try ZipPaths.normalize("folder/") == "folder")
        for hostile in ["../x", "a/../../x", "/etc/passwd", "C:\\x", "c:/x", "a//b", "", "a/\u{1}b", "..\\x"] {
            #expect(throws: ZipError.self, "\(hostile)") { try ZipPaths.normalize(hostile) }
        }
    }

    /// Archives written by ZipStreamWriter read back through ZipExtractor, stored and deflated.
    @Test(arguments: [ZipStreamWriter.Compression.store, .deflate])
    func writerOutputReadsBack(compression: ZipStreamWriter.Compression) throws {
        let files: [(String, [UInt8])] = [
            ("config.json", Array("{\"a\": 1}".utf8)),
            ("weights/model.bin", (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }),
            ("naïve/名前.txt", Array("unicode".utf8)),
            ("empty.txt", []),
        ]
        let writer = try ZipStreamWriter(compression: compression)
        var archive: [UInt8] = []
        var scratch = [UInt8](repeating: 0, count: 4096)
        func drain() {
            while writer.pendingCount > 0 {
                let count = scratch.withUnsafeMutableBytes { writer.take(into: $0) }
                archive += scratch[0..<count]
            }
        }
        for (path, bytes) in files {
            try writer.beginEntry(path: path, size: UInt64(bytes.count))
            var offset = 0
            while offset < bytes.count {
                let end = min(offset + 65_536, bytes.count)
                try bytes[offset..<end].withUnsafeBytes { try writer.write($0) }
                drain()
                offset = end
            }
            try writer.finishEntry()
            drain()
        }
        try writer.finish()
        drain()

        let path = FileManager.default.temporaryDirectory.path + "/writer-\(UUID().uuidString).zip"
        FileManager.default.createFile(atPath: path, contents: Data(archive))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let extractor = try ZipExtractor(path: path, limits: ZipLimits())
        #expect(extractor.files.map(\.path) == files.map(\.0))
        var read: [String: [UInt8]] = [:]
        try extractor.extract { entry, stream in
            var bytes: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 10_000)
            while true {
                let count = try buffer.withUnsafeMutableBytes { try stream.read(into: $0) }
                if count == 0 { break }
                bytes += buffer[0..<count]
            }
            read[entry.path] = bytes
        }
        for (path, bytes) in files { #expect(read[path] == bytes, "\(path)") }
    }

    @Test func nonZipAndTinyFilesAreMalformed() throws {
        let path = FileManager.default.temporaryDirectory.path + "/not-\(UUID().uuidString).zip"
        FileManager.default.createFile(atPath: path, contents: Data("hello".utf8))
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(throws: ZipError.self) { try ZipExtractor(path: path, limits: ZipLimits()) }
    }
}
