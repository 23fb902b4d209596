import Foundation
import Testing
import WarehouseCore
import WarehouseCrypto
import WarehouseCurl
import WarehouseS3
import WarehouseStorage
import WarehouseTesting

/// One behaviour, three stores: the local folder, `rclone serve s3` (which verifies SigV4) and
/// `moto_server` (which implements more of the API). Each test names the store it exercised.
enum Backend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case filesystem, rclone, moto

    var testDescription: String { rawValue }

    /// A fresh, empty store (a new folder, or a new bucket on the shared server).
    func makeStore(partSize: UInt64 = 5 << 20,
                   maxSingleCopyBytes: UInt64 = 5 << 30) throws -> (store: any ObjectStore, keepAlive: TemporaryDirectory) {
        let directory = try TemporaryDirectory(prefix: "store-\(rawValue)")
        switch self {
        case .filesystem:
            return (try FileSystemStore(root: directory.path + "/objects", temporaryDirectory: directory.path + "/tmp"), directory)
        case .rclone, .moto:
            let server = try S3TestServer.shared(self == .rclone ? .rclone : .moto)
            var configuration = S3Configuration(endpoint: server.endpoint, bucket: S3TestServer.uniqueBucket(),
                                                accessKey: server.accessKey, secretKey: server.secretKey)
            configuration.partSize = partSize
            configuration.maxSingleCopyBytes = maxSingleCopyBytes
            return (try S3Store(configuration: configuration), directory)
        }
    }
}

@Suite struct ObjectStoreConformanceTests {
    static func writeFile(_ directory: TemporaryDirectory, size: Int) throws -> (path: String, sha256: String, bytes: [UInt8]) {
        let bytes = (0..<size).map { UInt8(truncatingIfNeeded: ($0 &* 2654435761) >> 13) }
        let path = directory.path + "/upload-\(UUID().uuidString)"
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
        return (path, SHA256.hex(of: bytes), bytes)
    }

