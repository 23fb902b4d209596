import Foundation
import Testing
@testable import WarehouseAutoML

@Suite struct AutoMLTests {
    @Test(arguments: ["iris", "titanic", "penguins"])
    func trainsSmallDatasets(name: String) throws {
        let start = Date()
        let (result, profile, _) = try SharedDatasets.train(name)
        print("\(name): \(profile.problemType) best \(result.report.bestModel) test \(result.report.testMetrics) in \(Date().timeIntervalSince(start)) s")
        for entry in result.report.leaderboard {
            print("   \(entry.model) \(entry.validationScore) fit \(entry.fitTimeSeconds) \(entry.details)")
        }
    }
}
