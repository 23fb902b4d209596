import Foundation
import Testing
import WarehouseTesting

@Suite struct AuthTests {
    @Test func tokensAreRequiredExceptForHealth() throws {
        let warehouse = try TestWarehouse()
        let anonymous = warehouse.client.with(token: nil)
        #expect(try anonymous.get("/health").status == 200)
        let missing = try anonymous.get("/ai-models/u")
        #expect(missing.status == 401)
        #expect(missing.headers["www-authenticate"] == "Bearer")
        #expect(missing.detail?.contains("Authorization") == true)
        #expect(try warehouse.client.with(token: "wrong").get("/ai-models/u").status == 401)
        #expect(try anonymous.request("GET", "/ai-models/u", headers: [("Authorization", "Basic dTpw")]).status == 401)
        let upload = try anonymous.upload("/ai-models/upload/single", fields: [("user_id", "u"), ("model_id", "m")],
                                          files: [("file", "m.bin", .bytes([1, 2, 3]))])
        #expect(upload.status == 401)
        #expect(warehouse.storedObjectKeys().isEmpty)
        #expect(warehouse.spoolFiles().isEmpty)
    }

    @Test func userTokensActOnlyInTheirNamespace() throws {
        let warehouse = try TestWarehouse()
        let created = try warehouse.client.request("POST", "/auth/tokens", headers: [("Content-Type", "application/json")],
                                                   body: Array(#"{"user_id": "alice"}"#.utf8))
        #expect(created.status == 201, "\(created.text)")
        let secret = try #require(created.object["token"] as? String)
        let id = try #require(created.object["id"] as? String)
        #expect(secret.count >= 64)
        let alice = warehouse.client.with(token: secret)

        let own = try alice.upload("/ai-models/upload/single", fields: [("user_id", "alice"), ("model_id", "m")],
                                   files: [("file", "m.bin", .bytes([1]))])
        #expect(own.status == 200, "\(own.text)")
        #expect(try alice.get("/ai-models/alice/m").status == 200)
        #expect(try alice.get("/ai-models/search/alice?query=m").status == 200)

        _ = try warehouse.uploadSingle([("user_id", "bob"), ("model_id", "secret-model")])
        for path in ["/ai-models/bob", "/ai-models/bob/secret-model", "/ai-models/search/bob?query=secret",
                     "/ai-models/bob/secret-model/download?filename=model.pkl", "/ai-models/bob/secret-model/files"] {
            let response = try alice.get(path)
            #expect(response.status == 403, "\(path): \(response.status)")
        }
        #expect(try alice.delete("/ai-models/bob/secret-model").status == 403)
        #expect(try alice.put("/ai-models/bob/secret-model", json: #"{"name": "mine"}"#).status == 403)
        let intrusion = try alice.upload("/ai-models/upload/single", fields: [("user_id", "bob"), ("model_id", "secret-model")],
                                         files: [("file", "evil.bin", .bytes([6, 6, 6]))])
        #expect(intrusion.status == 403)
        let folder = try alice.upload("/ai-models/upload/folder", fields: [("user_id", "bob"), ("model_id", "x")],
                                      files: [("zip_file", "x.zip", .bytes([0x50, 0x4b, 5, 6]))])
        #expect(folder.status == 403)
        #expect(try warehouse.client.get("/ai-models/bob/secret-model/files").object["files"].map { ($0 as? [Any])?.count } == 1)
        // Only the admin manages tokens.
        #expect(try alice.get("/auth/tokens").status == 403)

        // Listing never shows secrets; revoking locks the token out.
        let listed = try warehouse.client.get("/auth/tokens?user_id=alice")
        #expect(listed.array.count == 1)
        #expect(listed.array.first?["token"] == nil)
        #expect(listed.array.first?["id"] as? String == id)
        #expect(try warehouse.client.delete("/auth/tokens/\(id)").status == 200)
        #expect(try alice.get("/ai-models/alice/m").status == 401)
        #expect(try warehouse.client.delete("/auth/tokens/\(id)").status == 404)
    }

    @Test func firstStartGeneratesAPrivateAdminToken() throws {
        let warehouse = try TestWarehouse { $0.adminToken = nil }
        let path = warehouse.dataDirectory + "/admin-token"
        let token = try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let permissions = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(permissions == 0o600)
        #expect(try warehouse.client.with(token: token).get("/ai-models/u").status == 200)
        #expect(try warehouse.client.get("/ai-models/u").status == 401) // the test token is not the admin here
    }
}
