import Foundation

/// Settings of one tree's growth.
struct TreeParameters: Sendable, Codable, Equatable {
    var maxLeaves = 31
    var maxDepth = 0
    var minDataInLeaf = 20
    var minSumHessian = 1e-3
    var lambdaL2 = 0.0
    var minGain = 0.0
    /// Random forests: how many features each split considers (nil: all).
    var featuresPerSplit: Int?
    /// Categorical splits: smoothing of the gradient/hessian ratio used to order categories.
    var categoricalSmoothing = 10.0
    /// Extremely randomised trees: each numeric feature offers one random threshold per split
    /// (LightGBM's `extra_trees`, scikit-learn's ExtraTrees).
    var randomThresholds = false
}

/// The best way found to split one leaf.
struct SplitCandidate {
    var gain = -Double.infinity
    var feature = -1
    var thresholdBin = 0
    var defaultLeft = false
    /// Categorical: bins that go left.
    var leftBins: [Int] = []
    var leftCount = 0.0
    var isValid: Bool { feature >= 0 && gain > 0 }
}

/// A tree plus what training needs beyond it: the bin-level rule of each node, and the rows of
/// each leaf (positions in `rows`).
struct TreeFit {
    var tree: DecisionTree
    var thresholdBins: [Int]
    var leftBinSets: [[Bool]]
    var rows: [Int32]
    var leafRanges: [Range<Int>]

    /// The leaf a binned row falls into.
    @inline(__always) func leaf(matrix: BinnedMatrix, row: Int) -> Int {
        if tree.feature.isEmpty { return 0 }
        var node = 0
        while true {
            let feature = Int(tree.feature[node])
            let bin = Int(matrix.bins[feature][row])
            let goLeft: Bool
            if bin == matrix.mappers[feature].missingBin && tree.leftCategories[node].isEmpty {
                goLeft = tree.defaultLeft[node]
            } else if !tree.leftCategories[node].isEmpty {
                goLeft = leftBinSets[node][bin]
            } else {
                goLeft = bin <= thresholdBins[node]
            }
            let next = goLeft ? tree.left[node] : tree.right[node]
            if next < 0 { return Int(~next) }
            node = Int(next)
        }
    }
}

/// Grows one tree leaf-wise (best leaf first) on histograms of binned features.
struct TreeLearner {
    let matrix: BinnedMatrix
    let layout: HistogramLayout
    let parameters: TreeParameters
    let parallel: Bool

    init(matrix: BinnedMatrix, channels: Int, parameters: TreeParameters, parallel: Bool) {
        self.matrix = matrix
        layout = HistogramLayout(matrix: matrix, channels: channels)
        self.parameters = parameters
        self.parallel = parallel
    }

    private struct Leaf {
        var range: Range<Int>
        var depth: Int
        var histogram: FeatureHistogram?
        var features: [Int]
        var sums: [Double]  // channels gradients, hessian, count
        var split: SplitCandidate
        /// Where this leaf hangs: (parent node, is left child); nil for the root.
        var parent: (node: Int, isLeft: Bool)?
    }

