import Foundation

/// What a dataset's features say about its target, computed in one streaming pass: exact
/// counts (target distribution, outliers) over every row, associations over a uniform
/// reservoir sample of at most `sampleLimit` rows, so memory is bounded by the sample
/// (about 8 bytes × sample rows × columns) whatever the file's size.
public struct DatasetAnalysis: Codable, Sendable {
    public struct Feature: Codable, Sendable {
        public let name: String
        /// `numeric` or `categorical`, as the learners see it.
        public let type: String
        /// Mutual information with the target in nats (plug-in estimate over quantile bins for
        /// numbers, categories as they are, missing values as a bin of their own).
        public let mutualInformation: Double
        /// Numeric feature and numeric (or binary) target, over rows where both are present.
        public let pearson: Double?
        public let spearman: Double?
        /// Categorical feature and classification target.
        public let cramersV: Double?
        public let missing: Int

        enum CodingKeys: String, CodingKey {
            case name, type, pearson, spearman, missing
            case mutualInformation = "mutual_information", cramersV = "cramers_v"
        }
    }

    public struct Pair: Codable, Sendable {
        public let a: String
        public let b: String
        /// `pearson` for two numeric features, `cramers_v` for two categorical ones.
        public let measure: String
        public let value: Double
    }

    public struct Bin: Codable, Sendable {
        public let low: Double
        public let high: Double
        public let count: Int
    }

    public struct TargetDistribution: Codable, Sendable {
        /// Classification: each class with its count, most frequent first.
        public let classes: [ValueCount]?
        /// The most frequent class's count over the least frequent's.
        public let imbalanceRatio: Double?
        /// Regression: 20 equal-width bins between the minimum and the maximum.
        public let histogram: [Bin]?
        public let min: Double?
        public let max: Double?
        public let mean: Double?
        public let std: Double?

        enum CodingKeys: String, CodingKey {
            case classes, histogram, min, max, mean, std
            case imbalanceRatio = "imbalance_ratio"
        }
    }

    public struct OutlierCount: Codable, Sendable {
        public let name: String
        public let count: Int
        public let share: Double
        /// Values outside [low, high] count.
        public let low: Double
        public let high: Double
    }

    public struct Outliers: Codable, Sendable {
        public let method: String
        public let columns: [OutlierCount]
    }

    public let target: String
    public let task: TaskType
    /// Rows with a target (rows without one are left out of everything).
    public let rows: Int
    public let rowsUsed: Int
    public let sampled: Bool
    /// How the figures were computed, in words.
    public let method: String
    /// Strongest association first (mutual information).
    public let features: [Feature]
    public let pairs: [Pair]
    public let targetDistribution: TargetDistribution
    public let outliers: Outliers
    public let seconds: Double

    enum CodingKeys: String, CodingKey {
        case target, task, rows, sampled, method, features, pairs, outliers, seconds
        case rowsUsed = "rows_used", targetDistribution = "target_distribution"
    }

    public static let defaultSampleLimit = 50_000
    static let quantileBins = 16
    static let maxCodes = 255
    static let pairCount = 10

