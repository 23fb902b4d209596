import Foundation

/// How one feature column enters the models.
public struct FeatureSpec: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable { case numeric, categorical }
    public let name: String
    public let kind: Kind
    /// The profiled type of the column (integer, float, boolean, datetime, categorical).
    public let source: ColumnType
    /// Categorical columns: the known categories, most frequent first. Others mean "missing".
    public let categories: [String]?

    /// Categories beyond this many (the rarest) are treated as missing, so a code fits a bin.
    public static let maxCategories = 254

    /// The numeric value the learners see: a number, a category code, or NaN for missing.
    @inline(__always) public func encode(_ raw: String?, lookup: [String: Int]?) -> Double {
        guard let raw, !MissingValues.isMissing(raw) else { return .nan }
        let value = raw.trimmingCharacters(in: .whitespaces)
        switch kind {
        case .categorical:
            guard let code = lookup?[value] else { return .nan }
            return Double(code)
        case .numeric:
            switch source {
            case .boolean:
                switch value.lowercased() {
                case "true", "yes", "t", "y", "1": return 1
                case "false", "no", "f", "n", "0": return 0
                default: return .nan
                }
            case .datetime: return DateParsing.days(value) ?? .nan
            default: return NumberParsing.double(value) ?? .nan
            }
        }
    }

    public func categoryLookup() -> [String: Int]? {
        categories.map { Dictionary(uniqueKeysWithValues: $0.enumerated().map { ($1, $0) }) }
    }
}

/// The target: class labels for classification, values for regression.
public struct TargetSpec: Codable, Sendable, Equatable {
    public let name: String
    public let task: TaskType
    /// Class labels in model order (numeric labels sorted as numbers).
    public let classes: [String]?
    /// Whether the labels are integers (exported as int64 labels).
    public let integerLabels: Bool
}

/// The rows used for learning, column-major: `columns[f][row]` is the encoded value of
/// feature f (NaN for missing); `target[row]` is a class index or a value.
public struct TrainingTable: Sendable {
    public var features: [FeatureSpec]
    public var columns: [[Double]]
    public var target: [Double]
    public var targetSpec: TargetSpec
    public var rowCount: Int { target.count }
    /// Rows skipped because their target was missing.
    public var skippedRows = 0

    public var classCount: Int { targetSpec.classes?.count ?? 0 }

    /// Reads the CSV again with the types the profile found.
    public static func load(path: String, profile: DatasetProfile) throws -> TrainingTable {
        let table = try CSVTable(path: path)
        let featureIndices = profile.features.map { table.header.firstIndex(of: $0)! }
        guard let targetIndex = table.header.firstIndex(of: profile.targetColumn) else {
            throw ProfileError.unknownTarget(profile.targetColumn, table.header)
        }
        // Categories come from the profile's counts when exact; otherwise from this pass.
        var raw: [[String?]] = featureIndices.map { _ in [] }
        var targets: [String] = []
        var skipped = 0
        try table.forEachRow { row in
            let label = row[targetIndex]
            if MissingValues.isMissing(label) { skipped += 1; return }
            targets.append(label.trimmingCharacters(in: .whitespaces))
            for (slot, index) in featureIndices.enumerated() {
                let value = row[index]
                raw[slot].append(MissingValues.isMissing(value) ? nil : value)
            }
        }
        var specs: [FeatureSpec] = []
        var columns: [[Double]] = []
        for (slot, name) in profile.features.enumerated() {
            let type = profile.column(name)?.dtype ?? .categorical
            let spec: FeatureSpec
            if type == .categorical {
                var counts: [String: Int] = [:]
                for value in raw[slot] { if let value { counts[value.trimmingCharacters(in: .whitespaces), default: 0] += 1 } }
                let categories = counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
                    .prefix(FeatureSpec.maxCategories).map(\.key)
                spec = FeatureSpec(name: name, kind: .categorical, source: type, categories: categories)
            } else {
                spec = FeatureSpec(name: name, kind: .numeric, source: type, categories: nil)
            }
            let lookup = spec.categoryLookup()
            columns.append(raw[slot].map { spec.encode($0, lookup: lookup) })
            raw[slot] = []
            specs.append(spec)
        }
        let targetSpec: TargetSpec
        var target: [Double]
        if profile.taskType == .classification {
            let distinct = Array(Set(targets))
            let numeric = distinct.allSatisfy { NumberParsing.double($0) != nil }
            let classes = numeric ? distinct.sorted { NumberParsing.double($0)! < NumberParsing.double($1)! } : distinct.sorted()
            let integers = numeric && distinct.allSatisfy { Int($0) != nil }
            let index = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, Double($0)) })
            target = targets.map { index[$0]! }
            targetSpec = TargetSpec(name: profile.targetColumn, task: .classification, classes: classes, integerLabels: integers)
        } else {
            target = []
            target.reserveCapacity(targets.count)
            for (offset, value) in targets.enumerated() {
                guard let number = NumberParsing.double(value) else {
                    throw ProfileError.invalid("target '\(profile.targetColumn)' value \(value.debugDescription) in data row \(offset + 1) is not a number")
                }
                target.append(number)
            }
            targetSpec = TargetSpec(name: profile.targetColumn, task: .regression, classes: nil, integerLabels: false)
        }
        if targetSpec.task == .classification && (targetSpec.classes?.count ?? 0) < 2 {
            throw ProfileError.invalid("target '\(profile.targetColumn)' has fewer than 2 classes")
        }
        return TrainingTable(features: specs, columns: columns, target: target, targetSpec: targetSpec, skippedRows: skipped)
    }

    /// The rows at `indices`, in that order.
    public func subset(_ indices: [Int]) -> TrainingTable {
        var copy = self
        copy.columns = columns.map { column in indices.map { column[$0] } }
        copy.target = indices.map { target[$0] }
        return copy
    }
}
