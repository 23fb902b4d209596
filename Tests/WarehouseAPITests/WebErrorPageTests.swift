import Foundation
import Testing
@testable import WarehouseAPI
import WarehouseCore
import WarehouseHTTPServer
import WarehouseTesting

/// Pages map errors through the API's one table: a 409 is a 409 page with its detail, a 503
/// says storage, and an internal error shows nothing of itself (no SQL, no paths).
@Suite struct WebErrorPageTests {
    func page(for error: any Error, in warehouse: TestWarehouse) -> HTTPResponse {
        let head = HTTPRequestHead(method: "GET", path: "/ui/models/u/m",
                                   headers: HTTPHeaders([("Cookie", "\(WebRoutes.cookie)=\(TestWarehouse.adminToken)")]),
                                   queryItems: [])
        let request = HTTPRequest(head: head, pathParameters: [:], body: .none)
        return WebRoutes.signedIn(request, access: warehouse.application.access, logger: Logger(label: "test", minimumLevel: .error)) { _ in
            throw error
        }
    }

    func text(_ response: HTTPResponse) -> String {
        guard case .bytes(let bytes) = response.body else { return "" }
        return String(decoding: bytes, as: UTF8.self)
    }

    @Test func pagesUseTheOneErrorTable() throws {
        let warehouse = try TestWarehouse()
        let cases: [(error: any Error, status: Int, shows: String)] = [
            (WarehouseError.alreadyExists("version v1 of model 'm' already exists"), 409, "version v1 of model &#39;m&#39; already exists"),
            (WarehouseError.conflict("the aliases kept moving"), 409, "the aliases kept moving"),
            (WarehouseError.tooLarge("zip_file: more than 10000 entries"), 413, "zip_file: more than 10000 entries"),
            (WarehouseError.storageUnavailable("bucket unreachable"), 503, "storage unavailable: bucket unreachable"),
            (WarehouseError.invalid("<script>alert(1)</script>"), 400, "&lt;script&gt;alert(1)&lt;/script&gt;"),
        ]
        for item in cases {
            let response = page(for: item.error, in: warehouse)
            #expect(response.status == item.status, "\(item.error)")
            #expect(text(response).contains("<h1>\(item.status) "), "\(item.error)")
            #expect(text(response).contains(item.shows), "\(text(response))")
        }
        // An error with internals (SQL, a file path) is a bare 500 page.
        struct Internal: Error, CustomStringConvertible {
            var description: String { "SQLITE_CORRUPT in SELECT secret FROM tokens at /var/lib/warehouse/catalog.sqlite3" }
        }
        let hidden = page(for: Internal(), in: warehouse)
        #expect(hidden.status == 500)
        #expect(text(hidden).contains("internal server error"))
        #expect(!text(hidden).contains("SELECT") && !text(hidden).contains("catalog.sqlite3"))
    }
}
