import Foundation
import Testing
import WarehouseTesting
#if canImport(Glibc)
import Glibc
#endif

/// SIGTERM: no new connections, requests in flight get `shutdown_grace_seconds`, then what is
/// left is cancelled and rolled back, and the process exits; a second signal exits at once.
@Suite(.serialized) struct ShutdownTests {
    static func s3Environment(_ server: S3TestServer, bucket: String) -> [String: String] {
        ["WAREHOUSE_STORAGE": "s3", "WAREHOUSE_S3_ENDPOINT": server.endpoint, "WAREHOUSE_S3_BUCKET": bucket,
         "WAREHOUSE_S3_ACCESS_KEY": server.accessKey, "WAREHOUSE_S3_SECRET_KEY": server.secretKey,
         "WAREHOUSE_S3_PART_SIZE": String(5 << 20)]
    }

    /// Objects the S3 server holds for the bucket under `prefix` (rclone keeps them as files).
    /// A PUT in flight when the server is killed leaves rclone's own `.rclone_temp_put_…` file,
    /// which no S3 listing shows: not an object.
    static func bucketFiles(_ server: S3TestServer, bucket: String, prefix: String) -> [String] {
        let root = server.directory.path + "/data/" + bucket
        return ((FileManager.default.enumerator(atPath: root)?.allObjects as? [String]) ?? []).filter { path in
            var directory: ObjCBool = false
            return path.hasPrefix(prefix) && FileManager.default.fileExists(atPath: root + "/" + path, isDirectory: &directory)
                && !directory.boolValue && !(path.split(separator: "/").last ?? "").hasPrefix(".rclone_temp_")
        }
    }

    @Test func sigtermDuringAFolderUploadToAStoppedBucketExitsWithinTheGrace() throws {
        let directory = try TemporaryDirectory()
        let s3 = try S3TestServer(.rclone)
        defer { s3.stop() }
        let bucket = S3TestServer.uniqueBucket()
        let grace = 2.0
        let environment = Self.s3Environment(s3, bucket: bucket).merging(["WAREHOUSE_SHUTDOWN_GRACE_SECONDS": String(grace)]) { $1 }
        let zip = directory.path + "/many.zip"
        try ZipFixtures.manyFiles(at: zip, count: 20_000, entryBytes: 1024)
        let server = try ServerProcess(dataDirectory: directory.path + "/data", environment: environment)
        let client = server.client
        DispatchQueue.global().async {
            _ = try? client.upload("/ai-models/upload/folder", fields: [("user_id", "u"), ("model_id", "many")],
                                   files: [("zip_file", "many.zip", .file(zip))])
        }
        // Extraction is under way once entries reach the bucket.
        let started = Date()
        while Self.bucketFiles(s3, bucket: bucket, prefix: "models/u/many/").count < 50, Date().timeIntervalSince(started) < 60 {
            usleep(20_000)
        }
        #expect(Self.bucketFiles(s3, bucket: bucket, prefix: "models/u/many/").count >= 50)
        s3.stop()
        let signalled = Date()
        kill(server.process.processIdentifier, SIGTERM)
        server.process.waitUntilExit()
        let took = Date().timeIntervalSince(signalled)
        #expect(took <= grace + 5, "exited \(took) s after SIGTERM")
        #expect(server.process.terminationStatus == 0)

        // Back with the bucket: nothing of the upload is visible or stored.
        try s3.start()
        let again = try ServerProcess(dataDirectory: directory.path + "/data", environment: environment)
        #expect(try again.client.get("/ai-models/u/many").status == 404)
        #expect(Self.bucketFiles(s3, bucket: bucket, prefix: "models/").isEmpty,
                "left: \(Self.bucketFiles(s3, bucket: bucket, prefix: "models/").prefix(5))")
        #expect(Self.bucketFiles(s3, bucket: bucket, prefix: "manifests/").isEmpty)
        again.kill9()
    }

    @Test func aSecondSignalExitsAtOnce() throws {
        let directory = try TemporaryDirectory()
        let server = try ServerProcess(dataDirectory: directory.path + "/data",
                                       environment: ["WAREHOUSE_SHUTDOWN_GRACE_SECONDS": "60"])
        // An upload that never finishes its body keeps a request in flight for the whole grace.
        let held = try server.client.hold(sending: "POST /ai-models/upload/single HTTP/1.1\r\nHost: x\r\n"
            + server.client.authorizationLine + "Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 100000000\r\n\r\n--b\r\n")
        usleep(200_000)
        kill(server.process.processIdentifier, SIGTERM)
        usleep(500_000)
        #expect(server.process.isRunning, "the first SIGTERM waits for the request in flight")
        // New connections are refused meanwhile.
        #expect((try? server.client.get("/health")) == nil)
        let signalled = Date()
        kill(server.process.processIdentifier, SIGINT)
        server.process.waitUntilExit()
        #expect(Date().timeIntervalSince(signalled) < 3)
        #expect(server.process.terminationStatus == 128 + SIGINT)
        _ = held
    }
}
