import Foundation
@testable import WarehouseAutoML

/// The shared CSV datasets (../shared/datasets from the repository root).
enum SharedDatasets {
    /// WAREHOUSE_DATASETS_DIR, else `../shared/datasets` beside the checkout.
    static let directory: String = {
        if let directory = ProcessInfo.processInfo.environment["WAREHOUSE_DATASETS_DIR"], !directory.isEmpty { return directory }
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.deletingLastPathComponent().appendingPathComponent("shared/datasets").path
    }()

    static func path(_ name: String) -> String { directory + "/" + name + ".csv" }

    static func train(_ name: String, seconds: Double = 20, seed: UInt64 = 0,
                      only: [String]? = nil) throws -> (AutoMLResult, DatasetProfile, TrainingTable) {
        let profile = try DatasetProfile.profile(path: path(name))
        let table = try TrainingTable.load(path: path(name), profile: profile)
        var settings = AutoMLSettings()
        settings.timeLimit = seconds
        settings.seed = seed
        settings.onlyCandidates = only
        let result = try AutoML(table: table, problem: profile.problemType, settings: settings,
                                budget: TrainingBudget(seconds: seconds)).run()
        return (result, profile, table)
    }
}

/// A scratch file removed when the value goes away.
final class ScratchFile {
    let path: String
    init(_ bytes: [UInt8], suffix: String = ".csv") {
        path = NSTemporaryDirectory() + "/automl-\(UUID().uuidString)\(suffix)"
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
    }
    convenience init(_ text: String) { self.init(Array(text.utf8)) }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}
