import Foundation

/// Tests/python/onnx_parity.py, run with the test peers' Python (scripts/install-deps --test
/// installs onnxruntime and onnx there), else python3 on the PATH: it writes the rows to
/// compare and compares an exported model.onnx, run in onnxruntime, with our predictions.
public enum ONNXParityScript {
    static let repository: URL = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url
    }()

    static let script = repository.appendingPathComponent("Tests/python/onnx_parity.py").path

    static let python: [String] = {
        let peers = repository.appendingPathComponent(".build/test-peers/bin/python3").path
        return FileManager.default.isExecutableFile(atPath: peers) ? [peers] : ["/usr/bin/env", "python3"]
    }()

    public static func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python[0])
        process.arguments = Array(python.dropFirst()) + [script] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
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