    /// Grows a tree over `rows` (may repeat, as in a bootstrap sample). `allowedFeatures`
    /// restricts the features (per-tree sampling).
    func grow(rows initial: [Int32], gradients: UnsafeBufferPointer<Double>, hessians: UnsafeBufferPointer<Double>?,
              allowedFeatures: [Int], generator: inout SeededGenerator) -> TreeFit {
        var rows = initial
        var scratch = [Int32](repeating: 0, count: rows.count)
        let channels = layout.channels
        let subtract = parameters.featuresPerSplit == nil
        var tree = DecisionTree(feature: [], threshold: [], defaultLeft: [], leftCategories: [], left: [], right: [],
                                leafValues: [], channels: channels)
        var thresholdBins: [Int] = []
        var leftBinSets: [[Bool]] = []

        func chooseFeatures(_ generator: inout SeededGenerator) -> [Int] {
            guard let count = parameters.featuresPerSplit, count < allowedFeatures.count else { return allowedFeatures }
            var pool = allowedFeatures
            for index in 0..<count {
                let pick = index + Int(generator.next() % UInt64(pool.count - index))
                pool.swapAt(index, pick)
            }
            return Array(pool[0..<count]).sorted()
        }

        func buildHistogram(_ range: Range<Int>, features: [Int]) -> FeatureHistogram {
            var histogram = FeatureHistogram(layout: layout)
            rows.withUnsafeBufferPointer { all in
                let slice = UnsafeBufferPointer(rebasing: all[range])
                histogram.build(matrix: matrix, rows: slice, gradients: gradients, hessians: hessians, features: features,
                                parallel: parallel && range.count * features.count > 64 * 1024)
            }
            return histogram
        }

        func totals(_ histogram: FeatureHistogram, feature: Int) -> [Double] {
            var sums = [Double](repeating: 0, count: layout.stride)
            let start = layout.offsets[feature]
            for bin in 0..<layout.binCounts[feature] {
                for k in 0..<layout.stride { sums[k] += histogram.sums[start + bin * layout.stride + k] }
            }
            return sums
        }

        func makeLeaf(range: Range<Int>, depth: Int, histogram: FeatureHistogram, features: [Int],
                      parent: (node: Int, isLeft: Bool)?) -> Leaf {
            let sums = totals(histogram, feature: features[0])
            var leaf = Leaf(range: range, depth: depth, histogram: histogram, features: features, sums: sums,
                            split: SplitCandidate(), parent: parent)
            if parameters.maxDepth == 0 || depth < parameters.maxDepth {
                let salt = treeSalt ^ (UInt64(range.lowerBound) &* 0x9E37_79B9_7F4A_7C15) ^ (UInt64(range.count) &* 0xC2B2_AE3D_27D4_EB4F)
                leaf.split = bestSplit(histogram: histogram, features: features, sums: sums, salt: salt)
            }
            return leaf
        }

        let treeSalt = parameters.randomThresholds ? generator.next() : 0
        let rootFeatures = chooseFeatures(&generator)
        var leaves = [makeLeaf(range: 0..<rows.count, depth: 0, histogram: buildHistogram(0..<rows.count, features: rootFeatures),
                               features: rootFeatures, parent: nil)]

        while leaves.count < parameters.maxLeaves {
            var bestIndex = -1
            var bestGain = parameters.minGain
            for (index, leaf) in leaves.enumerated() where leaf.split.isValid && leaf.split.gain > bestGain {
                bestIndex = index
                bestGain = leaf.split.gain
            }
            guard bestIndex >= 0 else { break }
            let leaf = leaves[bestIndex]
            let split = leaf.split
            // Partition the leaf's rows: left first, order kept (stable, hence deterministic).
            let feature = split.feature
            let missingBin = matrix.mappers[feature].missingBin
            var leftSet = [Bool](repeating: false, count: 256)
            for bin in split.leftBins { leftSet[bin] = true }
            let categorical = matrix.mappers[feature].isCategorical
            var leftEnd = leaf.range.lowerBound
            rows.withUnsafeMutableBufferPointer { rows in
                scratch.withUnsafeMutableBufferPointer { scratch in
                    matrix.bins[feature].withUnsafeBufferPointer { bins in
                        var rightCount = 0
                        for position in leaf.range {
                            let row = rows[position]
                            let bin = Int(bins[Int(row)])
                            let goLeft = categorical ? leftSet[bin]
                                : (bin == missingBin ? split.defaultLeft : bin <= split.thresholdBin)
                            if goLeft { rows[leftEnd] = row; leftEnd += 1 } else { scratch[rightCount] = row; rightCount += 1 }
                        }
                        for index in 0..<rightCount { rows[leftEnd + index] = scratch[index] }
                    }
                }
            }
            let leftRange = leaf.range.lowerBound..<leftEnd
            let rightRange = leftEnd..<leaf.range.upperBound

            let node = tree.feature.count
            tree.feature.append(Int32(feature))
            let mapper = matrix.mappers[feature]
            tree.threshold.append(categorical ? 0 : mapper.upperBounds[split.thresholdBin])
            tree.defaultLeft.append(categorical ? leftSet[missingBin] : split.defaultLeft)
            tree.leftCategories.append(categorical ? split.leftBins.filter { $0 != missingBin }.map(Int32.init) : [])
            tree.left.append(0)
            tree.right.append(0)
            thresholdBins.append(split.thresholdBin)
            leftBinSets.append(categorical ? leftSet : [])
            if let parent = leaf.parent {
                if parent.isLeft { tree.left[parent.node] = Int32(node) } else { tree.right[parent.node] = Int32(node) }
            }

            let depth = leaf.depth + 1
            let leftFeatures = chooseFeatures(&generator)
            let rightFeatures = subtract ? leftFeatures : chooseFeatures(&generator)
            let leftChild: Leaf, rightChild: Leaf
            if subtract, let parentHistogram = leaf.histogram {
                let smallIsLeft = leftRange.count <= rightRange.count
                let small = buildHistogram(smallIsLeft ? leftRange : rightRange, features: leftFeatures)
                var large = FeatureHistogram(layout: layout)
                large.subtract(parent: parentHistogram, sibling: small, features: leftFeatures)
                leftChild = makeLeaf(range: leftRange, depth: depth, histogram: smallIsLeft ? small : large,
                                     features: leftFeatures, parent: (node, true))
                rightChild = makeLeaf(range: rightRange, depth: depth, histogram: smallIsLeft ? large : small,
                                      features: rightFeatures, parent: (node, false))
            } else {
                leftChild = makeLeaf(range: leftRange, depth: depth, histogram: buildHistogram(leftRange, features: leftFeatures),
                                     features: leftFeatures, parent: (node, true))
                rightChild = makeLeaf(range: rightRange, depth: depth, histogram: buildHistogram(rightRange, features: rightFeatures),
                                      features: rightFeatures, parent: (node, false))
            }
            leaves[bestIndex] = leftChild
            leaves.append(rightChild)
            // Histograms of leaves that cannot split again are no longer needed.
            for index in [bestIndex, leaves.count - 1] where !leaves[index].split.isValid { leaves[index].histogram = nil }
        }

        // Leaves become values -G/(H+λ); link each to its parent node.
        var leafRanges: [Range<Int>] = []
        for (index, leaf) in leaves.enumerated() {
            // A leaf whose hessian sum cancelled to nothing (subtracted histograms) adds nothing.
            let denominator = leaf.sums[channels] + parameters.lambdaL2
            for c in 0..<channels {
                let value = denominator > 1e-12 ? -leaf.sums[c] / denominator : 0
                tree.leafValues.append(value.isFinite ? value : 0)
            }
            leafRanges.append(leaf.range)
            if let parent = leaf.parent {
                if parent.isLeft { tree.left[parent.node] = ~Int32(index) } else { tree.right[parent.node] = ~Int32(index) }
            }
        }
        return TreeFit(tree: tree, thresholdBins: thresholdBins, leftBinSets: leftBinSets, rows: rows, leafRanges: leafRanges)
    }

