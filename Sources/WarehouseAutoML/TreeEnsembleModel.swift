import Foundation

/// A fitted tree ensemble: gradient boosting (leaves add up, then a link function) or a
/// random forest (leaves average).
public struct TreeEnsembleModel: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        case gradientBoosting = "gradient_boosting"
        case randomForest = "random_forest"
    }
    public enum Objective: String, Codable, Sendable {
        case regression, binary, multiclass
    }

    public var kind: Kind
    public var objective: Objective
    /// Outputs per row: 1 for regression and binary boosting, the class count otherwise.
    public var outputs: Int
    /// Boosting: the starting raw score per output. Forests: unused (empty).
    public var baseScores: [Double]
    /// Boosting: tree i adds to output `i % outputs`; forests: every tree gives all outputs.
    public var trees: [DecisionTree]
    public var learningRate: Double

    enum CodingKeys: String, CodingKey {
        case kind, objective, outputs, trees
        case baseScores = "base_scores", learningRate = "learning_rate"
    }

    /// Raw outputs (before the link function for boosting): n × outputs, row-major.
    func rawScores(_ rows: EncodedRows) -> [Double] {
        let compiled = CompiledTrees(trees)
        let outputs = self.outputs
        var result = [Double](repeating: 0, count: rows.count * outputs)
        let isForest = kind == .randomForest
        result.withUnsafeMutableBufferPointer { out in
            let base = UncheckedBox(out.baseAddress!)
            let blockSize = 512
            let blocks = (rows.count + blockSize - 1) / blockSize
            Parallel.forEach(blocks, serial: rows.count * trees.count < 200_000) { block in
                let range = (block * blockSize)..<min(rows.count, (block + 1) * blockSize)
                let values = rows.rowMajor(range)
                let width = rows.featureCount
                values.withUnsafeBufferPointer { values in
                    for (local, row) in range.enumerated() {
                        let x = values.baseAddress! + local * width
                        let target = base.value + row * outputs
                        if isForest {
                            for tree in 0..<compiled.count { compiled.addLeaf(tree: tree, row: x, into: target, outputs: outputs) }
                        } else {
                            for k in 0..<outputs { target[k] = baseScores[k] }
                            var k = 0
                            for tree in 0..<compiled.count {
                                target[k] += compiled.leafValue(tree: tree, row: x)
                                k += 1
                                if k == outputs { k = 0 }
                            }
                        }
                    }
                }
            }
        }
        if isForest && !trees.isEmpty {
            let scale = 1 / Double(trees.count)
            for index in result.indices { result[index] *= scale }
        }
        return result
    }

    /// Probabilities (classification) or values (regression), n × width, row-major.
    func predict(_ rows: EncodedRows) -> Prediction {
        var raw = rawScores(rows)
        switch (kind, objective) {
        case (.gradientBoosting, .binary):
            var out = [Double](repeating: 0, count: rows.count * 2)
            for row in 0..<rows.count {
                let p = Link.sigmoid(raw[row])
                out[row * 2] = 1 - p
                out[row * 2 + 1] = p
            }
            return Prediction(values: out, width: 2)
        case (.gradientBoosting, .multiclass):
            Link.softmaxRows(&raw, width: outputs)
            return Prediction(values: raw, width: outputs)
        case (.randomForest, .binary), (.randomForest, .multiclass):
            return Prediction(values: raw, width: outputs)
        default:
            return Prediction(values: raw, width: 1)
        }
    }
}

/// Probabilities (n × classes) or regression values (n × 1), row-major.
public struct Prediction: Sendable, Equatable {
    public var values: [Double]
    public var width: Int
    public var count: Int { width == 0 ? 0 : values.count / width }

    public subscript(row: Int, column: Int) -> Double { values[row * width + column] }

    public func row(_ index: Int) -> ArraySlice<Double> { values[(index * width)..<((index + 1) * width)] }

    /// The most probable class per row (ties: the lower index).
    public func argmax() -> [Int] {
        (0..<count).map { row in
            var best = 0
            for column in 1..<width where values[row * width + column] > values[row * width + best] { best = column }
            return best
        }
    }

    static func weightedSum(_ parts: [(Double, Prediction)]) -> Prediction {
        var values = [Double](repeating: 0, count: parts[0].1.values.count)
        for (weight, part) in parts where weight != 0 {
            for index in values.indices { values[index] += weight * part.values[index] }
        }
        return Prediction(values: values, width: parts[0].1.width)
    }
}

