import Foundation
import Testing
@testable import WarehouseAutoML

@Suite struct MetricsTests {
    @Test func classificationMetrics() {
        // Binary: 4 rows, one mistake.
        let prediction = Prediction(values: [0.9, 0.1, 0.2, 0.8, 0.6, 0.4, 0.3, 0.7], width: 2)
        let metrics = Metrics.compute(prediction, target: [0, 1, 1, 1])
        #expect(metrics["accuracy"] == 0.75)
        #expect(abs(metrics["roc_auc"]! - 1.0) < 1e-12)  // every positive scores above the negative
        #expect(abs(metrics["log_loss"]! - (-(log(0.9) + log(0.8) + log(0.4) + log(0.7)) / 4)) < 1e-12)
        // Class 0: precision 1/2, recall 1; class 1: precision 1, recall 2/3.
        #expect(abs(metrics["precision_macro"]! - 0.75) < 1e-12)
        #expect(abs(metrics["recall_macro"]! - (1 + 2.0 / 3) / 2) < 1e-12)
        #expect(abs(metrics["f1_macro"]! - (2.0 / 3 + 0.8) / 2) < 1e-12)
        #expect(Metrics.confusion(prediction, target: [0, 1, 1, 1]) == [[1, 0], [1, 2]])
    }

    @Test func regressionMetrics() {
        let metrics = Metrics.compute(Prediction(values: [1, 2, 4], width: 1), target: [1, 3, 5])
        #expect(abs(metrics["mae"]! - 2.0 / 3) < 1e-12)
        #expect(abs(metrics["rmse"]! - (2.0 / 3).squareRoot()) < 1e-12)
        #expect(abs(metrics["r2"]! - (1 - 2.0 / 8)) < 1e-12)
    }

    @Test func aucWithTies() {
        #expect(Metrics.rocAUC(scores: [0.5, 0.5, 0.5, 0.5], target: [0, 1, 0, 1]) == 0.5)
    }
}

@Suite struct LearnerTests {
    /// y depends on x0 (numeric, 10% missing) and a category; x2 is noise.
    static func table(rows: Int, classification: Bool, seed: UInt64 = 1) -> TrainingTable {
        var generator = SeededGenerator(seed: seed)
        var x0: [Double] = [], x1: [Double] = [], x2: [Double] = [], y: [Double] = []
        for _ in 0..<rows {
            let a = generator.unit() * 10
            let category = Double(generator.next() % 4)
            x0.append(generator.unit() < 0.1 ? .nan : a)
            x1.append(category)
            x2.append(generator.unit())
            let signal = a + (category == 2 ? 5 : 0)
            y.append(classification ? (signal > 7 ? 1 : 0) : signal * 3 + generator.unit())
        }
        let features = [FeatureSpec(name: "x0", kind: .numeric, source: .float, categories: nil),
                        FeatureSpec(name: "x1", kind: .categorical, source: .categorical, categories: ["a", "b", "c", "d"]),
                        FeatureSpec(name: "x2", kind: .numeric, source: .float, categories: nil)]
        let target = TargetSpec(name: "y", task: classification ? .classification : .regression,
                                classes: classification ? ["0", "1"] : nil, integerLabels: classification)
        return TrainingTable(features: features, columns: [x0, x1, x2], target: y, targetSpec: target)
    }

    @Test func boostingLearnsNumericCategoricalAndMissing() throws {
        let train = Self.table(rows: 3000, classification: true)
        let test = Self.table(rows: 1000, classification: true, seed: 2)
        let mappers = BinnedMatrix.mappers(for: train)
        var parameters = BoostingParameters()
        parameters.maxRounds = 200
        let trainer = GradientBoostingTrainer(parameters: parameters, objective: .binary, classCount: 2, seed: 0, parallel: true)
        let result = try trainer.fit(train: BinnedMatrix(table: train, mappers: mappers), target: train.target,
                                     validation: (BinnedMatrix(table: test, mappers: mappers), test.target), budget: TrainingBudget(seconds: 60))
        let prediction = result.model.predict(EncodedRows(columns: test.columns, count: test.rowCount))
        let accuracy = Metric.accuracy.evaluate(prediction, target: test.target)
        #expect(accuracy > 0.9, "accuracy \(accuracy)")
        #expect(result.model.trees.contains { $0.leftCategories.contains { !$0.isEmpty } }, "uses a categorical split")
        // The compiled walk (fixed steps, eight rows at a time) gives what walking each tree does.
        let rows = EncodedRows(columns: test.columns, count: test.rowCount)
        let compiledScores = result.model.rawScores(rows)
        for row in 0..<test.rowCount {
            var expected = result.model.baseScores[0]
            for tree in result.model.trees { expected += tree.leafValues[tree.leaf { test.columns[$0][row] }] }
            #expect(abs(compiledScores[row] - expected) < 1e-9, "row \(row)")
        }
        // Binned training walks and raw-value prediction agree on every row.
        let binned = BinnedMatrix(table: test, mappers: mappers)
        let compiled = CompiledTrees(result.model.trees)
        #expect(compiled.count == result.model.trees.count)
        for tree in result.model.trees.prefix(20) {
            for row in 0..<200 {
                let raw = tree.leaf { test.columns[$0][row] }
                var fit = TreeFit(tree: tree, thresholdBins: [], leftBinSets: [], rows: [], leafRanges: [])
                fit.thresholdBins = tree.threshold.enumerated().map { index, threshold in
                    tree.leftCategories[index].isEmpty ? (mappers[Int(tree.feature[index])].upperBounds.firstIndex(of: threshold) ?? -1) : 0
                }
                fit.leftBinSets = tree.leftCategories.enumerated().map { index, codes in
                    var set = [Bool](repeating: false, count: 256)
                    for code in codes { set[Int(code)] = true }
                    if !codes.isEmpty && tree.defaultLeft[index] { set[mappers[Int(tree.feature[index])].missingBin] = true }
                    return codes.isEmpty ? [] : set
                }
                #expect(raw == fit.leaf(matrix: binned, row: row))
            }
        }
    }

