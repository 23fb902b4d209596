import Foundation

/// How hard a search tries: a documented trade of time for quality.
///
/// - `fast`: one candidate per family (linear, gradient boosting, random forest, extra trees),
///   one holdout split, an ensemble of those; it ends when they are fitted, usually well
///   before the time limit.
/// - `balanced` (default): ten candidates (the four families and boosting variants); 5-fold
///   cross-validation below 5,000 rows (repeated twice below 1,000), a holdout above; an
///   ensemble of the best.
/// - `best`: the balanced list plus larger forests and more boosting variants; 8-fold
///   cross-validation below 2,000 rows (repeated twice below 1,000) and 5-fold below 10,000,
///   a holdout above; it uses the whole time limit.
public enum TrainingPreset: String, Codable, Sendable, CaseIterable {
    case fast, balanced, best

    public var summary: String {
        switch self {
        case .fast: return "one candidate per family, one holdout split, ends when they are fitted"
        case .balanced: return "ten candidates, 5-fold cross-validation below 5,000 rows (twice below 1,000; holdout above), ensemble"
        case .best: return "sixteen candidates, 8/5-fold cross-validation below 10,000 rows (twice below 1,000; holdout above), ensemble, whole time limit"
        }
    }
}

/// The candidate families a job may be restricted to (`algorithms`).
public enum AlgorithmFamily: String, Codable, Sendable, CaseIterable {
    case linear, gbdt, randomForest = "random_forest", extraTrees = "extra_trees"

    public var summary: String {
        switch self {
        case .linear: return "regularised linear or logistic regression on standardised, one-hot encoded features"
        case .gbdt: return "gradient-boosted decision trees (histogram based, leaf-wise, early stopping)"
        case .randomForest: return "random forest (bootstrap samples, best split per node)"
        case .extraTrees: return "extremely randomised trees (random thresholds, no bootstrap)"
        }
    }

    /// Accepts the family names and a few common spellings.
    public static func parse(_ text: String) -> AlgorithmFamily? {
        switch text.lowercased().replacingOccurrences(of: "-", with: "_") {
        case "linear", "linear_model", "logistic_regression": return .linear
        case "gbdt", "gbm", "gradient_boosting", "boosting", "lightgbm": return .gbdt
        case "random_forest", "rf", "forest": return .randomForest
        case "extra_trees", "extratrees", "et": return .extraTrees
        default: return nil
        }
    }
}

/// How candidates are validated: `{"kind": "holdout", "fraction": 0.2}` or
/// `{"kind": "cv", "folds": 5, "repeats": 1}` (repeated k-fold: each repeat shuffles the
/// rows anew, and a row's validation prediction is the mean of its out-of-fold predictions).
public enum ValidationPlan: Sendable, Equatable, Codable {
    case holdout(fraction: Double)
    case crossValidation(folds: Int, repeats: Int = 1)

    public static let foldRange = 2...10
    public static let repeatRange = 1...5

    enum CodingKeys: String, CodingKey { case kind, fraction, folds, repeats }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        switch try c.decode(String.self, forKey: .kind) {
        case "cv": self = .crossValidation(folds: try c.decode(Int.self, forKey: .folds),
                                           repeats: try c.decodeIfPresent(Int.self, forKey: .repeats) ?? 1)
        default: self = .holdout(fraction: try c.decode(Double.self, forKey: .fraction))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .holdout(let fraction):
            try c.encode("holdout", forKey: .kind)
            try c.encode(fraction, forKey: .fraction)
        case .crossValidation(let folds, let repeats):
            try c.encode("cv", forKey: .kind)
            try c.encode(folds, forKey: .folds)
            try c.encode(repeats, forKey: .repeats)
        }
    }
}

/// The options a job was trained with, as resolved by the search (what the version records
/// under `custom_metadata.training_options`).
public struct ResolvedTrainingOptions: Codable, Sendable, Equatable {
    public var preset: TrainingPreset
    public var algorithms: [AlgorithmFamily]
    public var featureColumns: [String]
    public var excludeColumns: [String]
    public var validation: ValidationPlan
    public var seed: UInt64

    enum CodingKeys: String, CodingKey {
        case preset, algorithms, validation, seed
        case featureColumns = "feature_columns", excludeColumns = "exclude_columns"
    }
}

extension DatasetProfile {
    /// The profile with features limited to `include` (when given) minus `exclude`; the
    /// columns left out become dropped columns that say why.
    public func selectingFeatures(include: [String]?, exclude: [String]) -> DatasetProfile {
        let kept = features.filter { (include?.contains($0) ?? true) && !exclude.contains($0) }
        let left = Set(features).subtracting(kept)
        let columns = self.columns.map { column -> ColumnProfile in
            guard left.contains(column.name) else { return column }
            return ColumnProfile(name: column.name, dtype: column.dtype, nullCount: column.nullCount, uniqueCount: column.uniqueCount,
                                 uniqueExact: column.uniqueExact, min: column.min, max: column.max, mean: column.mean,
                                 std: column.std, topValues: column.topValues, role: "dropped",
                                 dropReason: "left out by the training options")
        }
        return DatasetProfile(rows: rows, columns: columns, targetColumn: targetColumn, taskType: taskType,
                              problemType: problemType, classCount: classCount, features: kept,
                              droppedColumns: droppedColumns + features.filter(left.contains), sampleData: sampleData,
                              delimiter: delimiter,
                              trainingRefusal: kept.isEmpty ? "the training options leave no feature column" : trainingRefusal)
    }
}
