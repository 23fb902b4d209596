import Foundation
import Testing
import WarehouseTesting

/// A trained version's `model.onnx`, downloaded through the API and run in Python
/// onnxruntime, against `/predict` on the same rows: dataset rows, then rows with a missing
/// value and rows with an unseen value in each column.
enum ONNXParity {
    static func check(_ client: TestClient, user: String, model: String, dataset: String, limit: Int = 2000) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("onnx-parity-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }

        let download = try client.get("/ai-models/\(user)/\(model)/download?filename=model.onnx")
        try #require(download.status == 200, "model.onnx download: \(download.status) \(download.text.prefix(200))")
        let modelPath = directory + "/model.onnx"
        try Data(download.body).write(to: URL(fileURLWithPath: modelPath))

        let rowsPath = directory + "/rows.csv"
        try ONNXParityScript.writeRows(dataset: dataset, to: rowsPath, limit: limit)
        let prediction = try client.request("POST", "/ai-models/\(user)/\(model)/predict", headers: [("Content-Type", "text/csv")],
                                             body: Array(try Data(contentsOf: URL(fileURLWithPath: rowsPath))))
        try #require(prediction.status == 200, "predict: \(prediction.text.prefix(300))")
        let predictPath = directory + "/predict.json"
        try Data(prediction.body).write(to: URL(fileURLWithPath: predictPath))

        let compared = try ONNXParityScript.compare(model: modelPath, rows: rowsPath, predictions: predictPath)
        print("onnx parity \(model): \(compared.output.split(separator: "\n").last ?? "")")
        #expect(compared.agrees, "\(model): ONNX and /predict differ: \(compared.output.suffix(2000))")
    }
}
