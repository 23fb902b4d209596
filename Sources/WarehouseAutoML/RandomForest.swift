import Foundation

/// Settings of a random forest.
public struct ForestParameters: Codable, Sendable, Equatable {
    var trees = 100
    var maxLeaves = 1024
    var minDataInLeaf = 1
    /// Features per split as a fraction of all (nil: √F for classification, F/3 for regression).
    var featureFraction: Double?
    /// Extremely randomised trees: random thresholds, and every row in every tree (no bootstrap).
    var extraTrees = false
}

/// Fits a random forest: each tree grows on a bootstrap sample, considering a random subset of
/// features at each split; classification trees fit one-hot targets, so the variance
/// reduction they maximise is the Gini decrease, and their leaves hold class frequencies.
/// Trees grow in parallel, each from its own seed, so the result does not depend on timing.
struct RandomForestTrainer {
    let parameters: ForestParameters
    let objective: TreeEnsembleModel.Objective
    let classCount: Int
    let seed: UInt64

    func fit(train: BinnedMatrix, target: [Double], budget: TrainingBudget) throws -> TreeEnsembleModel {
        let n = train.rowCount
        let classification = objective != .regression
        let channels = classification ? classCount : 1
        var gradients = [Double](repeating: 0, count: n * channels)
        for row in 0..<n {
            if classification { gradients[row * channels + Int(target[row])] = -1 } else { gradients[row] = -target[row] }
        }
        let ones = [Double](repeating: 1, count: n)
        let featureCount = train.featureCount
        let perSplit: Int
        if let fraction = parameters.featureFraction {
            perSplit = max(1, Int((Double(featureCount) * fraction).rounded()))
        } else {
            perSplit = classification ? max(1, Int(Double(featureCount).squareRoot().rounded())) : max(1, featureCount / 3)
        }
        var treeParameters = TreeParameters()
        treeParameters.maxLeaves = parameters.maxLeaves
        treeParameters.minDataInLeaf = classification ? parameters.minDataInLeaf : max(parameters.minDataInLeaf, 5)
        treeParameters.minSumHessian = 0
        treeParameters.featuresPerSplit = perSplit
        treeParameters.minGain = 1e-12
        treeParameters.randomThresholds = parameters.extraTrees
        let learner = TreeLearner(matrix: train, channels: channels, parameters: treeParameters, parallel: false)
        let features = Array(0..<featureCount)

        // Grow in batches so the budget is checked between them; trees stay in seed order.
        var trees: [DecisionTree] = []
        let batch = max(2, Parallel.cores * 2)
        while trees.count < parameters.trees {
            if !trees.isEmpty && budget.exhausted() { try budget.checkCancelled(); break }
            let first = trees.count
            let count = min(batch, parameters.trees - first)
            let grown: [DecisionTree] = gradients.withUnsafeBufferPointer { g in
                ones.withUnsafeBufferPointer { h in
                    let g = UncheckedBox(g), h = UncheckedBox(h)
                    return Parallel.map(count) { offset in
                        var generator = SeededGenerator(seed: seed &+ UInt64(first + offset) &* 0x51_7CC1_B727_220A)
                        let sample = parameters.extraTrees ? (0..<n).map(Int32.init)
                            : (0..<n).map { _ in Int32(generator.next() % UInt64(n)) }
                        return learner.grow(rows: sample, gradients: g.value, hessians: channels == 1 ? h.value : nil,
                                            allowedFeatures: features, generator: &generator).tree
                    }
                }
            }
            trees.append(contentsOf: grown)
        }
        return TreeEnsembleModel(kind: .randomForest, objective: objective, outputs: channels, baseScores: [],
                                 trees: trees, learningRate: 1)
    }
}