    static func readAll(_ reader: any ObjectReader) throws -> [UInt8] {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = try buffer.withUnsafeMutableBytes { try reader.read(into: $0) }
            if count == 0 { break }
            out += buffer[0..<count]
        }
        reader.close()
        return out
    }

    @Test(arguments: Backend.allCases)
    func putGetHeadDeleteWithAwkwardKeys(_ backend: Backend) throws {
        let (store, directory) = try backend.makeStore()
        let keys = ["models/u/m/v1/plain.bin", "models/u/m/v1/a b+c%d#e=f~g*h(i)!$&'.bin", "models/u/m/v1/dé/ü/日本.bin",
                    "models/u/m/v1/" + (1...12).map { "d\($0)" }.joined(separator: "/") + "/deep.bin"]
        for (index, key) in keys.enumerated() {
            let file = try Self.writeFile(directory, size: 1000 + index)
            try store.putFile(key: key, path: file.path, size: UInt64(file.bytes.count), sha256: file.sha256)
            let head = try store.head(key: key)
            #expect(head?.key == key && head?.size == UInt64(file.bytes.count), "\(backend): \(key)")
            #expect(head?.etag?.isEmpty == false, "\(backend): \(key) has an entity tag")
            #expect(try Self.readAll(store.open(key: key, range: nil)) == file.bytes, "\(backend): \(key)")
        }
        try store.putData(key: "manifests/models/u/m/v1.json", data: Array("{\"ok\": true}".utf8))
        #expect(try store.getData(key: "manifests/models/u/m/v1.json") == Array("{\"ok\": true}".utf8))
        #expect(try store.list(prefix: "models/u/m/").map(\.key) == keys.sorted())
        #expect(try store.list(prefix: "manifests/").count == 1)

        try store.delete(key: keys[1])
        #expect(try store.head(key: keys[1]) == nil)
        try store.delete(key: keys[1]) // deleting a missing key is fine
        try store.delete(keys: [keys[0], keys[2], keys[3]])
        #expect(try store.list(prefix: "models/").isEmpty)
        #expect(throws: WarehouseError.self) { try store.getData(key: "models/none") }
        #expect(throws: WarehouseError.self) { try store.open(key: "models/none", range: nil) }
        try store.checkHealth()
    }

    @Test(arguments: Backend.allCases)
    func rangedReads(_ backend: Backend) throws {
        let (store, directory) = try backend.makeStore()
        let file = try Self.writeFile(directory, size: 100_000)
        try store.putFile(key: "k", path: file.path, size: 100_000, sha256: file.sha256)
        #expect(try Self.readAll(store.open(key: "k", range: 10..<20)) == Array(file.bytes[10..<20]), "\(backend)")
        #expect(try Self.readAll(store.open(key: "k", range: 99_990..<100_000)) == Array(file.bytes[99_990...]))
    }

    /// Over the part size the S3 store uploads in parts, several at once.
    @Test(arguments: Backend.allCases)
    func multipartUploads(_ backend: Backend) throws {
        let (store, directory) = try backend.makeStore(partSize: 5 << 20)
        let file = try Self.writeFile(directory, size: (12 << 20) + 12_345)
        try store.putFile(key: "models/u/big/v1/weights.bin", path: file.path, size: UInt64(file.bytes.count), sha256: file.sha256)
        let read = try Self.readAll(store.open(key: "models/u/big/v1/weights.bin", range: nil))
        #expect(read.count == file.bytes.count, "\(backend)")
        #expect(SHA256.hex(of: read) == file.sha256, "\(backend)")
    }

    /// An upload fed while its file grows (S3 stores send complete parts at once), then
    /// finished; and one that is aborted leaves nothing.
    @Test(arguments: [Backend.rclone, .moto])
    func streamingUploads(_ backend: Backend) throws {
        let (store, directory) = try backend.makeStore(partSize: 5 << 20)
        #expect(store.streamsUploads)
        for size in [(12 << 20) + 777, 5 << 20, 1000] {
            let file = try Self.writeFile(directory, size: size)
            let growing = directory.path + "/growing-\(size)"
            FileManager.default.createFile(atPath: growing, contents: nil)
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: growing))
            let upload = try #require(store.beginStreamingUpload(key: "stream/\(size).bin"))
            var written = 0
            while written < size {
                let end = min(written + 300_000, size)
                let chunk = Data(file.bytes[written..<end])
                try handle.write(contentsOf: chunk)
                written = end
                chunk.withUnsafeBytes { upload.available($0, path: growing, size: UInt64(written)) }
            }
            try handle.close()
            try upload.finish(path: growing, size: UInt64(size), sha256: file.sha256)
            let read = try Self.readAll(store.open(key: "stream/\(size).bin", range: nil))
            #expect(SHA256.hex(of: read) == file.sha256, "\(backend) \(size)")
        }
        let file = try Self.writeFile(directory, size: 11 << 20)
        let upload = try #require(store.beginStreamingUpload(key: "stream/aborted.bin"))
        file.bytes.withUnsafeBytes { upload.available($0, path: file.path, size: UInt64(file.bytes.count)) }
        upload.abort()
        #expect(try store.head(key: "stream/aborted.bin") == nil, "\(backend)")
    }

    /// ListObjectsV2 continuation tokens and DeleteObjects batches (more than 1,000 keys).
    @Test(arguments: [Backend.rclone, .moto])
    func listingAndDeletingPastOneThousand(_ backend: Backend) throws {
        let (store, _) = try backend.makeStore()
        let keys = (0..<1_050).map { String(format: "many/k%05d", $0) }
        DispatchQueue.concurrentPerform(iterations: 10) { worker in
            for index in stride(from: worker, to: keys.count, by: 10) {
                try? store.putData(key: keys[index], data: [UInt8(index % 256)])
            }
        }
        #expect(try store.list(prefix: "many/").map(\.key) == keys, "\(backend)")
        try store.delete(keys: keys)
        #expect(try store.list(prefix: "many/").isEmpty, "\(backend)")
    }

    /// A version carries its parent's files by a copy inside the store: the copy has the same
    /// bytes, outlives the source, and stays itself when the source is replaced. Above the
    /// single-copy limit (lowered here to 5 MiB) S3 copies in UploadPartCopy ranges.
    @Test(arguments: Backend.allCases)
    func copyInsideTheStore(_ backend: Backend) throws {
        let (store, directory) = try backend.makeStore(maxSingleCopyBytes: 5 << 20)
        for size in [0, 1000, (12 << 20) + 5] {
            let file = try Self.writeFile(directory, size: size)
            let source = "models/u/m/v1/dir/w \(size).bin"
            let copy = "models/u/m/v2/dir/w \(size).bin"
            try store.putFile(key: source, path: file.path, size: UInt64(size), sha256: file.sha256)
            try store.copy(from: source, to: copy, size: UInt64(size))
            #expect(try store.head(key: copy)?.size == UInt64(size), "\(backend) \(size)")
            #expect(try SHA256.hex(of: Self.readAll(store.open(key: copy, range: nil))) == file.sha256, "\(backend) \(size)")
            // Replacing or deleting the source leaves the copy as it was.
            try store.putData(key: source, data: Array("replaced".utf8))
            #expect(try SHA256.hex(of: Self.readAll(store.open(key: copy, range: nil))) == file.sha256, "\(backend) \(size)")
            try store.delete(key: source)
            #expect(try store.head(key: copy)?.size == UInt64(size), "\(backend) \(size)")
        }
        #expect(throws: WarehouseError.self) { try store.copy(from: "models/u/m/v1/absent", to: "models/u/m/v2/absent", size: 1) }
        #expect(try store.head(key: "models/u/m/v2/absent") == nil)
        #expect(try store.pendingPartedUploads().isEmpty, "\(backend)")
    }

    @Test(arguments: [Backend.rclone, .moto])
    func copyAndPresignedGet(_ backend: Backend) throws {
        let (store, _) = try backend.makeStore()
        let s3 = try #require(store as? S3Store)
        try store.putData(key: "src/a b.json", data: Array("copied".utf8))
        try s3.client.copyObject(from: "src/a b.json", to: "dst/a b.json")
        #expect(try store.getData(key: "dst/a b.json") == Array("copied".utf8), "\(backend)")
        // A presigned URL fetched with no credentials at all.
        let url = try #require(s3.presignedURL(key: "dst/a b.json", expires: 300))
        let response = try CurlEasy().perform(CurlRequest(method: "GET", url: url))
        #expect(response.status == 200, "\(backend): \(String(decoding: response.body, as: UTF8.self))")
        #expect(response.body == Array("copied".utf8))
    }

    /// rclone checks signatures: a wrong secret is refused with 403, surfaced as storage unavailable.
    @Test func wrongSecretIsRefusedByRclone() throws {
        let server = try S3TestServer.shared(.rclone)
        let configuration = S3Configuration(endpoint: server.endpoint, bucket: S3TestServer.uniqueBucket(),
                                            accessKey: server.accessKey, secretKey: "not-the-secret")
        let client = try S3Client(configuration: configuration)
        #expect {
            try client.putObject(key: "x", data: [1])
        } throws: { error in
            (error as? S3Error)?.status == 403
        }
        #expect(throws: WarehouseError.self) { try S3Store(configuration: configuration).checkHealth() }
    }

    /// Nothing listens: a clear storage error, quickly, not a hang.
    @Test func unreachableEndpointFailsFast() throws {
        var configuration = S3Configuration(endpoint: "http://127.0.0.1:9", bucket: "b", accessKey: "a", secretKey: "s")
        configuration.maxAttempts = 2
        let started = Date()
        let store = try S3Store(configuration: configuration, createBucket: false)
        #expect {
            try store.checkHealth()
        } throws: { error in
            guard case WarehouseError.storageUnavailable(let detail) = error else { return false }
            return detail.contains("unreachable")
        }
        #expect(Date().timeIntervalSince(started) < 10)
    }
}
