import Foundation
import Testing
import WarehouseTesting

/// Runs Tests/python/browser.py (headless Chromium, signed in with `token`) over the pages,
/// screenshots into docs/screenshots/; answers what each page showed, by name.
enum Browser {
    static let screenshots = TestProcess.repositoryPath("docs/screenshots")

    static func visit(port: UInt16, token: String, pages: [(String, String)], environment: [String: String] = [:]) throws -> [String: [String: Any]] {
        let browser = try TestProcess.run(TestProcess.peer("python3"),
                                          [TestProcess.repositoryPath("Tests/python/browser.py"), "http://127.0.0.1:\(port)", token, screenshots]
                                              + pages.map { "\($0.0)=\($0.1)" },
                                          environment: environment)
        try #require(browser.status == 0, "browser.py: \(browser.stderr)")
        var seen: [String: [String: Any]] = [:]
        for line in browser.stdout.split(separator: "\n") {
            if let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], let name = object["name"] as? String {
                seen[name] = object
            }
        }
        for (name, _) in pages where seen[name] == nil { Issue.record("\(name) was not loaded: \(browser.stderr)") }
        return seen
    }
}