    /// Reads the CSV once. The profile says which columns are features and how to read them.
    public static func analyse(path: String, profile: DatasetProfile, sampleLimit: Int = defaultSampleLimit,
                               seed: UInt64 = 0) throws -> DatasetAnalysis {
        let start = ContinuousClock.now
        let table = try CSVTable(path: path)
        guard let targetIndex = table.header.firstIndex(of: profile.targetColumn) else {
            throw ProfileError.unknownTarget(profile.targetColumn, table.header)
        }
        let names = profile.features
        let indices = names.map { table.header.firstIndex(of: $0)! }
        let types = names.map { profile.column($0)?.dtype ?? .categorical }
        let specs = zip(names, types).map { FeatureSpec(name: $0, kind: $1 == .categorical ? .categorical : .numeric, source: $1, categories: nil) }
        let numeric = specs.map { $0.kind == .numeric }
        // Outlier bounds from the profile's mean and standard deviation (over every row).
        let bounds: [(low: Double, high: Double)?] = names.indices.map { slot in
            guard numeric[slot], types[slot] != .boolean, let column = profile.column(names[slot]),
                  let mean = column.mean, let std = column.std, std > 0 else { return nil }
            return (mean - 3 * std, mean + 3 * std)
        }
        let limit = max(1, sampleLimit)
        var sample = [[Double]](repeating: [], count: names.count)
        var sampleTarget: [Double] = []
        var codes = [[String: Int]](repeating: [:], count: names.count)
        var classCodes: [String: Int] = [:]
        var classCounts: [String: Int] = [:]
        var outlierCounts = [Int](repeating: 0, count: names.count)
        var missing = [Int](repeating: 0, count: names.count)
        var targetValues = (count: 0, sum: 0.0, squares: 0.0, min: Double.infinity, max: -Double.infinity)
        var histogram = [Int](repeating: 0, count: 20)
        let targetColumn = profile.column(profile.targetColumn)
        let histogramLow = targetColumn?.min ?? 0
        let histogramWidth = max(((targetColumn?.max ?? 1) - histogramLow) / 20, .leastNonzeroMagnitude)
        var generator = SeededGenerator(seed: seed &+ 17)
        var rows = 0

        func encode(_ slot: Int, _ raw: String) -> Double {
            if numeric[slot] { return specs[slot].encode(raw, lookup: nil) }
            if MissingValues.isMissing(raw) { return .nan }
            let key = Text.trim(raw)
            if let code = codes[slot][key] { return Double(code) }
            // Rare categories beyond the cap share one code ("other").
            guard codes[slot].count < maxCodes - 1 else { return Double(maxCodes - 1) }
            let code = codes[slot].count
            codes[slot][key] = code
            return Double(code)
        }
        func encodeTarget(_ label: String) -> Double? {
            if profile.taskType == .classification {
                if let code = classCodes[label] { return Double(code) }
                let code = classCodes.count
                classCodes[label] = code
                return Double(code)
            }
            return NumberParsing.double(label)
        }

        try table.forEachRow { row in
            let raw = row[targetIndex]
            if MissingValues.isMissing(raw) { return }
            let label = Text.trim(raw)
            if profile.taskType == .classification {
                classCounts[label, default: 0] += 1
            } else if let value = NumberParsing.double(label) {
                targetValues.count += 1
                targetValues.sum += value
                targetValues.squares += value * value
                targetValues.min = Swift.min(targetValues.min, value)
                targetValues.max = Swift.max(targetValues.max, value)
                histogram[Swift.min(19, Swift.max(0, Int((value - histogramLow) / histogramWidth)))] += 1
            } else {
                return
            }
            rows += 1
            for slot in names.indices {
                let value = row[indices[slot]]
                if MissingValues.isMissing(value) { missing[slot] += 1; continue }
                if let bound = bounds[slot] {
                    let number = specs[slot].encode(value, lookup: nil)
                    if number < bound.low || number > bound.high { outlierCounts[slot] += 1 }
                }
            }
            // Reservoir sampling (Algorithm R): each row ends in the sample with equal chance.
            var slotIndex = -1
            if sampleTarget.count < limit {
                slotIndex = sampleTarget.count
                sampleTarget.append(0)
                for slot in names.indices { sample[slot].append(.nan) }
            } else {
                let pick = Int(generator.next() % UInt64(rows))
                if pick < limit { slotIndex = pick }
            }
            guard slotIndex >= 0, let target = encodeTarget(label) else { return }
            sampleTarget[slotIndex] = target
            for slot in names.indices { sample[slot][slotIndex] = encode(slot, row[indices[slot]]) }
        }
        guard rows > 0 else { throw ProfileError.invalid("no row has a value in the target column '\(profile.targetColumn)'") }

        let n = sampleTarget.count
        let classification = profile.taskType == .classification
        if classification {
            // Class codes in the learners' order (numbers as numbers, else text), so that a
            // binary target's correlations are with its second class.
            let labels = classCodes.keys
            let numericLabels = labels.allSatisfy { NumberParsing.double($0) != nil }
            let sorted = numericLabels ? labels.sorted { NumberParsing.double($0)! < NumberParsing.double($1)! } : labels.sorted()
            var remap = [Double](repeating: 0, count: classCodes.count)
            for (rank, label) in sorted.enumerated() { remap[classCodes[label]!] = Double(rank) }
            sampleTarget = sampleTarget.map { remap[Int($0)] }
        }
        let targetBins = classification ? sampleTarget.map { Int($0) } : quantileCodes(sampleTarget)
        let targetNumeric = !classification || classCodes.count == 2
        var features: [Feature] = []
        for slot in names.indices {
            let column = sample[slot]
            let bins = numeric[slot] ? quantileCodes(column) : column.map { $0.isNaN ? -1 : Int($0) }
            let information = mutualInformation(bins, targetBins)
            var pearson: Double?
            var spearman: Double?
            var cramers: Double?
            if numeric[slot] && targetNumeric {
                let present = (0..<n).filter { !column[$0].isNaN }
                let x = present.map { column[$0] }
                let y = present.map { sampleTarget[$0] }
                pearson = correlation(x, y)
                spearman = correlation(Metrics.averageRanks(x), Metrics.averageRanks(y))
            }
            if !numeric[slot] && classification {
                cramers = cramersV(bins, targetBins)
            }
            features.append(Feature(name: names[slot], type: numeric[slot] ? "numeric" : "categorical", mutualInformation: information,
                                    pearson: pearson, spearman: spearman, cramersV: cramers, missing: missing[slot]))
        }
        features.sort { $0.mutualInformation != $1.mutualInformation ? $0.mutualInformation > $1.mutualInformation : $0.name < $1.name }

        // The strongest pairs among features of the same kind.
        var pairs: [Pair] = []
        let categoricalCodes = names.indices.map { numeric[$0] ? [] : sample[$0].map { $0.isNaN ? -1 : Int($0) } }
        for a in names.indices {
            for b in (a + 1)..<names.count where numeric[a] == numeric[b] {
                let value: Double?
                if numeric[a] {
                    let present = (0..<n).filter { !sample[a][$0].isNaN && !sample[b][$0].isNaN }
                    value = correlation(present.map { sample[a][$0] }, present.map { sample[b][$0] })
                } else {
                    value = cramersV(categoricalCodes[a], categoricalCodes[b])
                }
                if let value, value.isFinite {
                    pairs.append(Pair(a: names[a], b: names[b], measure: numeric[a] ? "pearson" : "cramers_v", value: value))
                }
            }
        }
        pairs.sort { abs($0.value) > abs($1.value) }

        let distribution: TargetDistribution
        if classification {
            let classes = classCounts.map { ValueCount(value: $0.key, count: $0.value) }
                .sorted { $0.count != $1.count ? $0.count > $1.count : $0.value < $1.value }
            distribution = TargetDistribution(classes: classes,
                                              imbalanceRatio: classes.last.map { Double(classes[0].count) / Double(Swift.max(1, $0.count)) },
                                              histogram: nil, min: nil, max: nil, mean: nil, std: nil)
        } else {
            let count = Double(targetValues.count)
            let mean = targetValues.sum / count
            let variance = Swift.max(0, targetValues.squares / count - mean * mean)
            distribution = TargetDistribution(
                classes: nil, imbalanceRatio: nil,
                histogram: histogram.enumerated().map { Bin(low: histogramLow + Double($0.offset) * histogramWidth,
                                                            high: histogramLow + Double($0.offset + 1) * histogramWidth, count: $0.element) },
                min: targetValues.min, max: targetValues.max, mean: mean, std: variance.squareRoot())
        }
        let outliers = Outliers(
            method: "values more than 3 standard deviations from the column's mean, over every row",
            columns: names.indices.compactMap { slot in
                bounds[slot].map { OutlierCount(name: names[slot], count: outlierCounts[slot],
                                                share: Double(outlierCounts[slot]) / Double(rows), low: $0.low, high: $0.high) }
            }.sorted { $0.count != $1.count ? $0.count > $1.count : $0.name < $1.name })
        let sampled = rows > n
        let method = (sampled ? "associations over a uniform random sample of \(n) of \(rows) rows (reservoir sampling, seed \(seed))"
                              : "associations over all \(rows) rows")
            + "; target distribution and outliers over every row; mutual information in nats over \(quantileBins) quantile bins for numbers"
        return DatasetAnalysis(target: profile.targetColumn, task: profile.taskType, rows: rows, rowsUsed: n, sampled: sampled,
                               method: method, features: features, pairs: Array(pairs.prefix(pairCount)),
                               targetDistribution: distribution, outliers: outliers,
                               seconds: TrainingBudget.seconds(ContinuousClock.now - start))
    }

