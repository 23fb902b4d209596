import Foundation
import Testing
import WarehouseCore
import WarehouseTesting

/// A client that goes away stops its upload's work: a folder's extraction stops before the
/// next entry and the version is rolled back.
@Suite struct DisconnectTests {
    @Test func aFolderUploadWhoseClientLeftStopsExtracting() throws {
        let directory = try TemporaryDirectory()
        let count = 3000
        let zip = directory.path + "/many.zip"
        try ZipFixtures.manyFiles(at: zip, count: count, entryBytes: 512)
        let faults = StoreFaults()
        let warehouse = try TestWarehouse(faults: faults)
        let archive = Array(try Data(contentsOf: URL(fileURLWithPath: zip)))
        let boundary = "leaving"
        var body = Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"user_id\"\r\n\r\nu\r\n".utf8)
        body += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"model_id\"\r\n\r\nleft\r\n".utf8)
        body += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"zip_file\"; filename=\"many.zip\"\r\n\r\n".utf8)
        body += archive + Array("\r\n--\(boundary)--\r\n".utf8)
        let head = "POST /ai-models/upload/folder HTTP/1.1\r\nHost: x\r\n" + warehouse.client.authorizationLine
            + "Content-Type: multipart/form-data; boundary=\(boundary)\r\nContent-Length: \(body.count)\r\n\r\n"
        // The whole request, then the socket closes before any answer.
        try warehouse.client.abort(after: Array(head.utf8) + body)

        // The request ends (its rollback done) long before 3000 entries could be stored.
        let deadline = Date().addingTimeInterval(30)
        let route = "/ai-models/upload/folder"
        while warehouse.application.metrics.requestsEnded(route: route) == 0, Date() < deadline { usleep(20_000) }
        #expect(warehouse.application.metrics.requestsEnded(route: route) == 1)
        #expect(faults.calls(.put) < count / 2, "\(faults.calls(.put)) objects were stored for a client that had left")
        #expect(try warehouse.client.get("/ai-models/u/left").status == 404)
        #expect(warehouse.storedObjectKeys().isEmpty, "\(warehouse.storedObjectKeys().prefix(5))")
    }
}
