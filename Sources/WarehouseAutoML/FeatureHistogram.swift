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
        if channels == 1, let hessians {
            buildRowWise(matrix: matrix, rows: rows, gradients: gradients, hessians: hessians, features: features, parallel: parallel)
            return
        }
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

    /// One pass over the rows updates every feature's histogram (LightGBM's row-wise mode):
    /// a row's gradient and hessian are loaded once and its bins are contiguous. With two
    /// cores, each half of the rows goes into its own histogram and the halves are added.
    private mutating func buildRowWise(matrix: BinnedMatrix, rows: UnsafeBufferPointer<Int32>, gradients: UnsafeBufferPointer<Double>,
                                       hessians: UnsafeBufferPointer<Double>, features: [Int], parallel: Bool) {
        let width = matrix.featureCount
        let offsets = features.map { layout.offsets[$0] }
        let parts = parallel && rows.count >= 4096 ? Parallel.cores : 1
        let chunk = (rows.count + parts - 1) / parts
        let total = layout.total
        let partials: [[Double]] = matrix.rowMajor.withUnsafeBufferPointer { binsBuffer in
            let context = UncheckedBox(RowWiseInput(bins: binsBuffer.baseAddress!, rows: rows, gradients: gradients,
                                                    hessians: hessians, width: width))
            return Parallel.map(parts, serial: parts == 1) { part in
                var histogram = [Double](repeating: 0, count: total)
                let start = part * chunk, end = min(rows.count, start + chunk)
                if start < end {
                    histogram.withUnsafeMutableBufferPointer { histogram in
                        Self.accumulate(into: histogram.baseAddress!, positions: start..<end, input: context.value,
                                        features: features, offsets: offsets)
                    }
                }
                return histogram
            }
        }
        sums = partials[0]
        for part in partials.dropFirst() { for index in 0..<total { sums[index] += part[index] } }
        // Row counts per bin, estimated from hessians as LightGBM does (exact when every
        // hessian is 1, as for squared error): count = hessian × rows / Σ hessian.
        let first = layout.offsets[features[0]]
        var hessianTotal = 0.0
        for bin in 0..<layout.binCounts[features[0]] { hessianTotal += sums[first + bin * 3 + 1] }
        let factor = hessianTotal > 0 ? Double(rows.count) / hessianTotal : 0
        for feature in features {
            let start = layout.offsets[feature]
            for bin in 0..<layout.binCounts[feature] {
                let cell = start + bin * 3
                sums[cell + 2] = sums[cell + 1] * factor
            }
        }
    }

    struct RowWiseInput {
        let bins: UnsafePointer<UInt8>
        let rows: UnsafeBufferPointer<Int32>
        let gradients: UnsafeBufferPointer<Double>
        let hessians: UnsafeBufferPointer<Double>
        let width: Int
    }

    /// The row-wise inner loop. Rows of a deep leaf are scattered, so a block's gradients are
    /// gathered and its bins touched first (many independent cache misses in flight), then the
    /// block is added into the histograms from cache.
    private static func accumulate(into histogram: UnsafeMutablePointer<Double>, positions: Range<Int>, input: RowWiseInput,
                                   features: [Int], offsets: [Int]) {
        let block = 64
        let pairs = UnsafeMutablePointer<SIMD2<Double>>.allocate(capacity: block)
        let slotFeatures = UnsafeMutablePointer<Int>.allocate(capacity: features.count)
        let slotOffsets = UnsafeMutablePointer<Int>.allocate(capacity: features.count)
        defer {
            pairs.deallocate()
            slotFeatures.deallocate()
            slotOffsets.deallocate()
        }
        for index in features.indices {
            slotFeatures[index] = features[index]
            slotOffsets[index] = offsets[index]
        }
        let count = features.count
        let bins = input.bins
        let width = input.width
        var touched = 0
        var blockStart = positions.lowerBound
        while blockStart < positions.upperBound {
            let blockEnd = min(positions.upperBound, blockStart + block)
            var slot = 0
            for position in blockStart..<blockEnd {
                let row = Int(input.rows[position])
                pairs[slot] = SIMD2(input.gradients[row], input.hessians[row])
                touched &+= Int(bins[row &* width]) &+ Int(bins[row &* width &+ width &- 1])
                slot &+= 1
            }
            slot = 0
            for position in blockStart..<blockEnd {
                let rowBins = bins + Int(input.rows[position]) &* width
                let pair = pairs[slot]
                slot &+= 1
                for index in 0..<count {
                    // (gradient, hessian) as one 16-byte add; counts come afterwards.
                    let cell = UnsafeMutableRawPointer(histogram + (slotOffsets[index] &+ Int(rowBins[slotFeatures[index]]) &* 3))
                    cell.storeBytes(of: cell.loadUnaligned(as: SIMD2<Double>.self) + pair, as: SIMD2<Double>.self)
                }
            }
            blockStart = blockEnd
        }
        if touched == Int.min { histogram[0] += 0 }  // keeps the touching loads
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
