import Foundation

/// What the search is asked to do.
public struct AutoMLSettings: Sendable {
    /// Wall-clock seconds for the whole job (the budget passed to `run` counts from its start).
    public var timeLimit: Double = 60
    public var seed: UInt64 = 0
    public var metric: Metric?
    /// Share of rows held out for the reported test metrics (0: none reported).
    public var testFraction = 0.2
    public var preset = TrainingPreset.balanced
    /// Candidate families to try (nil: all).
    public var families: Set<AlgorithmFamily>?
    /// How candidates are validated (nil: the preset's choice by rows).
    public var validation: ValidationPlan?
    /// Candidate names to try (nil: all), mostly for tests and benchmarks.
    public var onlyCandidates: [String]?
    /// Feature columns left out by the request (echoed in the report's options).
    public var excludedColumns: [String] = []

    /// The preset's validation for a dataset of `rows` rows, unless one was asked for.
    public func validationPlan(rows: Int) -> ValidationPlan {
        if let validation { return validation }
        switch preset {
        case .fast: return .holdout(fraction: 0.2)
        // Small sets: a second repeat of the folds halves the variance of the validation
        // scores that pick the candidates and the ensemble's weights, at twice the fits.
        case .balanced: return rows < 5000 ? .crossValidation(folds: 5, repeats: rows < 1000 ? 2 : 1) : .holdout(fraction: 0.2)
        case .best:
            return rows < 2000 ? .crossValidation(folds: 8, repeats: rows < 1000 ? 2 : 1)
                : rows < 10_000 ? .crossValidation(folds: 5) : .holdout(fraction: 0.2)
        }
    }

    public init() {}
}

public struct LeaderboardEntry: Codable, Sendable {
    public var model: String
    public var kind: String
    /// The selection metric on validation rows (out-of-fold predictions under cross-validation).
    public var validationScore: Double
    public var fitTimeSeconds: Double
    /// Time to predict the validation rows.
    public var predictTimeSeconds: Double
    public var details: String
    /// Weight in the final model (0 when unused).
    public var weight: Double

    enum CodingKeys: String, CodingKey {
        case model, kind, details, weight
        case validationScore = "validation_score", fitTimeSeconds = "fit_time_s", predictTimeSeconds = "predict_time_s"
    }
}

/// The outcome of a search, written beside the model as metrics.json and leaderboard.json.
public struct AutoMLReport: Codable, Sendable {
    public var metric: String
    public var bestModel: String
    public var validationScore: Double
    public var validationMethod: String
    public var trainRows: Int
    public var testRows: Int
    public var testMetrics: [String: Double]
    public var validationMetrics: [String: Double]
    public var trainingMetrics: [String: Double]
    public var leaderboard: [LeaderboardEntry]
    public var confusionMatrix: [[Int]]?
    /// Regression: up to 300 test rows as [actual, predicted] (for a chart).
    public var predictedVsActual: [[Double]]?
    public var seed: UInt64
    public var timeLimitSeconds: Double
    public var elapsedSeconds: Double
    /// The options the search ran with, resolved (the validation it chose, the features used).
    public var options: ResolvedTrainingOptions?
    /// How much the test metric drops when each feature's test values are shuffled.
    public var permutationImportances: PermutationImportances?

    enum CodingKeys: String, CodingKey {
        case metric, leaderboard, seed
        case options = "training_options", permutationImportances = "permutation_importances"
        case bestModel = "best_model", validationScore = "validation_score", validationMethod = "validation_method"
        case trainRows = "train_rows", testRows = "test_rows", testMetrics = "test_metrics"
        case validationMetrics = "validation_metrics", trainingMetrics = "training_metrics"
        case confusionMatrix = "confusion_matrix", timeLimitSeconds = "time_limit_s", elapsedSeconds = "elapsed_s"
        case predictedVsActual = "predicted_vs_actual"
    }
}

public struct FeatureImportance: Codable, Sendable {
    public var name: String
    /// The drop of the metric (as a score: higher is better) with this feature's values shuffled.
    public var importance: Double
}

public struct PermutationImportances: Codable, Sendable {
    public var metric: String
    /// Test rows used.
    public var rows: Int
    /// Most important first.
    public var features: [FeatureImportance]
}

public struct AutoMLResult: Sendable {
    public var pipeline: TrainedPipeline
    public var report: AutoMLReport
}