    /// Equal-frequency bins (at most `quantileBins`, fewer when values repeat); NaN is -1.
    static func quantileCodes(_ values: [Double]) -> [Int] {
        let sorted = values.filter { !$0.isNaN }.sorted()
        guard !sorted.isEmpty else { return values.map { _ in -1 } }
        var edges: [Double] = []
        for k in 1..<quantileBins {
            let edge = sorted[Swift.min(sorted.count - 1, k * sorted.count / quantileBins)]
            if edges.last != edge { edges.append(edge) }
        }
        return values.map { value in
            if value.isNaN { return -1 }
            // The number of edges at or below the value.
            var low = 0, high = edges.count
            while low < high {
                let middle = (low + high) / 2
                if edges[middle] <= value { low = middle + 1 } else { high = middle }
            }
            return low
        }
    }

    /// The counts of two discrete codings, together and apart.
    struct Contingency {
        struct Pair: Hashable {
            let a: Int
            let b: Int
        }
        var joint: [Pair: Int] = [:]
        var left: [Int: Int] = [:]
        var right: [Int: Int] = [:]
        let n: Double

        init(_ x: [Int], _ y: [Int]) {
            n = Double(x.count)
            for (a, b) in zip(x, y) {
                joint[Pair(a: a, b: b), default: 0] += 1
                left[a, default: 0] += 1
                right[b, default: 0] += 1
            }
        }
    }

