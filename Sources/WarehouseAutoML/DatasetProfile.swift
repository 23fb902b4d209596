import Foundation

/// What a column holds, inferred from all of its values.
public enum ColumnType: String, Codable, Sendable {
    case integer, float, boolean, categorical, text, datetime, identifier
}

/// Classification or regression; for classification, binary or multiclass.
public enum TaskType: String, Codable, Sendable {
    case classification, regression
}

public enum ProblemType: String, Codable, Sendable {
    case binary, multiclass, regression
}

public struct ValueCount: Codable, Sendable, Equatable {
    public let value: String
    public let count: Int
}

public struct ColumnProfile: Codable, Sendable {
    public let name: String
    public let dtype: ColumnType
    public let nullCount: Int
    public let uniqueCount: Int
    /// False when `uniqueCount` is an estimate (more distinct values than the exact bound).
    public let uniqueExact: Bool
    public let min: Double?
    public let max: Double?
    public let mean: Double?
    public let std: Double?
    public let topValues: [ValueCount]?
    /// "feature", "target" or "dropped".
    public let role: String
    public let dropReason: String?

    enum CodingKeys: String, CodingKey {
        case name, dtype, min, max, mean, std, role
        case nullCount = "null_count", uniqueCount = "unique_count", uniqueExact = "unique_exact"
        case topValues = "top_values", dropReason = "drop_reason"
    }
}

/// The profile of a dataset, computed in one streaming pass over its CSV.
public struct DatasetProfile: Codable, Sendable {
    public static let sampleRowCount = 20
    public static let exactDistinctBound = 10_000

    public let rows: Int
    public let columns: [ColumnProfile]
    public let targetColumn: String
    public let taskType: TaskType
    public let problemType: ProblemType
    public let classCount: Int?
    public let features: [String]
    public let droppedColumns: [String]
    public let sampleData: [[String: String?]]
    public let delimiter: String
    /// Why a training job on this profile would refuse to start (no usable features, a
    /// target with one class…); nil when it can train.
    public let trainingRefusal: String?

    enum CodingKeys: String, CodingKey {
        case rows, columns, features, delimiter
        case targetColumn = "target_column", taskType = "task_type", problemType = "problem_type"
        case classCount = "class_count", droppedColumns = "dropped_columns", sampleData = "sample_data"
        case trainingRefusal = "training_refusal"
    }

    public func column(_ name: String) -> ColumnProfile? { columns.first { $0.name == name } }

    /// Names that usually hold the target, in order of preference.
    static let targetNames = ["target", "label", "labels", "class", "y", "outcome", "price", "survived", "species",
                              "churn", "status", "default", "result", "response", "diagnosis", "quality", "income"]

    /// Reads the CSV once. `targetColumn` and `taskType` override detection.
    public static func profile(path: String, targetColumn: String? = nil, taskType: TaskType? = nil) throws -> DatasetProfile {
        let table = try CSVTable(path: path)
        var accumulators = table.header.map { _ in ColumnAccumulator() }
        var samples: [[String: String?]] = []
        var rows = 0
        try table.forEachRow { row in
            for index in row.indices { accumulators[index].add(row[index]) }
            if samples.count < sampleRowCount {
                var sample: [String: String?] = [:]
                for (name, value) in zip(table.header, row) { sample[name] = MissingValues.isMissing(value) ? .some(nil) : value }
                samples.append(sample)
            }
            rows += 1
        }
        guard rows > 0 else { throw CSVError(line: 2, message: "the file has a header but no rows") }
        guard table.header.count >= 2 else {
            throw CSVError(line: 1, message: "found one column; a dataset needs at least one feature and a target (is the delimiter one of , ; tab |?)")
        }
        let target: String
        if let targetColumn {
            guard table.header.contains(targetColumn) else {
                throw ProfileError.unknownTarget(targetColumn, table.header)
            }
            target = targetColumn
        } else {
            // The last column wins when it is named like a target (titanic has both "class"
            // and, last, "survived"); then the first column named like one; then the last.
            let lowered = table.header.map { $0.lowercased() }
            let last = table.header[table.header.count - 1]
            if targetNames.contains(last.lowercased()) {
                target = last
            } else {
                target = targetNames.lazy.compactMap { name in lowered.firstIndex(of: name).map { table.header[$0] } }.first ?? last
            }
        }
        let targetIndex = table.header.firstIndex(of: target)!
        let targetAccumulator = accumulators[targetIndex]
        let targetType = targetAccumulator.inferType(rows: rows, name: target, isTarget: true)
        let task: TaskType
        if let taskType {
            task = taskType
        } else if targetType == .integer || targetType == .float {
            task = targetAccumulator.distinctCount < 20 ? .classification : .regression
        } else {
            task = .classification
        }
        if task == .regression && !(targetType == .integer || targetType == .float) {
            throw ProfileError.invalid("target column '\(target)' is \(targetType.rawValue), not numeric; regression needs numbers")
        }
        let classes = task == .classification ? targetAccumulator.distinctCount : nil
        // What would stop training is noted, never a reason to refuse the dataset itself.
        var refusals: [String] = []
        if targetAccumulator.nonNull < 2 {
            refusals.append("target column '\(target)' has fewer than 2 values")
        } else if let classes, classes < 2 {
            refusals.append("target column '\(target)' has \(classes) distinct value; classification needs at least 2")
        }

        var columns: [ColumnProfile] = []
        var features: [String] = []
        var dropped: [String] = []
        for (index, name) in table.header.enumerated() {
            let accumulator = accumulators[index]
            let type = index == targetIndex ? targetType : accumulator.inferType(rows: rows, name: name, isTarget: false)
            var role = "feature"
            var reason: String?
            if index == targetIndex {
                role = "target"
            } else if type == .identifier {
                reason = "identifier: a different value in every row"
            } else if accumulator.distinctCount <= 1 {
                reason = accumulator.nonNull == 0 ? "empty: every value is missing" : "constant: one value in every row"
            } else if type == .text {
                reason = "free text: not used by the tabular learners"
            }
            if reason != nil { role = "dropped"; dropped.append(name) } else if role == "feature" { features.append(name) }
            columns.append(accumulator.profile(name: name, type: type, role: role, dropReason: reason))
        }
        if features.isEmpty {
            let reasons = columns.filter { $0.role == "dropped" }.map { "\($0.name): \($0.dropReason ?? "dropped")" }
            refusals.append("no usable feature columns (dropped: \(reasons.joined(separator: "; ")))")
        }
        let problem: ProblemType = task == .regression ? .regression : (classes == 2 ? .binary : .multiclass)
        return DatasetProfile(rows: rows, columns: columns, targetColumn: target, taskType: task, problemType: problem,
                              classCount: classes, features: features, droppedColumns: dropped, sampleData: samples,
                              delimiter: String(UnicodeScalar(table.reader.dialect.delimiter)),
                              trainingRefusal: refusals.isEmpty ? nil : refusals.joined(separator: "; "))
    }
}

public enum ProfileError: Error, CustomStringConvertible, Sendable {
    case unknownTarget(String, [String])
    case invalid(String)

    public var description: String {
        switch self {
        case .unknownTarget(let name, let header):
            return "target column '\(name)' is not in the header (columns: \(header.prefix(30).joined(separator: ", ")))"
        case .invalid(let message): return message
        }
    }
}
