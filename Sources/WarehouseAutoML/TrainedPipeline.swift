import Foundation

/// One fitted learner, or a weighted ensemble of them.
public struct PipelineModel: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        case linear
        case gradientBoosting = "gradient_boosting"
        case randomForest = "random_forest"
        case weightedEnsemble = "weighted_ensemble"
    }
    public var kind: Kind
    /// The candidate's name on the leaderboard.
    public var name: String
    public var linear: LinearModel?
    public var trees: TreeEnsembleModel?
    public var members: [EnsembleMember]?

    public func predict(_ rows: EncodedRows) -> Prediction {
        switch kind {
        case .linear: return linear!.predict(rows)
        case .gradientBoosting, .randomForest: return trees!.predict(rows)
        case .weightedEnsemble:
            return Prediction.weightedSum(members!.map { ($0.weight, $0.model.predict(rows)) })
        }
    }
}

public struct EnsembleMember: Codable, Sendable, Equatable {
    public var weight: Double
    public var model: PipelineModel
}

/// `model.json`: the whole fitted pipeline — how raw column values are encoded, the model,
/// and how its outputs become labels. Versioned so later readers can refuse what they do not
/// know. See README "model.json".
public struct TrainedPipeline: Codable, Sendable, Equatable {
    public static let formatName = "model-warehouse/automl-pipeline"
    public static let currentVersion = 1

    public var format: String
    public var formatVersion: Int
    public var problemType: ProblemType
    public var target: TargetSpec
    public var features: [FeatureSpec]
    public var model: PipelineModel

    enum CodingKeys: String, CodingKey {
        case format, target, features, model
        case formatVersion = "format_version", problemType = "problem_type"
    }

    public init(problemType: ProblemType, target: TargetSpec, features: [FeatureSpec], model: PipelineModel) {
        format = Self.formatName
        formatVersion = Self.currentVersion
        self.problemType = problemType
        self.target = target
        self.features = features
        self.model = model
    }

    public static func decode(_ data: Data) throws -> TrainedPipeline {
        let pipeline = try JSONDecoder().decode(TrainedPipeline.self, from: data)
        guard pipeline.format == formatName, pipeline.formatVersion <= currentVersion else {
            throw ProfileError.invalid("model.json is \(pipeline.format) version \(pipeline.formatVersion); this server reads \(formatName) up to version \(currentVersion)")
        }
        return pipeline
    }

    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }
}

/// Answers from a pipeline for raw rows.
public struct PipelineOutput: Sendable {
    public var labels: [String]?
    public var values: [Double]?
    public var probabilities: [[Double]]?
}

/// A loaded pipeline ready to predict: category lookups built once.
public final class Predictor: Sendable {
    public let pipeline: TrainedPipeline
    let lookups: [[String: Int]?]

    public init(_ pipeline: TrainedPipeline) {
        self.pipeline = pipeline
        lookups = pipeline.features.map { $0.categoryLookup() }
    }

    /// Rows as column → raw text (nil = missing). Every feature column must be present.
    public func predict(rows: [[String: String?]]) throws -> PipelineOutput {
        var columns: [[Double]] = []
        for (index, spec) in pipeline.features.enumerated() {
            var column = [Double](repeating: .nan, count: rows.count)
            for (rowIndex, row) in rows.enumerated() {
                guard let value = row[spec.name] else {
                    throw PredictionInputError.missingColumn(spec.name, row: rowIndex)
                }
                column[rowIndex] = spec.encode(value, lookup: lookups[index])
            }
            columns.append(column)
        }
        return output(pipeline.model.predict(EncodedRows(columns: columns, count: rows.count)))
    }

    /// Already-encoded rows (benchmarks and tests).
    public func predict(encoded rows: EncodedRows) -> Prediction { pipeline.model.predict(rows) }

    public func output(_ prediction: Prediction) -> PipelineOutput {
        guard let classes = pipeline.target.classes else {
            return PipelineOutput(labels: nil, values: prediction.values, probabilities: nil)
        }
        let labels = prediction.argmax().map { classes[$0] }
        let probabilities = (0..<prediction.count).map { Array(prediction.row($0)) }
        return PipelineOutput(labels: labels, values: nil, probabilities: probabilities)
    }
}

public enum PredictionInputError: Error, CustomStringConvertible, Sendable {
    case missingColumn(String, row: Int)

    public var description: String {
        switch self {
        case .missingColumn(let name, let row): return "row \(row) has no value for feature column '\(name)' (send null for a missing value)"
        }
    }
}
