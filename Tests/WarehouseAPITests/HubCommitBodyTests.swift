import Foundation
import Testing
@testable import WarehouseHub
import WarehouseCore
import WarehouseCrypto
import WarehouseTesting

/// A commit's NDJSON body as the Hub's client writes it (Python's json and base64), received
/// in chunks of any size: long contents are decoded into spool files as they stream.
@Suite struct HubCommitBodyTests {
    static func lines(_ files: [(path: String, bytes: [UInt8])], escapeSlashes: Bool = false) -> [UInt8] {
        var text = #"{"key": "header", "value": {"summary": "s", "description": "", "parentCommit": "abc1234"}}"# + "\n"
        for file in files {
            var content = Data(file.bytes).base64EncodedString()
            if escapeSlashes { content = content.replacingOccurrences(of: "/", with: "\\/") }
            text += #"{"key": "file", "value": {"content": "\#(content)", "path": "\#(file.path)", "encoding": "base64"}}"# + "\n"
        }
        text += #"{"key": "deletedFile", "value": {"path": "old.txt"}}"# + "\n"
        text += #"{"key": "lfsFile", "value": {"path": "w.bin", "algo": "sha256", "oid": "\#(String(repeating: "ab", count: 32))", "size": 5}}"#
        return Array(text.utf8)
    }

    static func receive(_ body: [UInt8], chunk: Int, in directory: TemporaryDirectory) throws -> [CommitOperation] {
        let sink = CommitBody(spoolDirectory: directory.path)
        var offset = 0
        while offset < body.count {
            let end = min(offset + chunk, body.count)
            try body[offset..<end].withUnsafeBytes { try sink.write($0) }
            offset = end
        }
        return try sink.finish()
    }

    @Test(arguments: [1, 7, 4096, 1 << 20])
    func contentsArriveWholeWhateverTheChunks(chunk: Int) throws {
        let directory = try TemporaryDirectory()
        let large = (0..<300_001).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 7) }
        let files = [("small.txt", Array("hello\n".utf8)), ("dir/large.bin", large), ("empty.txt", [UInt8]()),
                     ("two.bin", [UInt8(1), 2]), ("one.bin", [UInt8(9)])]
        for escape in [false, true] {
            let operations = try Self.receive(Self.lines(files, escapeSlashes: escape), chunk: chunk, in: directory)
            #expect(operations.count == files.count + 3)
            var received: [String: [UInt8]] = [:]
            for operation in operations {
                if case .file(let path, let spool, let sha256) = operation {
                    let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: spool.path)))
                    #expect(sha256 == SHA256.hex(of: bytes))
                    received[path] = bytes
                }
            }
            for (path, bytes) in files { #expect(received[path] == bytes, "\(path) chunk \(chunk) escaped \(escape)") }
            guard case .header(_, _, let parent)? = operations.first else { Issue.record("no header first"); continue }
            #expect(parent == "abc1234")
        }
    }

    @Test func badContentIsRefused() throws {
        let directory = try TemporaryDirectory()
        for bad in ["@@@@", "abc", "ab=c", "a===", "YQ==YQ=="] {
            let line = #"{"key": "file", "value": {"content": "\#(bad)", "path": "x", "encoding": "base64"}}"#
            #expect(throws: WarehouseError.self, "\(bad)") { try Self.receive(Array(line.utf8), chunk: 3, in: directory) }
        }
        let long = String(repeating: "A", count: 100_000) + "!"
        #expect(throws: WarehouseError.self) {
            try Self.receive(Array((#"{"key": "file", "value": {"content": "\#(long)", "path": "x"}}"#).utf8), chunk: 512, in: directory)
        }
        #expect(throws: WarehouseError.self) { try Self.receive(Array(#"{"key": "nonsense", "value": {}}"#.utf8), chunk: 5, in: directory) }
        #expect(throws: WarehouseError.self) { try Self.receive(Array(#"{"key": "file", "value": {"content": "QUFB"#.utf8), chunk: 5, in: directory) }
    }
}