enum Link {
    @inline(__always) static func sigmoid(_ x: Double) -> Double { 1 / (1 + exp(-x)) }

    static func softmaxRows(_ values: inout [Double], width: Int) {
        let rows = values.count / width
        for row in 0..<rows {
            let start = row * width
            var maximum = -Double.infinity
            for k in 0..<width { maximum = max(maximum, values[start + k]) }
            var sum = 0.0
            for k in 0..<width {
                values[start + k] = exp(values[start + k] - maximum)
                sum += values[start + k]
            }
            for k in 0..<width { values[start + k] /= sum }
        }
    }
}

/// Encoded feature values, column-major as the learners hold them.
public struct EncodedRows: Sendable {
    public let columns: [[Double]]
    public let count: Int
    public var featureCount: Int { columns.count }

    public init(columns: [[Double]], count: Int) {
        self.columns = columns
        self.count = count
    }

    func rowMajor(_ range: Range<Int>) -> [Double] {
        let width = columns.count
        var out = [Double](repeating: 0, count: range.count * width)
        for (f, column) in columns.enumerated() {
            var index = f
            for row in range {
                out[index] = column[row]
                index += width
            }
        }
        return out
    }
}

/// Trees flattened into one node array for fast prediction.
struct CompiledTrees {
    struct Node {
        var feature: Int32
        var left: Int32       // absolute node index, or ~leaf (absolute leaf index)
        var right: Int32
        var defaultLeft: Bool
        var categorySet: Int32 // -1 numeric, else index of its category bitset
        var threshold: Double
    }
    var nodes: [Node] = []
    var roots: [Int32] = []        // node index, or ~leaf for a single-leaf tree
    var leafValues: [Double] = []  // all trees' leaves, `channels` each
    var categorySets: [[UInt64]] = []
    var channels: Int = 1
    var count: Int { roots.count }

    init(_ trees: [DecisionTree]) {
        channels = trees.first?.channels ?? 1
        for tree in trees {
            let nodeBase = Int32(nodes.count)
            let leafBase = Int32(leafValues.count / channels)
            func remap(_ child: Int32) -> Int32 { child < 0 ? ~(leafBase + ~child) : nodeBase + child }
            roots.append(tree.nodeCount == 0 ? ~leafBase : nodeBase)
            for node in 0..<tree.nodeCount {
                var set: Int32 = -1
                if !tree.leftCategories[node].isEmpty {
                    var bits = [UInt64](repeating: 0, count: 4)
                    for code in tree.leftCategories[node] where code >= 0 && code < 256 { bits[Int(code) >> 6] |= 1 << UInt64(code & 63) }
                    set = Int32(categorySets.count)
                    categorySets.append(bits)
                }
                nodes.append(Node(feature: tree.feature[node], left: remap(tree.left[node]), right: remap(tree.right[node]),
                                  defaultLeft: tree.defaultLeft[node], categorySet: set, threshold: tree.threshold[node]))
            }
            leafValues.append(contentsOf: tree.leafValues)
        }
    }

    @inline(__always) func leafIndex(tree: Int, row x: UnsafePointer<Double>) -> Int {
        var current = roots[tree]
        return nodes.withUnsafeBufferPointer { nodes in
            while current >= 0 {
                let node = nodes[Int(current)]
                let value = x[Int(node.feature)]
                let goLeft: Bool
                if value.isNaN {
                    goLeft = node.defaultLeft
                } else if node.categorySet >= 0 {
                    let code = Int(value)
                    goLeft = code >= 0 && code < 256 && categorySets[Int(node.categorySet)][code >> 6] & (1 << UInt64(code & 63)) != 0
                } else {
                    goLeft = value <= node.threshold
                }
                current = goLeft ? node.left : node.right
            }
            return Int(~current)
        }
    }

    @inline(__always) func leafValue(tree: Int, row: UnsafePointer<Double>) -> Double {
        leafValues[leafIndex(tree: tree, row: row)]
    }

    @inline(__always) func addLeaf(tree: Int, row: UnsafePointer<Double>, into target: UnsafeMutablePointer<Double>, outputs: Int) {
        let leaf = leafIndex(tree: tree, row: row) * channels
        for k in 0..<outputs { target[k] += leafValues[leaf + k] }
    }
}