/// The AutoML search: split, fit every candidate while the budget lasts, select a weighted
/// ensemble on validation predictions, refit where cross-validation was used, then report
/// test metrics on rows that took no part in any of it.
public struct AutoML {
    public let table: TrainingTable
    public let problem: ProblemType
    public let settings: AutoMLSettings
    public let budget: TrainingBudget
    /// Called with the fraction done, what is happening, and a leaderboard entry when a
    /// candidate has just been scored.
    public let progress: @Sendable (Double, String, LeaderboardEntry?) -> Void

    public init(table: TrainingTable, problem: ProblemType, settings: AutoMLSettings, budget: TrainingBudget,
                progress: @escaping @Sendable (Double, String, LeaderboardEntry?) -> Void = { _, _, _ in }) {
        self.table = table
        self.problem = problem
        self.settings = settings
        self.budget = budget
        self.progress = progress
    }

    var objective: TreeEnsembleModel.Objective {
        switch problem {
        case .regression: return .regression
        case .binary: return .binary
        case .multiclass: return .multiclass
        }
    }

    /// A fitted candidate: its model on the selection rows, validation predictions, costs.
    struct Fitted {
        var candidate: Candidate
        var model: PipelineModel
        var validation: Prediction
        var fitTime: Double
        var predictTime: Double
        var rounds: Int?
    }

    static let trainingMetricRows = 10_000

