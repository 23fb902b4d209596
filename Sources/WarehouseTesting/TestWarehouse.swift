import Foundation
import WarehouseAPI
import WarehouseCore

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
public final class TestWarehouse: Sendable {
    public let directory: TemporaryDirectory
    public let application: WarehouseApplication
    public let client: TestClient

    public var dataDirectory: String { application.dataDirectory }

    /// Starts a warehouse; `dataDirectory` reuses an existing one (restart tests).
    public init(directory: TemporaryDirectory? = nil, configure: (inout WarehouseConfiguration) -> Void = { _ in }) throws {
        let directory = try directory ?? TemporaryDirectory()
        var configuration = WarehouseConfiguration()
        configuration.host = "127.0.0.1"
        configuration.port = 0
        configuration.dataDirectory = directory.path + "/data"
        configure(&configuration)
        self.directory = directory
        application = try WarehouseApplication(configuration: configuration,
                                               logger: Logger(label: "test", minimumLevel: .warning))
        try application.start()
        client = TestClient(port: application.port)
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

    /// Every regular file under the data directory's objects folder, as keys.
    public func storedObjectKeys() -> [String] {
        let root = dataDirectory + "/objects"
        guard let enumerator = FileManager.default.enumerator(atPath: root) else { return [] }
        var keys: [String] = []
        while let relative = enumerator.nextObject() as? String {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: root + "/" + relative, isDirectory: &isDirectory), !isDirectory.boolValue {
                keys.append(relative)
            }
        }
        return keys.sorted()
    }

    /// Files left in the spool directory.
    public func spoolFiles() -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: dataDirectory + "/tmp")) ?? []
    }
}