    @Test func forestAndLinearModels() throws {
        let train = Self.table(rows: 2000, classification: false)
        let test = Self.table(rows: 500, classification: false, seed: 3)
        let mappers = BinnedMatrix.mappers(for: train)
        let forest = try RandomForestTrainer(parameters: ForestParameters(), objective: .regression, classCount: 0, seed: 1)
            .fit(train: BinnedMatrix(table: train, mappers: mappers), target: train.target, budget: TrainingBudget(seconds: 60))
        let rows = EncodedRows(columns: test.columns, count: test.rowCount)
        #expect(Metric.r2.evaluate(forest.predict(rows), target: test.target) > 0.85)
        let linear = try LinearTrainer(objective: .regression, classCount: 0, l2: 1e-3)
            .fit(features: train.features, rows: EncodedRows(columns: train.columns, count: train.rowCount), target: train.target,
                 budget: TrainingBudget(seconds: 60))
        #expect(Metric.r2.evaluate(linear.predict(rows), target: test.target) > 0.75)
        // Logistic regression on the classification variant.
        let classes = Self.table(rows: 2000, classification: true)
        let logistic = try LinearTrainer(objective: .binary, classCount: 2, l2: 1e-3)
            .fit(features: classes.features, rows: EncodedRows(columns: classes.columns, count: classes.rowCount),
                 target: classes.target, budget: TrainingBudget(seconds: 60))
        let probabilities = logistic.predict(EncodedRows(columns: classes.columns, count: classes.rowCount))
        #expect(Metric.accuracy.evaluate(probabilities, target: classes.target) > 0.8)
        #expect(probabilities.values.allSatisfy { $0 >= 0 && $0 <= 1 })
    }

    @Test func pipelineRoundTripsAndHandlesUnseenValues() throws {
        let table = Self.table(rows: 600, classification: true)
        var settings = AutoMLSettings()
        settings.timeLimit = 30
        settings.onlyCandidates = ["LinearModel", "GradientBoosting", "RandomForest"]
        let result = try AutoML(table: table, problem: .binary, settings: settings, budget: TrainingBudget(seconds: 30)).run()
        let decoded = try TrainedPipeline.decode(try result.pipeline.encoded())
        #expect(decoded == result.pipeline)
        let predictor = Predictor(decoded)
        let output = try predictor.predict(rows: [
            ["x0": "8.5", "x1": "c", "x2": "0.5"],
            ["x0": nil, "x1": "zebra", "x2": "NA"],  // missing and unseen: still an answer
        ])
        #expect(output.labels?.count == 2)
        #expect(output.probabilities?.allSatisfy { abs($0.reduce(0, +) - 1) < 1e-9 } == true)
        #expect(throws: PredictionInputError.self) { try predictor.predict(rows: [["x0": "1"]]) }
        // The same seed and data give the same pipeline.
        let again = try AutoML(table: table, problem: .binary, settings: settings, budget: TrainingBudget(seconds: 30)).run()
        #expect(again.pipeline == result.pipeline)
    }

    @Test func timeLimitAndCancellation() throws {
        let table = Self.table(rows: 20_000, classification: false)
        var settings = AutoMLSettings()
        settings.timeLimit = 3
        let budget = TrainingBudget(seconds: 3)
        let result = try AutoML(table: table, problem: .regression, settings: settings, budget: budget).run()
        #expect(budget.elapsed <= 3.3, "took \(budget.elapsed) s")
        #expect(!result.report.leaderboard.isEmpty)
        let cancelled = TrainingBudget(seconds: 60)
        cancelled.cancel()
        #expect(throws: TrainingCancelled.self) {
            try AutoML(table: table, problem: .regression, settings: settings, budget: cancelled).run()
        }
    }
}
