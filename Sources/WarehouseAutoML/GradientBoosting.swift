import Foundation

/// Settings of histogram gradient boosting (LightGBM's names in comments).
public struct BoostingParameters: Codable, Sendable, Equatable {
    var learningRate = 0.1              // learning_rate (shrinkage)
    var maxRounds = 1000                // num_iterations
    var earlyStoppingRounds = 50        // early_stopping_round
    var featureFraction = 1.0           // feature_fraction, per tree
    var baggingFraction = 1.0           // bagging_fraction, per round
    var tree = TreeParameters()         // num_leaves, min_data_in_leaf, lambda_l2, …
}

/// Fits gradient-boosted trees: each round adds one tree per output fitted to the gradients
/// of the loss (squared error, logistic, or softmax cross-entropy), shrunk by the learning
/// rate; validation loss picks the number of rounds (early stopping).
struct GradientBoostingTrainer {
    let parameters: BoostingParameters
    let objective: TreeEnsembleModel.Objective
    let classCount: Int
    let seed: UInt64
    let parallel: Bool

    struct Result {
        var model: TreeEnsembleModel
        var bestRounds: Int
        var validationLoss: Double?
    }

    var outputs: Int { objective == .multiclass ? classCount : 1 }

    /// `rounds` fixes the number of rounds (refits); otherwise early stopping on `validation`.
    func fit(train: BinnedMatrix, target: [Double], validation: (matrix: BinnedMatrix, target: [Double])?,
             rounds fixedRounds: Int? = nil, budget: TrainingBudget) throws -> Result {
        let n = train.rowCount
        let outputs = self.outputs
        let base = baseScores(target)
        var scores = [Double](repeating: 0, count: n * outputs)
        for row in 0..<n { for k in 0..<outputs { scores[row * outputs + k] = base[k] } }
        let m = validation?.matrix.rowCount ?? 0
        var validScores = [Double](repeating: 0, count: m * outputs)
        for row in 0..<m { for k in 0..<outputs { validScores[row * outputs + k] = base[k] } }

        var treeParameters = parameters.tree
        treeParameters.minDataInLeaf = max(1, min(treeParameters.minDataInLeaf, n / 10))
        let learner = TreeLearner(matrix: train, channels: 1, parameters: treeParameters, parallel: parallel)
        var generator = SeededGenerator(seed: seed)
        var trees: [DecisionTree] = []
        var gradients = [[Double]](repeating: [Double](repeating: 0, count: n), count: outputs)
        var hessians = [[Double]](repeating: [Double](repeating: 0, count: n), count: outputs)
        var bestLoss = Double.infinity
        var bestRounds = 0
        let maxRounds = fixedRounds ?? parameters.maxRounds
        let allRows = (0..<n).map(Int32.init)
        let featureCount = train.featureCount
        var probabilities = [Double](repeating: 0, count: outputs)

        for round in 0..<maxRounds {
            if round > 0 && budget.exhausted() { try budget.checkCancelled(); break }
            // Gradients and hessians of the loss at the current scores.
            for row in 0..<n {
                let y = target[row]
                switch objective {
                case .regression:
                    gradients[0][row] = scores[row] - y
                    hessians[0][row] = 1
                case .binary:
                    let p = Link.sigmoid(scores[row])
                    gradients[0][row] = p - y
                    hessians[0][row] = max(p * (1 - p), 1e-16)
                case .multiclass:
                    var maximum = -Double.infinity
                    for k in 0..<outputs { maximum = max(maximum, scores[row * outputs + k]) }
                    var sum = 0.0
                    for k in 0..<outputs {
                        probabilities[k] = exp(scores[row * outputs + k] - maximum)
                        sum += probabilities[k]
                    }
                    let factor = Double(outputs) / Double(outputs - 1)
                    for k in 0..<outputs {
                        let p = probabilities[k] / sum
                        gradients[k][row] = p - (Int(y) == k ? 1 : 0)
                        hessians[k][row] = max(factor * p * (1 - p), 1e-16)
                    }
                }
            }
            var rows = allRows
            if parameters.baggingFraction < 1 {
                rows = allRows.filter { _ in generator.unit() < parameters.baggingFraction }
                if rows.count < 2 { rows = allRows }
            }
            var features = Array(0..<featureCount)
            if parameters.featureFraction < 1 {
                features.shuffle(using: &generator)
                features = Array(features.prefix(max(1, Int((Double(featureCount) * parameters.featureFraction).rounded())))).sorted()
            }
            var grewAny = false
            for k in 0..<outputs {
                var fit = gradients[k].withUnsafeBufferPointer { g in
                    hessians[k].withUnsafeBufferPointer { h in
                        learner.grow(rows: rows, gradients: g, hessians: h, allowedFeatures: features, generator: &generator)
                    }
                }
                for index in fit.tree.leafValues.indices { fit.tree.leafValues[index] *= parameters.learningRate }
                if fit.tree.nodeCount > 0 { grewAny = true }
                // Training scores: by leaf ranges when every row was in the tree, else by traversal.
                if rows.count == n {
                    for (leaf, range) in fit.leafRanges.enumerated() {
                        let value = fit.tree.leafValues[leaf]
                        for position in range { scores[Int(fit.rows[position]) * outputs + k] += value }
                    }
                } else {
                    for row in 0..<n { scores[row * outputs + k] += fit.tree.leafValues[fit.leaf(matrix: train, row: row)] }
                }
                if let validation {
                    for row in 0..<m {
                        validScores[row * outputs + k] += fit.tree.leafValues[fit.leaf(matrix: validation.matrix, row: row)]
                    }
                }
                trees.append(fit.tree)
            }
            if let validation, fixedRounds == nil {
                let loss = Self.loss(objective: objective, scores: validScores, target: validation.target, outputs: outputs)
                if loss < bestLoss - 1e-12 {
                    bestLoss = loss
                    bestRounds = round + 1
                } else if round + 1 - bestRounds >= parameters.earlyStoppingRounds {
                    break
                }
            } else {
                bestRounds = round + 1
            }
            if !grewAny { break }
        }
        bestRounds = max(bestRounds, 1)
        trees = Array(trees.prefix(bestRounds * outputs))
        let model = TreeEnsembleModel(kind: .gradientBoosting, objective: objective, outputs: outputs, baseScores: base,
                                      trees: trees, learningRate: parameters.learningRate)
        return Result(model: model, bestRounds: bestRounds, validationLoss: bestLoss.isFinite ? bestLoss : nil)
    }

