import Foundation

/// One learner configuration the search may try.
struct Candidate: Sendable {
    enum Learner: Sendable {
        case linear(l2: Double)
        case boosting(BoostingParameters)
        case forest(ForestParameters)
    }
    let name: String
    let learner: Learner

    var family: AlgorithmFamily {
        switch learner {
        case .linear: return .linear
        case .boosting: return .gbdt
        case .forest(let parameters): return parameters.extraTrees ? .extraTrees : .randomForest
        }
    }

    var kind: PipelineModel.Kind {
        switch learner {
        case .linear: return .linear
        case .boosting: return .gradientBoosting
        case .forest: return .randomForest
        }
    }

    /// The candidates of a preset, in search order, limited to `families` (nil: all).
    static func searchList(rows: Int, preset: TrainingPreset, families: Set<AlgorithmFamily>?) -> [Candidate] {
        let all: [Candidate]
        switch preset {
        case .fast: all = Array(balancedList(rows: rows).prefix(4))
        case .balanced: all = balancedList(rows: rows)
        case .best: all = balancedList(rows: rows) + bestExtras(rows: rows)
        }
        return all.filter { families?.contains($0.family) ?? true }
    }

    /// `best` tries these after the balanced list: larger forests, a deeper and a tiny
    /// booster, a column-subsampled slow booster, and a weaker linear penalty.
    static func bestExtras(rows: Int) -> [Candidate] {
        var forest = ForestParameters()
        forest.trees = rows < 5000 ? 600 : 200
        forest.featureFraction = 0.5
        var extra = forest
        extra.extraTrees = true
        extra.featureFraction = nil
        return [
            Candidate(name: "RandomForest_Large", learner: .forest(forest)),
            Candidate(name: "ExtraTrees_Large", learner: .forest(extra)),
            Candidate(name: "GradientBoosting_Deep", learner: .boosting(boostingParameters(127, 0.03, minData: 5, l2: 3, features: 0.6, bagging: 0.8, patience: 100))),
            Candidate(name: "GradientBoosting_Tiny", learner: .boosting(boostingParameters(4, 0.05, minData: 20, l2: 1, features: 0.9, patience: 200))),
            Candidate(name: "GradientBoosting_Columns", learner: .boosting(boostingParameters(31, 0.03, minData: 30, l2: 2, features: 0.4, bagging: 0.7, patience: 150))),
            Candidate(name: "LinearModel_Weak", learner: .linear(l2: 1e-5)),
        ]
    }

    static func boostingParameters(_ leaves: Int, _ rate: Double, minData: Int, l2: Double, features: Double = 1,
                                   bagging: Double = 1, patience: Int = 50) -> BoostingParameters {
        var parameters = BoostingParameters()
        parameters.learningRate = rate
        parameters.maxRounds = 3000
        parameters.earlyStoppingRounds = patience
        parameters.featureFraction = features
        parameters.baggingFraction = bagging
        parameters.tree.maxLeaves = leaves
        parameters.tree.minDataInLeaf = minData
        parameters.tree.lambdaL2 = l2
        return parameters
    }

    /// The balanced search order: a fast linear baseline, LightGBM's defaults, two forests
    /// (bootstrap and extremely randomised), then boosting variants with random thresholds,
    /// more regularisation or more capacity, slowest last (AutoGluon's medium_quality spirit).
    /// The first four are one per family: `fast` tries only those.
    static func balancedList(rows: Int) -> [Candidate] {
        var forest = ForestParameters()
        forest.trees = rows < 5000 ? 300 : 100
        var extra = forest
        extra.extraTrees = true
        var extraBoosting = boostingParameters(31, 0.05, minData: 20, l2: 1, features: 0.8, patience: 80)
        extraBoosting.tree.randomThresholds = true
        return [
            Candidate(name: "LinearModel", learner: .linear(l2: 1e-3)),
            Candidate(name: "GradientBoosting", learner: .boosting(boostingParameters(31, 0.1, minData: 20, l2: 0))),
            Candidate(name: "RandomForest", learner: .forest(forest)),
            Candidate(name: "ExtraTrees", learner: .forest(extra)),
            Candidate(name: "GradientBoosting_ExtraTrees", learner: .boosting(extraBoosting)),
            Candidate(name: "GradientBoosting_Regularized", learner: .boosting(boostingParameters(15, 0.05, minData: 10, l2: 1, features: 0.8, bagging: 0.8, patience: 80))),
            Candidate(name: "GradientBoosting_Large", learner: .boosting(boostingParameters(63, 0.05, minData: 10, l2: 1, features: 0.7, patience: 80))),
            Candidate(name: "LinearModel_Strong", learner: .linear(l2: 0.05)),
            Candidate(name: "GradientBoosting_Shallow", learner: .boosting(boostingParameters(8, 0.03, minData: 40, l2: 10, features: 0.5, bagging: 0.8, patience: 150))),
            Candidate(name: "GradientBoosting_Slow", learner: .boosting(boostingParameters(31, 0.02, minData: 20, l2: 5, features: 0.6, bagging: 0.9, patience: 150))),
        ]
    }

    var details: String {
        switch learner {
        case .linear(let l2): return "L2 \(l2)"
        case .boosting(let p):
            return (p.tree.randomThresholds ? "random thresholds, " : "") + "\(p.tree.maxLeaves) leaves, learning rate \(p.learningRate), min data in leaf \(p.tree.minDataInLeaf), L2 \(p.tree.lambdaL2), feature fraction \(p.featureFraction), bagging \(p.baggingFraction)"
        case .forest(let p): return "\(p.trees) trees, up to \(p.maxLeaves) leaves" + (p.extraTrees ? ", random thresholds" : "")
        }
    }
}

/// Greedy ensemble selection with replacement (Caruana et al. 2004), as in AutoGluon's
/// WeightedEnsemble_L2: repeatedly add the model whose inclusion most improves the validation
/// metric of the averaged predictions; weights are how often each was picked.
enum EnsembleSelection {
    static func select(_ predictions: [Prediction], target: [Double], metric: Metric, iterations: Int = 25) -> [Double] {
        guard !predictions.isEmpty else { return [] }
        var counts = [Int](repeating: 0, count: predictions.count)
        var sum = [Double](repeating: 0, count: predictions[0].values.count)
        let width = predictions[0].width
        let secondary: Metric = width == 1 ? .rmse : .logLoss
        for step in 0..<iterations {
            var best: (index: Int, primary: Double, secondary: Double)?
            for (index, prediction) in predictions.enumerated() {
                var trial = sum
                let scale = 1 / Double(step + 1)
                for j in trial.indices { trial[j] = (trial[j] + prediction.values[j]) * scale }
                let values = Metrics.compute(Prediction(values: trial, width: width), target: target)
                let primary = metric.score(values[metric.rawValue] ?? -.infinity)
                let tie = secondary.score(values[secondary.rawValue] ?? -.infinity)
                if best == nil || primary > best!.primary + 1e-12 || (abs(primary - best!.primary) <= 1e-12 && tie > best!.secondary) {
                    best = (index, primary, tie)
                }
            }
            guard let best else { break }
            counts[best.index] += 1
            for j in sum.indices { sum[j] += predictions[best.index].values[j] }
        }
        let total = Double(counts.reduce(0, +))
        return counts.map { Double($0) / total }
    }
}
