import Foundation
import Testing
import WarehouseHub
import WarehouseMLflow
import WarehouseTesting

/// `GET /openapi.json` is a valid OpenAPI 3.1 document (openapi-spec-validator, from the test
/// peers) and lists exactly the routes the server registers.
@Suite struct OpenAPITests {
    @Test func documentIsValidAndMatchesTheRouter() throws {
        let warehouse = try TestWarehouse()
        let response = try warehouse.client.get("/openapi.json")
        #expect(response.status == 200)
        let document = try #require(response.json as? [String: Any])
        #expect(document["openapi"] as? String == "3.1.0")

        // Every route the server registers is documented, and nothing else is.
        let paths = try #require(document["paths"] as? [String: [String: Any]])
        let documented = Set(paths.flatMap { path, operations in operations.keys.map { "\($0.uppercased()) \(path)" } })
        let registered = Set(warehouse.application.router.registeredRoutes.map { "\($0.method) \($0.pattern)" })
            .union(HubRoutes.operations.map { "\($0.method) \($0.pattern)" })
            .union(MLflowRoutes.operations.map { "\($0.method) \($0.pattern)" })
        #expect(documented.subtracting(registered).isEmpty, "documented but not served: \(documented.subtracting(registered).sorted())")
        #expect(registered.subtracting(documented).isEmpty, "served but not documented: \(registered.subtracting(documented).sorted())")
        // Each operation names its errors with the shared Error schema.
        for (path, operations) in paths {
            for (method, operation) in operations {
                let responses = (operation as? [String: Any])?["responses"] as? [String: Any] ?? [:]
                #expect(responses.keys.contains { $0.hasPrefix("4") || $0.hasPrefix("5") }, "\(method) \(path) lists no error")
            }
        }

        let file = FileManager.default.temporaryDirectory.appendingPathComponent("openapi-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: file) }
        try Data(response.body).write(to: file)
        let validated = try TestProcess.run(TestProcess.peer("openapi-spec-validator"), [file.path])
        #expect(validated.status == 0, "openapi-spec-validator: \(validated.output)")
    }
}
