import Foundation
import Testing
import WarehouseCrypto
import WarehouseTesting

@Suite struct DownloadTests {
    let payload: [UInt8] = Array("0123456789abcdefghij".utf8)

    func warehouseWithFile() throws -> TestWarehouse {
        let warehouse = try TestWarehouse()
        let response = try warehouse.uploadSingle([("user_id", "u"), ("model_id", "m")], filename: "w.bin", content: .bytes(payload))
        #expect(response.status == 200)
        return warehouse
    }

    @Test func downloadSendsBytesHashAndHeaders() throws {
        let warehouse = try warehouseWithFile()
        let response = try warehouse.client.get("/ai-models/u/m/download?filename=w.bin&version=v1")
        #expect(response.status == 200)
        #expect(response.body == payload)
        #expect(response.headers["etag"] == "\"\(SHA256.hex(of: payload))\"")
        #expect(response.headers["accept-ranges"] == "bytes")
        #expect(response.headers["content-disposition"]?.contains("filename=\"w.bin\"") == true)
        // Without filename: the whole version, as a ZIP (FolderTests checks its contents).
        #expect(try warehouse.client.get("/ai-models/u/m/download").headers["content-type"] == "application/zip")
        #expect(try warehouse.client.get("/ai-models/u/m/download?filename=nope.bin").status == 404)
        #expect(try warehouse.client.get("/ai-models/u/m/download?version=v2").status == 404)
    }

    @Test func rangesAndConditionalRequests() throws {
        let warehouse = try warehouseWithFile()
        let path = "/ai-models/u/m/download?filename=w.bin"
        let partial = try warehouse.client.get(path, headers: [("Range", "bytes=2-5")])
        #expect(partial.status == 206)
        #expect(partial.body == Array(payload[2...5]))
        #expect(partial.headers["content-range"] == "bytes 2-5/20")
        #expect(try warehouse.client.get(path, headers: [("Range", "bytes=15-")]).body == Array(payload[15...]))
        #expect(try warehouse.client.get(path, headers: [("Range", "bytes=-3")]).body == Array(payload[17...]))
        #expect(try warehouse.client.get(path, headers: [("Range", "bytes=10-100")]).body == Array(payload[10...]))
        let unsatisfiable = try warehouse.client.get(path, headers: [("Range", "bytes=20-30")])
        #expect(unsatisfiable.status == 416)
        #expect(unsatisfiable.headers["content-range"] == "bytes */20")
        // Multiple ranges: the whole file is a valid answer.
        #expect(try warehouse.client.get(path, headers: [("Range", "bytes=0-1,4-5")]).status == 200)

        let etag = "\"\(SHA256.hex(of: payload))\""
        let notModified = try warehouse.client.get(path, headers: [("If-None-Match", etag)])
        #expect(notModified.status == 304)
        #expect(notModified.body.isEmpty)
        #expect(try warehouse.client.get(path, headers: [("If-None-Match", "\"other\"")]).status == 200)
        // If-Range with a stale tag: the full body.
        #expect(try warehouse.client.get(path, headers: [("Range", "bytes=0-1"), ("If-Range", "\"stale\"")]).status == 200)
        #expect(try warehouse.client.get(path, headers: [("Range", "bytes=0-1"), ("If-Range", etag)]).status == 206)
        let head = try warehouse.client.request("HEAD", path)
        #expect(head.status == 200)
        #expect(head.headers["content-length"] == "20")
    }

    @Test func redirectSendsS3ClientsToAPresignedURL() throws {
        let warehouse = try warehouseWithFile()
        let response = try warehouse.client.get("/ai-models/u/m/download?filename=w.bin&redirect=true")
        if TestWarehouse.s3Backend == nil {
            // The local store has no presigned URLs: the bytes come from the service itself.
            #expect(response.status == 200)
            #expect(response.body == payload)
        } else {
            #expect(response.status == 307)
            let location = try #require(response.headers["location"])
            #expect(location.contains("X-Amz-Signature="))
            let components = try #require(URLComponents(string: location))
            let direct = try TestClient(port: UInt16(components.port ?? 80))
                .get(components.percentEncodedPath + "?" + (components.percentEncodedQuery ?? ""))
            #expect(direct.status == 200)
            #expect(direct.body == payload)
        }
        #expect(try warehouse.client.get("/ai-models/u/m/download?filename=w.bin&redirect=perhaps").status == 400)
    }

    @Test func filesAreFoundByPathOrUniqueBaseName() throws {
        let warehouse = try warehouseWithFile()
        _ = try warehouse.uploadSingle([("user_id", "u"), ("model_id", "m"), ("version", "v1")], filename: "b.bin")
        #expect(try warehouse.client.get("/ai-models/u/m/download?filename=b.bin").status == 200)
        #expect(try warehouse.client.get("/ai-models/u/m/download?filename=w.bin").body == payload)
    }

    @Test(arguments: [0, 1, 100 << 20])
    func roundTripIsByteExact(size: Int) throws {
        let warehouse = try TestWarehouse()
        let path = warehouse.directory.path + "/input.bin"
        let expected = try Self.writeRandomFile(path: path, size: size)
        let upload = try warehouse.uploadSingle([("user_id", "u"), ("model_id", "big")], filename: "blob.bin", content: .file(path))
        #expect(upload.status == 200, "\(upload.text)")
        let file = (upload.object["files"] as? [[String: Any]])?.first
        #expect(file?["file_hash"] as? String == expected)
        #expect(file?["file_size"] as? Int == size)

        let hasher = SHA256()
        let result = try warehouse.client.download("/ai-models/u/big/download?filename=blob.bin") { hasher.update($0) }
        #expect(result.status == 200)
        #expect(result.size == UInt64(size))
        #expect(Hex.encode(hasher.finalize()) == expected)
    }

    /// Writes `size` pseudo-random bytes and returns their SHA-256.
    static func writeRandomFile(path: String, size: Int) throws -> String {
        FileManager.default.createFile(atPath: path, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        let hasher = SHA256()
        var remaining = size
        var block = SecureRandom.bytes(1 << 20)
        var round: UInt8 = 0
        while remaining > 0 {
            block[0] = round
            round &+= 1
            let chunk = Array(block.prefix(remaining))
            hasher.update(chunk)
            try handle.write(contentsOf: chunk)
            remaining -= chunk.count
        }
        return Hex.encode(hasher.finalize())
    }
}