    private func baseScores(_ target: [Double]) -> [Double] {
        switch objective {
        case .regression:
            return [target.reduce(0, +) / Double(max(target.count, 1))]
        case .binary:
            let p = min(max(target.reduce(0, +) / Double(max(target.count, 1)), 1e-6), 1 - 1e-6)
            return [log(p / (1 - p))]
        case .multiclass:
            var counts = [Double](repeating: 0, count: classCount)
            for y in target { counts[Int(y)] += 1 }
            return counts.map { log(max($0 / Double(target.count), 1e-6)) }
        }
    }

    /// Validation loss on raw scores: squared error, or cross-entropy.
    static func loss(objective: TreeEnsembleModel.Objective, scores: [Double], target: [Double], outputs: Int) -> Double {
        var total = 0.0
        for row in 0..<target.count {
            switch objective {
            case .regression:
                let d = scores[row] - target[row]
                total += d * d
            case .binary:
                let p = min(max(Link.sigmoid(scores[row]), 1e-15), 1 - 1e-15)
                total -= target[row] == 1 ? log(p) : log(1 - p)
            case .multiclass:
                var maximum = -Double.infinity
                for k in 0..<outputs { maximum = max(maximum, scores[row * outputs + k]) }
                var sum = 0.0
                for k in 0..<outputs { sum += exp(scores[row * outputs + k] - maximum) }
                total -= scores[row * outputs + Int(target[row])] - maximum - log(sum)
            }
        }
        return total / Double(max(target.count, 1))
    }
}