    @inline(__always) private func score(_ sums: UnsafePointer<Double>, hessian: Double) -> Double {
        var total = 0.0
        for c in 0..<layout.channels { total += sums[c] * sums[c] }
        return total / (hessian + parameters.lambdaL2)
    }

    private func bestSplit(histogram: FeatureHistogram, features: [Int], sums: [Double], salt: UInt64) -> SplitCandidate {
        let channels = layout.channels
        let stride = layout.stride
        let candidates: [SplitCandidate] = histogram.sums.withUnsafeBufferPointer { buffer in
            sums.withUnsafeBufferPointer { total in
                let parentScore = score(total.baseAddress!, hessian: total[channels])
                return features.map { feature in
                    let bins = UnsafeBufferPointer(rebasing: buffer[layout.offsets[feature]..<(layout.offsets[feature] + layout.binCounts[feature] * stride)])
                    if matrix.mappers[feature].isCategorical {
                        return categoricalSplit(feature: feature, bins: bins, total: total, parentScore: parentScore)
                    }
                    var only: Int?
                    if parameters.randomThresholds, matrix.mappers[feature].valueBins > 1 {
                        var mix = SeededGenerator(seed: salt ^ (UInt64(feature) &* 0xD6E8_FEB8_6659_FD93))
                        only = Int(mix.next() % UInt64(matrix.mappers[feature].valueBins - 1))
                    }
                    return numericSplit(feature: feature, bins: bins, total: total, parentScore: parentScore, only: only)
                }
            }
        }
        var best = SplitCandidate()
        for candidate in candidates where candidate.gain > best.gain { best = candidate }
        return best
    }

    private func allowed(leftHessian: Double, leftCount: Double, rightHessian: Double, rightCount: Double) -> Bool {
        leftCount >= Double(parameters.minDataInLeaf) && rightCount >= Double(parameters.minDataInLeaf)
            && leftHessian >= parameters.minSumHessian && rightHessian >= parameters.minSumHessian
    }

