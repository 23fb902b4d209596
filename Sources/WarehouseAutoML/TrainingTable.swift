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
    /// Numbers are rounded to 32-bit floats, the type of the exported ONNX model's numeric
    /// inputs, so `/predict` and the ONNX graph compare exactly the same values with the
    /// trees' thresholds.
    @inline(__always) public func encode(_ raw: String?, lookup: [String: Int]?) -> Double {
        guard let raw, !MissingValues.isMissing(raw) else { return .nan }
        let value = Text.trim(raw)
        switch kind {
        case .categorical:
            guard let code = lookup?[value] else { return .nan }
            return Double(code)
        case .numeric:
            return Double(Float(number(value)))
        }
    }

    @inline(__always) private func number(_ value: String) -> Double {
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
        // Numbers are encoded as they stream by; categories get provisional codes in order of
        // appearance, renumbered by frequency at the end.
        let types = profile.features.map { profile.column($0)?.dtype ?? .categorical }
        let numericSpecs = zip(profile.features, types).map { name, type in
            FeatureSpec(name: name, kind: type == .categorical ? .categorical : .numeric, source: type, categories: nil)
        }
        var columns = [[Double]](repeating: [], count: featureIndices.count)
        var provisional = [[String: Int]](repeating: [:], count: featureIndices.count)
        var provisionalCounts = [[Int]](repeating: [], count: featureIndices.count)
        var targets: [String] = []
        var skipped = 0
        try table.forEachRow { row in
            let label = row[targetIndex]
            if MissingValues.isMissing(label) { skipped += 1; return }
            targets.append(Text.trim(label))
            for (slot, index) in featureIndices.enumerated() {
                let value = row[index]
                if numericSpecs[slot].kind == .numeric {
                    columns[slot].append(numericSpecs[slot].encode(value, lookup: nil))
                } else if MissingValues.isMissing(value) {
                    columns[slot].append(.nan)
                } else {
                    let key = Text.trim(value)
                    if let code = provisional[slot][key] {
                        provisionalCounts[slot][code] += 1
                        columns[slot].append(Double(code))
                    } else {
                        let code = provisional[slot].count
                        provisional[slot][key] = code
                        provisionalCounts[slot].append(1)
                        columns[slot].append(Double(code))
                    }
                }
            }
        }
        var specs = numericSpecs
        for slot in specs.indices where specs[slot].kind == .categorical {
            let names = provisional[slot].sorted { $0.value < $1.value }.map(\.key)
            let counts = provisionalCounts[slot]
            let ranked = names.indices.sorted { counts[$0] != counts[$1] ? counts[$0] > counts[$1] : names[$0] < names[$1] }
                .prefix(FeatureSpec.maxCategories)
            var remap = [Double](repeating: .nan, count: names.count)
            for (newCode, oldCode) in ranked.enumerated() { remap[oldCode] = Double(newCode) }
            columns[slot] = columns[slot].map { $0.isNaN ? .nan : remap[Int($0)] }
            specs[slot] = FeatureSpec(name: specs[slot].name, kind: .categorical, source: .categorical,
                                      categories: ranked.map { names[$0] })
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
