import Foundation

/// A fitted decision tree over encoded features (numbers, category codes, NaN for missing).
/// Children below zero are leaves: `~child` is the leaf index. Each leaf holds `channels`
/// values (one for boosting and regression forests, one per class for classification forests).
public struct DecisionTree: Codable, Sendable, Equatable {
    public var feature: [Int32]
    /// Numeric nodes: a value goes left when `value <= threshold`.
    public var threshold: [Double]
    /// Where missing values (and categories never seen in training) go.
    public var defaultLeft: [Bool]
    /// Categorical nodes: the category codes that go left; empty for numeric nodes.
    public var leftCategories: [[Int32]]
    public var left: [Int32]
    public var right: [Int32]
    public var leafValues: [Double]
    public var channels: Int

    enum CodingKeys: String, CodingKey {
        case feature, threshold, channels
        case defaultLeft = "default_left", leftCategories = "left_categories"
        case left, right, leafValues = "leaf_values"
    }

    public var nodeCount: Int { feature.count }
    public var leafCount: Int { leafValues.count / max(channels, 1) }

    /// The leaf a row of encoded values falls into.
    @inline(__always) func leaf(_ value: (Int) -> Double) -> Int {
        if feature.isEmpty { return 0 }
        var node = 0
        while true {
            let x = value(Int(feature[node]))
            let goLeft: Bool
            if x.isNaN {
                goLeft = defaultLeft[node]
            } else if !leftCategories[node].isEmpty {
                goLeft = leftCategories[node].contains(Int32(x))
            } else {
                goLeft = x <= threshold[node]
            }
            let next = goLeft ? left[node] : right[node]
            if next < 0 { return Int(~next) }
            node = Int(next)
        }
    }
}

/// Deterministic pseudo-random numbers (SplitMix64): the same seed gives the same model.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func unit() -> Double { Double(next() >> 11) * 0x1.0p-53 }
}