    /// Plug-in mutual information of two discrete codings, in nats.
    static func mutualInformation(_ x: [Int], _ y: [Int]) -> Double {
        let table = Contingency(x, y)
        guard table.n > 0 else { return 0 }
        var total = 0.0
        for (pair, count) in table.joint {
            total += Double(count) / table.n * log(Double(count) * table.n / (Double(table.left[pair.a]!) * Double(table.right[pair.b]!)))
        }
        return Swift.max(0, total)
    }

    /// Cramér's V of two discrete codings (missing, -1, as a category of its own).
    static func cramersV(_ x: [Int], _ y: [Int]) -> Double? {
        let table = Contingency(x, y)
        let k = Swift.min(table.left.count, table.right.count)
        guard table.n > 0, k > 1 else { return nil }
        var chi = 0.0
        for (a, na) in table.left {
            for (b, nb) in table.right {
                let expected = Double(na) * Double(nb) / table.n
                let observed = Double(table.joint[Contingency.Pair(a: a, b: b)] ?? 0)
                chi += (observed - expected) * (observed - expected) / expected
            }
        }
        return (chi / table.n / Double(k - 1)).squareRoot()
    }

    static func correlation(_ x: [Double], _ y: [Double]) -> Double? {
        let n = Double(x.count)
        guard x.count >= 3 else { return nil }
        let mx = x.reduce(0, +) / n
        let my = y.reduce(0, +) / n
        var sxy = 0.0, sxx = 0.0, syy = 0.0
        for i in x.indices {
            let dx = x[i] - mx, dy = y[i] - my
            sxy += dx * dy
            sxx += dx * dx
            syy += dy * dy
        }
        guard sxx > 0, syy > 0 else { return nil }
        return sxy / (sxx * syy).squareRoot()
    }
}