    public func run() throws -> AutoMLResult {
        let metric = settings.metric ?? Metric.default(for: table.targetSpec.task)
        let n = table.rowCount
        guard n >= 10 else { throw ProfileError.invalid("the dataset has \(n) rows with a target; training needs at least 10") }
        var generator = SeededGenerator(seed: settings.seed)
        var order = Array(0..<n)
        order.shuffle(using: &generator)
        let testCount = settings.testFraction > 0 ? max(1, Int((Double(n) * settings.testFraction).rounded())) : 0
        let testRows = Array(order[0..<testCount]).sorted()
        let poolRows = Array(order[testCount...]).sorted()
        let pool = table.subset(poolRows)
        let plan = settings.validationPlan(rows: n)
        let useCV: Bool
        if case .crossValidation = plan { useCV = true } else { useCV = false }
        progress(0.02, "split \(n) rows: \(pool.rowCount) for training and selection, \(testCount) held out for test metrics", nil)

        // Search phase: learners must stop early enough to leave time for refits and scoring.
        budget.setSoftLimit(budget.limitSeconds * (useCV ? 0.62 : 0.8))
        let candidates = Candidate.searchList(rows: n, preset: settings.preset, families: settings.families)
            .filter { settings.onlyCandidates?.contains($0.name) ?? true }
        guard !candidates.isEmpty else { throw ProfileError.invalid("the training options leave no candidate to try") }
        let selection: any ModelSelection
        switch plan {
        case .crossValidation(let folds, let repeats):
            selection = try CrossValidation(pool: pool, folds: folds, repeats: repeats, seed: settings.seed, automl: self)
        case .holdout(let fraction):
            selection = try Holdout(pool: pool, fraction: fraction, capped: settings.validation == nil, seed: settings.seed, automl: self)
        }
        var fitted: [Fitted] = []
        for (index, candidate) in candidates.enumerated() {
            try budget.checkCancelled()
            if !fitted.isEmpty && budget.exhausted() { break }
            // Leave later candidates out when less than a tenth of the budget remains for them.
            if fitted.count >= 2 && budget.effectiveLimit - budget.elapsed < budget.limitSeconds * 0.08 { break }
            progress(0.05 + 0.75 * Double(index) / Double(candidates.count), "fitting \(candidate.name)", nil)
            let result = try selection.fit(candidate)
            let score = metric.evaluate(result.validation, target: selection.validationTarget)
            fitted.append(result)
            let entry = LeaderboardEntry(model: candidate.name, kind: candidate.kind.rawValue, validationScore: score,
                                         fitTimeSeconds: result.fitTime, predictTimeSeconds: result.predictTime,
                                         details: candidate.details + (result.rounds.map { ", \($0) rounds" } ?? ""), weight: 0)
            progress(0.05 + 0.75 * Double(index + 1) / Double(candidates.count),
                     "\(candidate.name): validation \(metric.rawValue) \(Self.format(score)) in \(Self.format(result.fitTime)) s", entry)
        }
        try budget.checkCancelled()

        // Ensemble selection on validation predictions.
        let weights = EnsembleSelection.select(fitted.map(\.validation), target: selection.validationTarget, metric: metric)
        let ensembleValidation = Prediction.weightedSum(zip(weights, fitted.map(\.validation)).map { ($0, $1) })
        var scores = fitted.map { metric.score(metric.evaluate($0.validation, target: selection.validationTarget)) }
        let ensembleScore = metric.score(metric.evaluate(ensembleValidation, target: selection.validationTarget))
        var bestSingle = 0
        for index in scores.indices where scores[index] > scores[bestSingle] { bestSingle = index }
        let useEnsemble = ensembleScore > scores[bestSingle] + 1e-12 && weights.filter({ $0 > 0 }).count > 1
        scores.append(ensembleScore)

        // Final model: the chosen candidates, refitted or bagged (`ModelSelection.final`).
        // Refits stop at 80%: scoring and writing model.json and model.onnx (about two
        // seconds for a 15 MB ensemble) take the rest.
        budget.setSoftLimit(budget.limitSeconds * 0.8)
        progress(0.85, useEnsemble ? "refitting the weighted ensemble" : "refitting \(fitted[bestSingle].candidate.name)", nil)
        let chosen: [(Int, Double)] = useEnsemble ? weights.enumerated().filter { $0.element > 0 }.map { ($0.offset, $0.element) }
                                                  : [(bestSingle, 1)]
        var members: [EnsembleMember] = []
        for (index, weight) in chosen {
            let model = try selection.final(fitted[index])
            members.append(EnsembleMember(weight: weight, model: model))
        }
        let finalModel: PipelineModel = members.count == 1 ? members[0].model
            : PipelineModel(kind: .weightedEnsemble, name: "WeightedEnsemble", linear: nil, trees: nil, members: members)
        let pipeline = TrainedPipeline(problemType: problem, target: table.targetSpec, features: table.features, model: finalModel)

        // Report.
        progress(0.95, "scoring", nil)
        let validationPrediction = useEnsemble ? ensembleValidation : fitted[bestSingle].validation
        var testMetrics: [String: Double] = [:]
        var confusion: [[Int]]?
        var pairs: [[Double]]?
        var importances: PermutationImportances?
        if !testRows.isEmpty {
            let test = table.subset(testRows)
            let prediction = finalModel.predict(EncodedRows(columns: test.columns, count: test.rowCount))
            testMetrics = Metrics.compute(prediction, target: test.target)
            if problem != .regression { confusion = Metrics.confusion(prediction, target: test.target) }
            else { pairs = zip(test.target, prediction.values).prefix(300).map { [$0, $1] } }
            importances = permutationImportances(finalModel, test: test, metric: metric, generator: &generator)
        }
        // Training metrics on at most 10,000 of the training rows (an even stride): on large
        // sets predicting every row would take seconds of the budget for a figure that needs
        // no more precision.
        let trainingSample = pool.rowCount <= Self.trainingMetricRows ? pool
            : pool.subset((0..<Self.trainingMetricRows).map { $0 * pool.rowCount / Self.trainingMetricRows })
        let trainPrediction = finalModel.predict(EncodedRows(columns: trainingSample.columns, count: trainingSample.rowCount))
        var leaderboard = fitted.enumerated().map { index, result in
            LeaderboardEntry(model: result.candidate.name, kind: result.candidate.kind.rawValue,
                             validationScore: metric.evaluate(result.validation, target: selection.validationTarget),
                             fitTimeSeconds: result.fitTime, predictTimeSeconds: result.predictTime,
                             details: result.candidate.details + (result.rounds.map { ", \($0) rounds" } ?? ""),
                             weight: useEnsemble ? weights[index] : (index == bestSingle ? 1 : 0))
        }
        leaderboard.append(LeaderboardEntry(
            model: "WeightedEnsemble", kind: PipelineModel.Kind.weightedEnsemble.rawValue,
            validationScore: metric.evaluate(ensembleValidation, target: selection.validationTarget),
            fitTimeSeconds: fitted.reduce(0) { $0 + $1.fitTime }, predictTimeSeconds: fitted.reduce(0) { $0 + $1.predictTime },
            details: ensembleDescription(fitted.map(\.candidate.name), weights),
            weight: useEnsemble ? 1 : 0))
        leaderboard.sort { metric.score($0.validationScore) > metric.score($1.validationScore) }
        let report = AutoMLReport(
            metric: metric.rawValue, bestModel: useEnsemble ? "WeightedEnsemble" : fitted[bestSingle].candidate.name,
            validationScore: metric.evaluate(validationPrediction, target: selection.validationTarget),
            validationMethod: selection.method, trainRows: pool.rowCount, testRows: testRows.count, testMetrics: testMetrics,
            validationMetrics: Metrics.compute(validationPrediction, target: selection.validationTarget),
            trainingMetrics: Metrics.compute(trainPrediction, target: trainingSample.target), leaderboard: leaderboard,
            confusionMatrix: confusion, predictedVsActual: pairs, seed: settings.seed, timeLimitSeconds: settings.timeLimit,
            elapsedSeconds: budget.elapsed,
            options: ResolvedTrainingOptions(
                preset: settings.preset,
                algorithms: AlgorithmFamily.allCases.filter { settings.families?.contains($0) ?? true },
                featureColumns: table.features.map(\.name), excludeColumns: settings.excludedColumns,
                validation: selection.plan, seed: settings.seed),
            permutationImportances: importances)
        return AutoMLResult(pipeline: pipeline, report: report)
    }

