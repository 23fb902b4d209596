import Foundation

/// Maps one feature's values to at most 255 bins: value bins, then one bin for missing.
/// Numeric bins end at midpoints between distinct training values (quantiles when there are
/// more than 254 of them); categorical bins are the category codes.
struct BinMapper: Sendable {
    /// Numeric: ascending upper bounds, the last one +infinity. Empty for categorical.
    let upperBounds: [Double]
    let isCategorical: Bool
    /// Number of value bins; the missing bin is this index.
    let valueBins: Int
    var missingBin: Int { valueBins }
    var binCount: Int { valueBins + 1 }

    static let maxValueBins = 254

    init(values: [Double], isCategorical: Bool, categoryCount: Int, maxBins: Int = maxValueBins) {
        self.isCategorical = isCategorical
        if isCategorical {
            upperBounds = []
            valueBins = max(1, categoryCount)
            return
        }
        var present = values.filter { !$0.isNaN }
        if present.count > 200_000 {
            // A deterministic stride sample is enough to place quantiles.
            let step = Double(present.count) / 200_000
            present = (0..<200_000).map { present[Int(Double($0) * step)] }
        }
        present.sort()
        var distinct: [Double] = []
        var counts: [Int] = []
        for value in present {
            if let last = distinct.last, last == value { counts[counts.count - 1] += 1 } else {
                distinct.append(value)
                counts.append(1)
            }
        }
        var bounds: [Double] = []
        if distinct.count <= maxBins {
            for index in 0..<max(0, distinct.count - 1) { bounds.append((distinct[index] + distinct[index + 1]) / 2) }
        } else {
            // Greedy equal-frequency bins over the distinct values.
            let perBin = Double(present.count) / Double(maxBins)
            var filled = 0
            var target = perBin
            for index in 0..<(distinct.count - 1) {
                filled += counts[index]
                if Double(filled) >= target {
                    bounds.append((distinct[index] + distinct[index + 1]) / 2)
                    target = Double(filled) + perBin
                    if bounds.count == maxBins - 1 { break }
                }
            }
        }
        bounds.append(.infinity)
        upperBounds = bounds
        valueBins = bounds.count
    }

    @inline(__always) func bin(_ value: Double) -> UInt8 {
        if value.isNaN { return UInt8(missingBin) }
        if isCategorical {
            let code = Int(value)
            return code >= 0 && code < valueBins ? UInt8(code) : UInt8(missingBin)
        }
        var low = 0, high = upperBounds.count - 1
        while low < high {
            let mid = (low + high) >> 1
            if value <= upperBounds[mid] { high = mid } else { low = mid + 1 }
        }
        return UInt8(low)
    }
}

/// The features of a set of rows as bins, column-major (for partitioning rows by one feature)
/// and row-major (for building a leaf's histograms of every feature in one pass over its rows).
struct BinnedMatrix: Sendable {
    let mappers: [BinMapper]
    let bins: [[UInt8]]
    let rowMajor: [UInt8]
    let rowCount: Int
    var featureCount: Int { mappers.count }

    static func rowMajor(_ bins: [[UInt8]], rowCount: Int) -> [UInt8] {
        let width = bins.count
        var out = [UInt8](repeating: 0, count: rowCount * width)
        out.withUnsafeMutableBufferPointer { out in
            for (feature, column) in bins.enumerated() {
                column.withUnsafeBufferPointer { column in
                    var index = feature
                    for row in 0..<rowCount {
                        out[index] = column[row]
                        index &+= width
                    }
                }
            }
        }
        return out
    }

    static func mappers(for table: TrainingTable) -> [BinMapper] {
        Parallel.map(table.features.count) { index in
            let spec = table.features[index]
            return BinMapper(values: table.columns[index], isCategorical: spec.kind == .categorical,
                             categoryCount: spec.categories?.count ?? 0)
        }
    }

    init(table: TrainingTable, mappers: [BinMapper]) {
        self.mappers = mappers
        rowCount = table.rowCount
        bins = Parallel.map(mappers.count) { feature in
            let mapper = mappers[feature]
            let column = table.columns[feature]
            return [UInt8](unsafeUninitializedCapacity: column.count) { buffer, count in
                for row in 0..<column.count { buffer[row] = mapper.bin(column[row]) }
                count = column.count
            }
        }
        rowMajor = Self.rowMajor(bins, rowCount: rowCount)
    }
}

/// Runs loop bodies on both cores when there is enough work; deterministic because each
/// iteration writes only its own slot.
enum Parallel {
    static let cores = max(1, ProcessInfo.processInfo.activeProcessorCount)

    static func forEach(_ count: Int, serial: Bool = false, _ body: (Int) -> Void) {
        if serial || count < 2 || cores == 1 {
            for index in 0..<count { body(index) }
        } else {
            withoutActuallyEscaping(body) { body in
                let box = UncheckedBox(body)
                DispatchQueue.concurrentPerform(iterations: count) { box.value($0) }
            }
        }
    }
}

extension Parallel {
    /// `body` for each index, run like `forEach`, results in index order.
    static func map<T>(_ count: Int, serial: Bool = false, _ body: (Int) -> T) -> [T] {
        let results = UnsafeMutablePointer<T?>.allocate(capacity: max(count, 1))
        results.initialize(repeating: nil, count: count)
        defer {
            results.deinitialize(count: count)
            results.deallocate()
        }
        let slots = UncheckedBox(results)
        forEach(count, serial: serial) { slots.value[$0] = body($0) }
        return (0..<count).map { results[$0]! }
    }
}

/// Carries a non-Sendable closure into `concurrentPerform`, whose iterations touch disjoint data.
struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

extension BinnedMatrix {
    private init(mappers: [BinMapper], bins: [[UInt8]], rowCount: Int) {
        self.mappers = mappers
        self.bins = bins
        self.rowCount = rowCount
        rowMajor = Self.rowMajor(bins, rowCount: rowCount)
    }

    /// The rows at `indices`, in that order.
    func subset(_ indices: [Int]) -> BinnedMatrix {
        BinnedMatrix(mappers: mappers, bins: bins.map { column in indices.map { column[$0] } }, rowCount: indices.count)
    }
}
