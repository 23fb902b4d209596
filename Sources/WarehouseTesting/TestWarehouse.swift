import Foundation
import WarehouseAPI
import WarehouseServer
import WarehouseCore
import WarehouseStorage

/// A fresh temporary directory, removed on deinit.
public final class TemporaryDirectory: Sendable {
    public let path: String

    public init(prefix: String = "warehouse-test") throws {
        let template = FileManager.default.temporaryDirectory.path + "/\(prefix)-XXXXXX"
        var bytes = Array(template.utf8CString)
        guard let created = mkdtemp(&bytes) else { throw TestClientError("mkdtemp failed") }
        path = String(cString: created)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// A running warehouse on 127.0.0.1 with an ephemeral port and its own data directory.
///
/// Storage is the local folder, or, when WAREHOUSE_TEST_STORAGE is `rclone` or `moto`, a
/// fresh bucket on a shared S3 test server: `scripts/test` runs the API tests once per backend.
public final class TestWarehouse: Sendable {
    public let directory: TemporaryDirectory
    public let application: WarehouseApplication
    public let client: TestClient

    public var dataDirectory: String { application.dataDirectory }
    public var store: any ObjectStore { application.service.store }

    /// The S3 server chosen by WAREHOUSE_TEST_STORAGE, if any.
    public static var s3Backend: S3TestServer.Kind? {
        ProcessInfo.processInfo.environment["WAREHOUSE_TEST_STORAGE"].flatMap(S3TestServer.Kind.init(rawValue:))
    }

    /// Points a configuration at a new bucket of a shared S3 test server.
    public static func useS3(_ kind: S3TestServer.Kind, in configuration: inout WarehouseConfiguration,
                             bucket: String = S3TestServer.uniqueBucket()) throws {
        useS3(try S3TestServer.shared(kind), in: &configuration, bucket: bucket)
    }

    /// Points a configuration at a new bucket of `server`.
    public static func useS3(_ server: S3TestServer, in configuration: inout WarehouseConfiguration,
                             bucket: String = S3TestServer.uniqueBucket()) {
        configuration.storage = .s3
        configuration.s3Endpoint = server.endpoint
        configuration.s3Bucket = bucket
        configuration.s3AccessKey = server.accessKey
        configuration.s3SecretKey = server.secretKey
        configuration.s3PartSize = 5 << 20
    }

    /// The admin token test warehouses use (their `client` sends it).
    public static let adminToken = "test-admin-token"

    /// Starts a warehouse; `dataDirectory` reuses an existing one (restart tests).
    /// `faults` makes chosen store calls fail (see `StoreFaults`).
    public init(directory: TemporaryDirectory? = nil, faults: StoreFaults? = nil,
                configure: (inout WarehouseConfiguration) -> Void = { _ in }) throws {
        let directory = try directory ?? TemporaryDirectory()
        var configuration = WarehouseConfiguration()
        configuration.host = "127.0.0.1"
        configuration.port = 0
        configuration.dataDirectory = directory.path + "/data"
        if let kind = Self.s3Backend {
            // A restarted warehouse keeps its bucket, remembered beside its data.
            let bucketFile = directory.path + "/bucket"
            let bucket = (try? String(contentsOfFile: bucketFile, encoding: .utf8)) ?? S3TestServer.uniqueBucket()
            try bucket.write(toFile: bucketFile, atomically: true, encoding: .utf8)
            try Self.useS3(kind, in: &configuration, bucket: bucket)
        }
        configuration.adminToken = Self.adminToken
        configure(&configuration)
        self.directory = directory
        application = try WarehouseApplication(configuration: configuration,
                                               logger: Logger(label: "test", minimumLevel: .warning), storeInterceptor: faults)
        try application.start()
        client = TestClient(port: application.port, token: configuration.adminToken)
    }

    public func stop() {
        application.stop()
    }

    deinit {
        application.stop()
    }

    /// Uploads one file with the given fields (user_id and model_id included by the caller).
    public func uploadSingle(_ fields: [(String, String)], filename: String = "model.pkl",
                             content: TestFilePart = .bytes(Array("weights".utf8))) throws -> TestResponse {
        try client.upload("/ai-models/upload/single", fields: fields, files: [("file", filename, content)])
    }

    /// Every stored object's key, from the store itself (folder or bucket).
    public func storedObjectKeys() -> [String] {
        ((try? store.list(prefix: "")) ?? []).map(\.key).sorted()
    }

    /// A stored object's bytes as text ("" when missing).
    public func storedText(_ key: String) -> String {
        String(decoding: (try? store.getData(key: key)) ?? [], as: UTF8.self)
    }

    /// Files left in the spool directory.
    public func spoolFiles() -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: dataDirectory + "/tmp")) ?? []
    }
}