    /// Permutation importances on the test rows (at most 2,000, fewer when the budget is short:
    /// one prediction per feature), or nil when there is no time left for even 100 rows.
    func permutationImportances(_ model: PipelineModel, test: TrainingTable, metric: Metric,
                                generator: inout SeededGenerator) -> PermutationImportances? {
        guard !table.features.isEmpty else { return nil }
        var rows = min(test.rowCount, 2000)
        var subset = test.subset((0..<rows).map { $0 * test.rowCount / rows })
        let started = ContinuousClock.now
        let baseline = metric.score(metric.evaluate(model.predict(EncodedRows(columns: subset.columns, count: rows)), target: subset.target))
        let perFeature = max(AutoML.seconds(since: started), 1e-4)
        // Keep within 95% of the limit (registration and the ONNX export follow).
        let available = budget.limitSeconds * 0.95 - budget.elapsed
        let needed = perFeature * Double(table.features.count)
        if needed > available {
            rows = Int(Double(rows) * available / needed)
            guard rows >= 100 else { return nil }
            subset = subset.subset(Array(0..<rows))
        }
        let reference = rows == subset.rowCount && rows == min(test.rowCount, 2000) ? baseline
            : metric.score(metric.evaluate(model.predict(EncodedRows(columns: subset.columns, count: rows)), target: subset.target))
        var values: [FeatureImportance] = []
        for (index, feature) in table.features.enumerated() {
            var columns = subset.columns
            columns[index].shuffle(using: &generator)
            let score = metric.score(metric.evaluate(model.predict(EncodedRows(columns: columns, count: rows)), target: subset.target))
            values.append(FeatureImportance(name: feature.name, importance: reference - score))
        }
        values.sort { $0.importance > $1.importance }
        return PermutationImportances(metric: metric.rawValue, rows: rows, features: values)
    }

    /// Fits one candidate on given rows; `validation` drives early stopping.
    func fitModel(_ candidate: Candidate, train: TrainingTable, trainBins: BinnedMatrix,
                  validation: (table: TrainingTable, bins: BinnedMatrix)?, rounds: Int?, parallel: Bool,
                  seed: UInt64) throws -> (PipelineModel, Int?) {
        let classes = table.classCount
        switch candidate.learner {
        case .linear(let l2):
            let model = try LinearTrainer(objective: objective, classCount: classes, l2: l2)
                .fit(features: train.features, rows: EncodedRows(columns: train.columns, count: train.rowCount),
                     target: train.target, budget: budget)
            return (PipelineModel(kind: .linear, name: candidate.name, linear: model, trees: nil, members: nil), nil)
        case .boosting(let parameters):
            let trainer = GradientBoostingTrainer(parameters: parameters, objective: objective, classCount: classes,
                                                  seed: seed, parallel: parallel)
            let result = try trainer.fit(train: trainBins, target: train.target,
                                         validation: validation.map { ($0.bins, $0.table.target) }, rounds: rounds, budget: budget)
            return (PipelineModel(kind: .gradientBoosting, name: candidate.name, linear: nil, trees: result.model, members: nil),
                    result.bestRounds)
        case .forest(let parameters):
            let model = try RandomForestTrainer(parameters: parameters, objective: objective, classCount: classes, seed: seed)
                .fit(train: trainBins, target: train.target, budget: budget)
            return (PipelineModel(kind: .randomForest, name: candidate.name, linear: nil, trees: model, members: nil), nil)
        }
    }

    private func ensembleDescription(_ names: [String], _ weights: [Double]) -> String {
        var parts: [String] = []
        for (name, weight) in zip(names, weights) where weight > 0 { parts.append("\(name) \(Self.format(weight))") }
        return parts.joined(separator: ", ")
    }

    static func format(_ value: Double) -> String { String(format: "%.4g", value) }

    static func seconds(since start: ContinuousClock.Instant) -> Double {
        TrainingBudget.seconds(ContinuousClock.now - start)
    }
}
