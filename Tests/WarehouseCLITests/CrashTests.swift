import Foundation
import Synchronization
import Testing
import WarehouseCrypto
import WarehouseTesting
#if canImport(Glibc)
import Glibc
#endif

/// The real binary, killed with SIGKILL in the middle of work, then started again.
/// Used by one test thread at a time.
final class ServerProcess {
    let process = Process()
    let port: UInt16
    let client: TestClient

    init(dataDirectory: String, token: String = "crash-admin", environment: [String: String] = [:]) throws {
        process.executableURL = URL(fileURLWithPath: ServeCommandTests.binary)
        process.arguments = ["serve", "--port", "0", "--data-dir", dataDirectory]
        process.environment = ProcessInfo.processInfo.environment.merging(["WAREHOUSE_ADMIN_TOKEN": token]) { $1 }
            .merging(environment) { $1 }
        let err = Pipe()
        process.standardError = err
        try process.run()
        var log = ""
        var port: UInt16?
        let deadline = Date().addingTimeInterval(20)
        while port == nil, Date() < deadline {
            let chunk = err.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            log += String(decoding: chunk, as: UTF8.self)
            if let range = log.range(of: "http://127.0.0.1:") { port = UInt16(log[range.upperBound...].prefix { $0.isNumber }) }
        }
        guard let port else { throw TestClientError("server did not start: \(log)") }
        self.port = port
        client = TestClient(port: port, token: token)
        // Keep draining stderr so the server never blocks on a full pipe.
        DispatchQueue.global().async { while !err.fileHandleForReading.availableData.isEmpty {} }
    }

    func kill9() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    deinit {
        if process.isRunning { kill9() }
    }
}

