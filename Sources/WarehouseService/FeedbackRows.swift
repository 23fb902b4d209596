import Foundation
import WarehouseAutoML
import WarehouseCore

/// Feedback as training rows: a copy of the dataset file with, for every prediction that got
/// an actual outcome, its inputs and that outcome appended as one more row.
enum FeedbackRows {
    /// Answers the path of the new file in `directory` (the caller removes it).
    static func append(_ examples: [(inputs: String, actual: String)], to source: String, target: String,
                       directory: String) throws -> String {
        let reader = try CSVReader(path: source)
        guard let header = try reader.next() else { throw WarehouseError.invalid("the dataset file is empty") }
        let delimiter = reader.dialect.delimiter
        let path = directory + "/retrain-\(UUID().uuidString).csv"
        try FileManager.default.copyItem(atPath: source, toPath: path)
        guard let handle = FileHandle(forUpdatingAtPath: path) else { throw WarehouseError.storageUnavailable("cannot open \(path)") }
        defer { try? handle.close() }
        let end = try handle.seekToEnd()
        var text = ""
        if end > 0 {
            try handle.seek(toOffset: end - 1)
            if handle.readData(ofLength: 1) != Data([UInt8(ascii: "\n")]) { text += "\n" }
        }
        for example in examples {
            let inputs = try JSONDecoder().decode([String: String?].self, from: Data(example.inputs.utf8))
            let fields = header.map { column in column == target ? example.actual : (inputs[column] ?? nil) ?? "" }
            text += fields.map { quoted($0, delimiter: delimiter) }.joined(separator: String(UnicodeScalar(delimiter))) + "\n"
        }
        try handle.write(contentsOf: Data(text.utf8))
        return path
    }

    /// RFC 4180: a field with the delimiter, a quote or a line break is quoted, quotes doubled.
    static func quoted(_ field: String, delimiter: UInt8) -> String {
        guard field.utf8.contains(where: { $0 == delimiter || $0 == UInt8(ascii: "\"") || $0 == 10 || $0 == 13 }) else { return field }
        return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
