import Foundation
import Synchronization
import Testing
import WarehouseCrypto
import WarehouseTesting

/// Fifty clients mixing uploads, downloads, searches and deletes for a bounded time
/// (WAREHOUSE_SOAK_SECONDS, default 60): no 5xx, and every file still stored is byte-exact.
/// Runs in the default pass only.
@Suite(.enabled(if: TestWarehouse.s3Backend == nil)) struct SoakTests {
    final class Ledger: Sendable {
        let statuses = Mutex<[Int: Int]>([:])
        let failures = Mutex<[String]>([])
        /// model id → SHA-256 of the bytes of its latest upload still expected to exist.
        let expected = Mutex<[String: String]>([:])

        func count(_ status: Int) { statuses.withLock { $0[status, default: 0] += 1 } }
        func fail(_ text: String) { failures.withLock { if $0.count < 20 { $0.append(text) } } }
    }

    @Test func fiftyClientsMixedWork() throws {
        let warehouse = try TestWarehouse()
        let seconds = Double(ProcessInfo.processInfo.environment["WAREHOUSE_SOAK_SECONDS"] ?? "") ?? 60
        let deadline = Date().addingTimeInterval(seconds)
        let ledger = Ledger()
        let client = warehouse.client
        DispatchQueue.concurrentPerform(iterations: 50) { worker in
            var generator = SystemRandomNumberGenerator()
            var round = 0
            while Date() < deadline, round < 10_000 {
                round += 1
                let model = "m\(worker)-\(round % 4)"
                do {
                    switch Int.random(in: 0..<10, using: &generator) {
                    case 0...3:
                        let bytes = (0..<Int.random(in: 1...65_536, using: &generator)).map { _ in UInt8.random(in: 0...255) }
                        let response = try client.upload("/ai-models/upload/single",
                                                         fields: [("user_id", "soak"), ("model_id", model), ("tags", "soak,w\(worker)")],
                                                         files: [("file", "w.bin", .bytes(bytes))])
                        ledger.count(response.status)
                        if response.status == 200 { ledger.expected.withLock { $0[model] = SHA256.hex(of: bytes) } }
                    case 4...6:
                        let response = try client.get("/ai-models/soak/\(model)/download?filename=w.bin")
                        ledger.count(response.status)
                        if response.status == 200, let expected = ledger.expected.withLock({ $0[model] }),
                           response.headers["x-model-version"] != nil,
                           SHA256.hex(of: response.body) != response.headers["etag"]?.trimmingCharacters(in: CharacterSet(charactersIn: "\"")) {
                            ledger.fail("download of \(model) does not match its ETag (expected latest \(expected))")
                        }
                    case 7, 8:
                        let response = try client.get("/ai-models/search/soak?query=w\(worker)&limit=10")
                        ledger.count(response.status)
                    default:
                        let response = try client.delete("/ai-models/soak/\(model)")
                        ledger.count(response.status)
                        if response.status == 200 { ledger.expected.withLock { $0[model] = nil } }
                    }
                } catch {
                    ledger.fail("\(model): \(error)")
                }
            }
        }
        let statuses = ledger.statuses.withLock { $0 }
        #expect(statuses.keys.allSatisfy { $0 < 500 }, "\(statuses)")
        #expect(ledger.failures.withLock { $0 }.isEmpty, "\(ledger.failures.withLock { $0 })")
        #expect(statuses.values.reduce(0, +) > 500)
        // Every model still there serves the bytes of its last successful upload.
        for (model, hash) in ledger.expected.withLock({ $0 }) {
            let response = try client.get("/ai-models/soak/\(model)/download?filename=w.bin")
            #expect(response.status == 200, "\(model)")
            #expect(SHA256.hex(of: response.body) == hash, "\(model)")
        }
        let (mismatches, _) = try warehouse.application.service.fsck()
        #expect(mismatches.isEmpty, "\(mismatches)")
        print("soak: \(statuses.values.reduce(0, +)) requests in \(Int(seconds)) s, statuses \(statuses.sorted { $0.key < $1.key })")
    }
}