@Suite(.serialized) struct CrashTests {
    static func bigFile(_ directory: TemporaryDirectory, mebibytes: Int) throws -> String {
        let path = directory.path + "/big-\(mebibytes).bin"
        FileManager.default.createFile(atPath: path, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        let block = Data((0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        for _ in 0..<mebibytes { try handle.write(contentsOf: block) }
        try handle.close()
        return path
    }

    func modelObjects(_ data: String) -> [String] {
        let root = data + "/objects/models"
        return (FileManager.default.enumerator(atPath: root)?.allObjects as? [String] ?? []).filter {
            var directory: ObjCBool = false
            return FileManager.default.fileExists(atPath: root + "/" + $0, isDirectory: &directory) && !directory.boolValue
        }
    }

    /// kill -9 during a 500 MiB upload: after restart nothing of it is visible or stored, the
    /// catalog is intact, and the same upload then succeeds.
    @Test func killedDuringALargeUpload() throws {
        let directory = try TemporaryDirectory()
        let data = directory.path + "/data"
        let file = try Self.bigFile(directory, mebibytes: 500)
        let server = try ServerProcess(dataDirectory: data)
        let done = DispatchSemaphore(value: 0)
        let client = server.client
        DispatchQueue.global().async {
            _ = try? client.upload("/ai-models/upload/single", fields: [("user_id", "u"), ("model_id", "big")],
                                          files: [("file", "big.bin", .file(file))])
            done.signal()
        }
        // Kill once the spool file is well under way.
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            let spooled = (try? FileManager.default.contentsOfDirectory(atPath: data + "/tmp")) ?? []
            let size = spooled.compactMap { try? FileManager.default.attributesOfItem(atPath: data + "/tmp/" + $0)[.size] as? Int }.max() ?? 0
            if size > 100 << 20 { break }
            usleep(20_000)
        }
        server.kill9()
        done.wait()

        let restarted = try ServerProcess(dataDirectory: data)
        #expect(try restarted.client.get("/ai-models/u/big").status == 404)
        #expect(modelObjects(data).isEmpty)
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: data + "/tmp")) ?? []).isEmpty)
        let again = try restarted.client.upload("/ai-models/upload/single", fields: [("user_id", "u"), ("model_id", "big")],
                                                files: [("file", "big.bin", .file(file))])
        #expect(again.status == 200)
        #expect(again.object["version"] as? String == "v1")
        restarted.kill9()
        let fsck = try MaintenanceCommandTests().run(["fsck", "--data-dir", data])
        #expect(fsck.status == 0, "\(fsck.output)")
    }

    /// kill -9 at varying moments of folder uploads, deletes and metadata updates: whatever
    /// the moment, after restart each version is whole or absent and fsck passes.
    @Test(arguments: [0, 2_000, 10_000, 40_000])
    func killedAtAnyMomentLeavesWholeVersions(delayMicroseconds: Int) throws {
        let directory = try TemporaryDirectory()
        let data = directory.path + "/data"
        let server = try ServerProcess(dataDirectory: data)
        let folder = directory.path + "/folder"
        try FileManager.default.createDirectory(atPath: folder + "/weights", withIntermediateDirectories: true)
        for index in 0..<40 {
            FileManager.default.createFile(atPath: folder + "/weights/part-\(index).bin", contents: Data(repeating: UInt8(index), count: 200_000))
        }
        let archive = directory.path + "/folder.zip"
        let zip = Process()
        zip.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        zip.arguments = ["zip", "-qr", "-0", archive, "."]
        zip.currentDirectoryURL = URL(fileURLWithPath: folder)
        try zip.run()
        zip.waitUntilExit()
        #expect(try server.client.upload("/ai-models/upload/single", fields: [("user_id", "u"), ("model_id", "keep")],
                                         files: [("file", "w.bin", .bytes([1, 2, 3]))]).status == 200)
        #expect(try server.client.upload("/ai-models/upload/single", fields: [("user_id", "u"), ("model_id", "doomed")],
                                         files: [("file", "w.bin", .bytes([4, 5, 6]))]).status == 200)

        let client = server.client
        let group = DispatchGroup()
        for work in 0..<3 {
            group.enter()
            DispatchQueue.global().async {
                defer { group.leave() }
                switch work {
                case 0: _ = try? client.upload("/ai-models/upload/folder", fields: [("user_id", "u"), ("model_id", "folder")],
                                               files: [("zip_file", "f.zip", .file(archive))])
                case 1: _ = try? client.delete("/ai-models/u/doomed")
                default: _ = try? client.put("/ai-models/u/keep", json: #"{"description": "updated"}"#)
                }
            }
        }
        usleep(UInt32(delayMicroseconds))
        server.kill9()
        group.wait()

        let restarted = try ServerProcess(dataDirectory: data)
        let folderRecord = try restarted.client.get("/ai-models/u/folder")
        if folderRecord.status == 200 {
            #expect((folderRecord.object["files"] as? [Any])?.count == 40)
        } else {
            #expect(folderRecord.status == 404)
            #expect(!modelObjects(data).contains { $0.hasPrefix("u/folder/") })
        }
        let doomed = try restarted.client.get("/ai-models/u/doomed")
        #expect(doomed.status == 200 || doomed.status == 404)
        if doomed.status == 404 { #expect(!modelObjects(data).contains { $0.hasPrefix("u/doomed/") }) }
        let keep = try restarted.client.get("/ai-models/u/keep")
        #expect(keep.status == 200)
        // The same operations succeed now.
        #expect(try restarted.client.put("/ai-models/u/keep", json: #"{"description": "again"}"#).status == 200)
        let folderAgain = try restarted.client.upload("/ai-models/upload/folder", fields: [("user_id", "u"), ("model_id", "folder2")],
                                                      files: [("zip_file", "f.zip", .file(archive))])
        #expect(folderAgain.status == 200)
        restarted.kill9()
        let fsck = try MaintenanceCommandTests().run(["fsck", "--data-dir", data])
        #expect(fsck.status == 0, "\(fsck.output)")
        #expect(fsck.output.contains("catalog ok"))
    }

    /// kill -9 while an upload session's third part is arriving: after restart the session is
    /// open with the two parts that arrived, the cut part is missing (nothing half of it
    /// counts), sending it again completes a byte-exact version, and fsck passes.
    @Test func killedDuringAnUploadSessionResumesAfterRestart() throws {
        let directory = try TemporaryDirectory()
        let data = directory.path + "/data"
        let partSize = 5 << 20
        let weights = (0..<(3 * partSize)).map { UInt8(truncatingIfNeeded: ($0 >> 9) &* 2_654_435_761 &+ $0) }
        let server = try ServerProcess(dataDirectory: data)
        let created = try server.client.request("POST", "/ai-models/upload/sessions", headers: [("Content-Type", "application/json")],
                                                body: Array(#"{"user_id": "u", "model_id": "resumed", "part_size": \#(partSize), "files": [{"path": "model.bin", "size": \#(weights.count)}]}"#.utf8))
        let session = try #require(created.object["session_id"] as? String, "\(created.text)")
        func put(_ client: TestClient, _ number: Int) throws -> Int {
            let part = Array(weights[((number - 1) * partSize)..<(number * partSize)])
            return try client.request("PUT", "/ai-models/upload/sessions/\(session)/parts/\(number)?file=model.bin",
                                      headers: [("X-Part-SHA256", SHA256.hex(of: part))], body: part).status
        }
        #expect(try put(server.client, 1) == 200)
        #expect(try put(server.client, 2) == 200)

        // Part 3 trickles in (curl at 1 MB/s) and the server dies under it.
        let partFile = directory.path + "/part3.bin"
        let third = Array(weights[(2 * partSize)...])
        FileManager.default.createFile(atPath: partFile, contents: Data(third))
        let sender = Process()
        sender.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        sender.arguments = ["-s", "-o", "/dev/null", "--limit-rate", "1M", "-T", partFile,
                            "-H", "Authorization: Bearer crash-admin", "-H", "X-Part-SHA256: \(SHA256.hex(of: third))",
                            "http://127.0.0.1:\(server.port)/ai-models/upload/sessions/\(session)/parts/3?file=model.bin"]
        sender.standardError = FileHandle.nullDevice
        try sender.run()
        usleep(1_500_000)
        server.kill9()
        sender.waitUntilExit()

        let restarted = try ServerProcess(dataDirectory: data)
        let status = try restarted.client.get("/ai-models/upload/sessions/\(session)")
        #expect(status.object["state"] as? String == "open", "\(status.text)")
        let file = (status.object["files"] as? [[String: Any]])?.first
        #expect(file?["received_parts"] as? [Int] == [1, 2], "\(status.text)")
        #expect(file?["missing_parts"] as? [Int] == [3], "\(status.text)")
        #expect(try restarted.client.get("/ai-models/u/resumed").status == 404)
        #expect(try put(restarted.client, 3) == 200)
        let completed = try restarted.client.request("POST", "/ai-models/upload/sessions/\(session)/complete")
        #expect(completed.status == 200, "\(completed.text)")
        #expect((completed.object["files"] as? [[String: Any]])?.first?["file_hash"] as? String == SHA256.hex(of: weights))
        #expect(try restarted.client.get("/ai-models/u/resumed/download?filename=model.bin").body == weights)
        restarted.kill9()
        let fsck = try MaintenanceCommandTests().run(["fsck", "--data-dir", data])
        #expect(fsck.status == 0, "\(fsck.output)")
    }
}
