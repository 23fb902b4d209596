import Foundation
import Synchronization
import Testing
import WarehouseCrypto
import WarehouseTesting

/// The S3 server dies in the middle of an upload and comes back. Runs once, in the default
/// pass, against its own rclone server.
@Suite(.enabled(if: TestWarehouse.s3Backend == nil)) struct S3FaultTests {
    @Test func s3StoppedMidUploadFailsCleanlyAndRecovers() throws {
        let server = try S3TestServer(.rclone)
        let warehouse = try TestWarehouse { TestWarehouse.useS3(server, in: &$0) }
        let path = warehouse.directory.path + "/weights.bin"
        let size = 200 << 20
        let block = Data(SecureRandom.bytes(1 << 20))
        var contents = Data(capacity: size)
        for _ in 0..<(size >> 20) { contents.append(block) }
        FileManager.default.createFile(atPath: path, contents: contents)

        let status = Mutex(0)
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            let response = try? warehouse.uploadSingle([("user_id", "u"), ("model_id", "m")], filename: "weights.bin",
                                                       content: .file(path))
            status.withLock { $0 = response?.status ?? -1 }
            if let detail = response?.detail { print("upload during the outage answered: \(detail)") }
            done.signal()
        }
        usleep(150_000)
        server.stop()
        done.wait()
        #expect(status.withLock { $0 } == 503)

        // Health says which check failed.
        let health = try warehouse.client.get("/health")
        #expect(health.status == 503)
        #expect((health.object["checks"] as? [String: String])?["storage"]?.contains("unreachable") == true)
        #expect(try warehouse.client.get("/ai-models/u/m").status == 404)

        try server.start()
        #expect(warehouse.storedObjectKeys().isEmpty, "left behind: \(warehouse.storedObjectKeys())")
        #expect(warehouse.spoolFiles().isEmpty)
        let retry = try warehouse.uploadSingle([("user_id", "u"), ("model_id", "m")], filename: "weights.bin", content: .file(path))
        #expect(retry.status == 200, "\(retry.text)")
        #expect(retry.object["version"] as? String == "v1")
        #expect(warehouse.storedObjectKeys() == ["manifests/models/u/m/v1.json", "models/u/m/v1/weights.bin"])
        let hasher = SHA256()
        let download = try warehouse.client.download("/ai-models/u/m/download?filename=weights.bin") { hasher.update($0) }
        #expect(download.size == UInt64(size))
        #expect(Hex.encode(hasher.finalize()) == (retry.object["files"] as? [[String: Any]])?.first?["file_hash"] as? String)
    }

    /// rclone streams multipart parts into the object in order and holds a later part's
    /// request until the earlier ones arrived: with one part in flight, parts must start in
    /// their order (a later part that took the only slot first stalled the upload until the
    /// stall timeout failed it).
    @Test func streamedPartsStartInOrderWithOnePartInFlight() throws {
        let server = try S3TestServer(.rclone)
        let warehouse = try TestWarehouse {
            TestWarehouse.useS3(server, in: &$0)
            $0.s3ConcurrentParts = 1
        }
        let path = warehouse.directory.path + "/weights.bin"
        let block = Data(SecureRandom.bytes(1 << 20))
        var contents = Data(capacity: 96 << 20)
        for _ in 0..<96 { contents.append(block) }
        FileManager.default.createFile(atPath: path, contents: contents)
        let upload = try warehouse.uploadSingle([("user_id", "u"), ("model_id", "m")], filename: "weights.bin", content: .file(path))
        #expect(upload.status == 200, "\(upload.text)")
        let hasher = SHA256()
        let download = try warehouse.client.download("/ai-models/u/m/download?filename=weights.bin") { hasher.update($0) }
        #expect(download.size == UInt64(contents.count))
        #expect(Hex.encode(hasher.finalize()) == SHA256.hex(of: contents))
    }
}
