import Foundation

/// The shared CSV datasets: WAREHOUSE_DATASETS_DIR, else `../shared/datasets` beside the checkout.
public enum SharedDatasetFiles {
    public static let directory: String = {
        if let directory = ProcessInfo.processInfo.environment["WAREHOUSE_DATASETS_DIR"], !directory.isEmpty { return directory }
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<4 { url.deleteLastPathComponent() }
        return url.appendingPathComponent("shared/datasets").path
    }()

    public static func path(_ name: String) -> String { directory + "/" + name + ".csv" }
}
