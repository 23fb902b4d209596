/// Per-bin sums of one leaf's rows, for every feature: `channels` gradient sums, the hessian
/// sum and the row count per bin (LightGBM's feature histogram). A child's histogram is its
/// parent's minus its sibling's, so only the smaller child is ever built from rows.
struct FeatureHistogram {
    let layout: HistogramLayout
    var sums: [Double]

    init(layout: HistogramLayout) {
        self.layout = layout
        sums = [Double](repeating: 0, count: layout.total)
    }

    /// Adds `rows` (indices into the gradient arrays) for the given features.
    mutating func build(matrix: BinnedMatrix, rows: UnsafeBufferPointer<Int32>, gradients: UnsafeBufferPointer<Double>,
                        hessians: UnsafeBufferPointer<Double>?, features: [Int], parallel: Bool) {
        let layout = self.layout
        let channels = layout.channels
        let stride = layout.stride
        sums.withUnsafeMutableBufferPointer { buffer in
            let base = UncheckedBox(buffer.baseAddress!)
            Parallel.forEach(features.count, serial: !parallel) { slot in
                let feature = features[slot]
                let histogram = base.value + layout.offsets[feature]
                matrix.bins[feature].withUnsafeBufferPointer { bins in
                    if channels == 1, let hessians {
                        for row in rows {
                            let r = Int(row)
                            let cell = histogram + Int(bins[r]) &* 3
                            cell[0] += gradients[r]
                            cell[1] += hessians[r]
                            cell[2] += 1
                        }
                    } else {
                        for row in rows {
                            let r = Int(row)
                            let cell = histogram + Int(bins[r]) &* stride
                            let g = r &* channels
                            for c in 0..<channels { cell[c] += gradients[g &+ c] }
                            cell[channels] += hessians?[r] ?? 1
                            cell[channels + 1] += 1
                        }
                    }
                }
            }
        }
    }

    /// self = parent - sibling, for the given features.
    mutating func subtract(parent: FeatureHistogram, sibling: FeatureHistogram, features: [Int]) {
        for feature in features {
            let start = layout.offsets[feature]
            let end = start + layout.binCounts[feature] * layout.stride
            for index in start..<end { sums[index] = parent.sums[index] - sibling.sums[index] }
        }
    }
}

/// Where each feature's bins start in a histogram.
struct HistogramLayout: Sendable {
    let channels: Int
    let stride: Int
    let offsets: [Int]
    let binCounts: [Int]
    let total: Int

    init(matrix: BinnedMatrix, channels: Int) {
        self.channels = channels
        stride = channels + 2
        binCounts = matrix.mappers.map(\.binCount)
        var offsets: [Int] = []
        var total = 0
        for count in binCounts {
            offsets.append(total)
            total += count * (channels + 2)
        }
        self.offsets = offsets
        self.total = total
    }
}