    /// The best threshold of a numeric feature (or the gain of threshold bin `only`).
    private func numericSplit(feature: Int, bins: UnsafeBufferPointer<Double>, total: UnsafeBufferPointer<Double>,
                              parentScore: Double, only: Int? = nil) -> SplitCandidate {
        let channels = layout.channels
        let stride = layout.stride
        let valueBins = matrix.mappers[feature].valueBins
        let missingBase = valueBins * stride
        let hasMissing = bins[missingBase + channels + 1] > 0
        var best = SplitCandidate()
        if channels == 1 {
            // The common boosting case, in scalars.
            let lambda = parameters.lambdaL2
            let (mg, mh, mn) = (bins[missingBase], bins[missingBase + 1], bins[missingBase + 2])
            var (gl, hl, nl) = (0.0, 0.0, 0.0)
            for bin in 0..<max(0, valueBins - 1) {
                let cell = bin * 3
                if bins[cell + 2] == 0 && bin != only { continue }
                gl += bins[cell]; hl += bins[cell + 1]; nl += bins[cell + 2]
                if let only, bin != only { continue }
                for pass in 0..<(hasMissing ? 2 : 1) {
                    let (g, h, n) = pass == 1 ? (gl + mg, hl + mh, nl + mn) : (gl, hl, nl)
                    let (gr, hr, nr) = (total[0] - g, total[1] - h, total[2] - n)
                    guard allowed(leftHessian: h, leftCount: n, rightHessian: hr, rightCount: nr) else { continue }
                    let gain = g * g / (h + lambda) + gr * gr / (hr + lambda) - parentScore
                    if gain > best.gain {
                        best = SplitCandidate(gain: gain, feature: feature, thresholdBin: bin,
                                              defaultLeft: hasMissing ? pass == 1 : n >= nr, leftBins: [], leftCount: n)
                    }
                }
            }
            return best
        }
        var left = [Double](repeating: 0, count: stride)
        var l = [Double](repeating: 0, count: stride)
        var r = [Double](repeating: 0, count: stride)
        for bin in 0..<max(0, valueBins - 1) {
            if bins[bin * stride + channels + 1] == 0 && bin != only { continue }
            for k in 0..<stride { left[k] += bins[bin * stride + k] }
            if let only, bin != only { continue }
            for pass in 0..<(hasMissing ? 2 : 1) {
                for k in 0..<stride {
                    l[k] = left[k] + (pass == 1 ? bins[missingBase + k] : 0)
                    r[k] = total[k] - l[k]
                }
                guard allowed(leftHessian: l[channels], leftCount: l[channels + 1],
                              rightHessian: r[channels], rightCount: r[channels + 1]) else { continue }
                let gain = l.withUnsafeBufferPointer { score($0.baseAddress!, hessian: $0[channels]) }
                    + r.withUnsafeBufferPointer { score($0.baseAddress!, hessian: $0[channels]) } - parentScore
                if gain > best.gain {
                    best = SplitCandidate(gain: gain, feature: feature, thresholdBin: bin,
                                          defaultLeft: hasMissing ? pass == 1 : l[channels + 1] >= r[channels + 1],
                                          leftBins: [], leftCount: l[channels + 1])
                }
            }
        }
        return best
    }

    private func categoricalSplit(feature: Int, bins: UnsafeBufferPointer<Double>, total: UnsafeBufferPointer<Double>,
                                  parentScore: Double) -> SplitCandidate {
        let channels = layout.channels
        let stride = layout.stride
        let binCount = matrix.mappers[feature].binCount
        let used = (0..<binCount).filter { bins[$0 * stride + channels + 1] > 0 }
        guard used.count >= 2 else { return SplitCandidate() }
        // One channel: order categories by gradient/hessian and cut the order (LightGBM's
        // many-vs-many split). Several channels: one category against the rest.
        var orders: [[Int]] = []
        if channels == 1 {
            let smoothing = parameters.categoricalSmoothing
            orders = [used.sorted { a, b in
                let ra = bins[a * stride] / (bins[a * stride + 1] + smoothing)
                let rb = bins[b * stride] / (bins[b * stride + 1] + smoothing)
                return ra != rb ? ra < rb : a < b
            }]
        } else {
            orders = used.map { first in [first] + used.filter { $0 != first } }
        }
        var best = SplitCandidate()
        var right = [Double](repeating: 0, count: stride)
        for order in orders {
            var left = [Double](repeating: 0, count: stride)
            let cuts = channels == 1 ? order.count - 1 : 1
            for cut in 0..<cuts {
                let bin = order[cut]
                for k in 0..<stride { left[k] += bins[bin * stride + k] }
                for k in 0..<stride { right[k] = total[k] - left[k] }
                guard allowed(leftHessian: left[channels], leftCount: left[channels + 1],
                              rightHessian: right[channels], rightCount: right[channels + 1]) else { continue }
                let gain = left.withUnsafeBufferPointer { score($0.baseAddress!, hessian: left[channels]) }
                    + right.withUnsafeBufferPointer { score($0.baseAddress!, hessian: right[channels]) } - parentScore
                if gain > best.gain {
                    best = SplitCandidate(gain: gain, feature: feature, thresholdBin: 0, defaultLeft: false,
                                          leftBins: Array(order[0...cut]).sorted(), leftCount: left[channels + 1])
                }
            }
        }
        return best
    }
}
