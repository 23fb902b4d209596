import Foundation

/// Tests/python/onnx_parity.py, run with the test peers' Python (scripts/install-deps --test
/// installs onnxruntime and onnx there), else python3 on the PATH: it writes the rows to
/// compare and compares an exported model.onnx, run in onnxruntime, with our predictions.
public enum ONNXParityScript {
    public static func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let result = try TestProcess.run(TestProcess.peer("python3"), [TestProcess.repositoryPath("Tests/python/onnx_parity.py")] + arguments)
        return (result.status, result.output)
    }

    /// Writes the first `limit` rows of `dataset`, then rows with one value missing and rows
    /// with one value never seen in training, to `output`.
    public static func writeRows(dataset: String, to output: String, limit: Int = 2000) throws {
        let result = try run(["rows", dataset, output, "--limit", String(limit)])
        guard result.status == 0 else { throw TestClientError("onnx_parity.py rows: \(result.output)") }
    }

    /// Compares; returns whether they agree, the report (one JSON object) and the whole output.
    public static func compare(model: String, rows: String, predictions: String) throws
        -> (agrees: Bool, report: [String: Any], output: String) {
        let result = try run(["compare", model, rows, predictions])
        let line = result.output.split(separator: "\n").last.map(String.init) ?? ""
        let report = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] ?? [:]
        return (result.status == 0, report, result.output)
    }
}
