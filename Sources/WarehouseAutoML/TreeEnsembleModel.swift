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

    /// Raw outputs (before the link function for boosting): n × outputs, row-major. Rows go
    /// in blocks; each tree walks the whole block before the next tree, so the tree stays in
    /// cache and the walks of different rows overlap in the CPU.
    func rawScores(_ rows: EncodedRows) -> [Double] {
        let compiled = CompiledTrees(trees)
        let outputs = self.outputs
        var result = [Double](repeating: 0, count: rows.count * outputs)
        let isForest = kind == .randomForest
        let base = baseScores
        result.withUnsafeMutableBufferPointer { out in
            let target = UncheckedBox(out.baseAddress!)
            let blockSize = 64
            let blocks = (rows.count + blockSize - 1) / blockSize
            Parallel.forEach(blocks, serial: rows.count * max(trees.count, 1) < 100_000) { block in
                let range = (block * blockSize)..<min(rows.count, (block + 1) * blockSize)
                let values = rows.rowMajor(range)
                values.withUnsafeBufferPointer { values in
                    let scores = target.value + range.lowerBound * outputs
                    if !isForest {
                        for local in 0..<range.count { for k in 0..<outputs { scores[local * outputs + k] = base[k] } }
                    }
                    compiled.accumulate(rows: values.baseAddress!, count: range.count, width: rows.featureCount,
                                        into: scores, outputs: outputs, perTreeOutput: !isForest,
                                        anyMissing: values.contains { $0.isNaN })
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
            return Prediction(values: Link.binaryProbabilities(raw), width: 2)
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

    /// Two-class probabilities for raw scores, as the softmax of [0, raw]: mathematically
    /// [1 - sigmoid, sigmoid], but neither probability loses precision when the other nears 1,
    /// and it is exactly what the exported ONNX graph computes.
    static func binaryProbabilities(_ raw: [Double]) -> [Double] {
        var logits = [Double](repeating: 0, count: raw.count * 2)
        for (row, value) in raw.enumerated() { logits[row * 2 + 1] = value }
        softmaxRows(&logits, width: 2)
        return logits
    }

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

/// Trees flattened into arrays for fast prediction. Leaves are nodes too, whose children are
/// themselves, so every walk takes exactly its tree's depth in steps: no exit branch to
/// mispredict, and four rows walk side by side so their memory loads overlap. A step picks
/// the child with arithmetic (`children[2 * node + goesRight]`) instead of a branch.
struct CompiledTrees {
    var feature: [Int32] = []
    var threshold: [Double] = []
    /// 1 when a missing value goes right.
    var missingRight: [Int] = []
    /// -1 for numeric nodes, else the index of the node's category bitset.
    var categorySet: [Int32] = []
    var children: [Int32] = []
    /// For leaf nodes: the index of their first value in `leafValues`.
    var leafIndex: [Int32] = []
    var roots: [Int32] = []
    var depths: [Int] = []
    /// Node index of each tree's first leaf (a tree's leaves follow its inner nodes).
    var leafStarts: [Int] = []
    var leafValues: [Double] = []
    var categorySets: [UInt64] = []
    var channels: Int = 1
    var hasCategorical = false
    var count: Int { roots.count }

    /// What a numeric step reads, in one 24-byte record: threshold, feature, children.
    struct PackedNode {
        var threshold: Double
        var feature: Int32
        var missingRight: Int32
        var left: Int32
        var right: Int32
    }
    var packed: [PackedNode] = []

    init(_ trees: [DecisionTree]) {
        channels = trees.first?.channels ?? 1
        for tree in trees {
            let nodeBase = Int32(feature.count)
            let leafNodeBase = nodeBase + Int32(tree.nodeCount)
            let leafBase = Int32(leafValues.count / channels)
            func remap(_ child: Int32) -> Int32 { child < 0 ? leafNodeBase + ~child : nodeBase + child }
            roots.append(tree.nodeCount == 0 ? leafNodeBase : nodeBase)
            leafStarts.append(Int(leafNodeBase))
            for node in 0..<tree.nodeCount {
                var set: Int32 = -1
                if !tree.leftCategories[node].isEmpty {
                    var bits = [UInt64](repeating: 0, count: 4)
                    for code in tree.leftCategories[node] where code >= 0 && code < 256 { bits[Int(code) >> 6] |= 1 << UInt64(code & 63) }
                    set = Int32(categorySets.count / 4)
                    categorySets.append(contentsOf: bits)
                    hasCategorical = true
                }
                feature.append(tree.feature[node])
                threshold.append(tree.threshold[node])
                missingRight.append(tree.defaultLeft[node] ? 0 : 1)
                categorySet.append(set)
                children.append(remap(tree.left[node]))
                children.append(remap(tree.right[node]))
                leafIndex.append(-1)
            }
            for leaf in 0..<tree.leafCount {
                let me = leafNodeBase + Int32(leaf)
                feature.append(0)
                threshold.append(.infinity)  // nothing is greater: stays left, which is itself
                missingRight.append(0)
                categorySet.append(-1)
                children.append(me)
                children.append(me)
                leafIndex.append(leafBase + Int32(leaf))
            }
            depths.append(Self.depth(tree))
            leafValues.append(contentsOf: tree.leafValues)
        }
        packed = feature.indices.map {
            PackedNode(threshold: threshold[$0], feature: feature[$0], missingRight: Int32(missingRight[$0]),
                       left: children[2 * $0], right: children[2 * $0 + 1])
        }
    }

    /// Trees up to this depth walk a fixed number of steps; deeper ones stop at their leaf.
    static let fixedDepthLimit = 14

    static func depth(_ tree: DecisionTree) -> Int {
        guard tree.nodeCount > 0 else { return 0 }
        var deepest = 0
        var stack: [(Int32, Int)] = [(0, 1)]
        while let (node, depth) = stack.popLast() {
            deepest = max(deepest, depth)
            for child in [tree.left[Int(node)], tree.right[Int(node)]] where child >= 0 { stack.append((child, depth + 1)) }
        }
        return deepest
    }

    /// Adds every tree's leaf values for `count` rows (row-major, `width` values each) into
    /// `scores` (row-major, `outputs` each). Boosting: tree t adds to output t % outputs.
    func accumulate(rows: UnsafePointer<Double>, count: Int, width: Int, into scores: UnsafeMutablePointer<Double>,
                    outputs: Int, perTreeOutput: Bool, anyMissing: Bool = true) {
        feature.withUnsafeBufferPointer { feature in
        threshold.withUnsafeBufferPointer { threshold in
        missingRight.withUnsafeBufferPointer { missingRight in
        categorySet.withUnsafeBufferPointer { categorySet in
        children.withUnsafeBufferPointer { children in
        leafIndex.withUnsafeBufferPointer { leafIndex in
        leafValues.withUnsafeBufferPointer { leafValues in
        categorySets.withUnsafeBufferPointer { sets in
        packed.withUnsafeBufferPointer { packed in
            let numericOnly = !hasCategorical
            @inline(__always) func step(_ node: Int, _ x: UnsafePointer<Double>) -> Int {
                if numericOnly {
                    let record = packed[node]
                    let value = x[Int(record.feature)]
                    let greater = Int32(unsafeBitCast(value > record.threshold, to: UInt8.self))
                    if !anyMissing { return Int(record.left &+ (record.right &- record.left) &* greater) }
                    let missing = Int32(unsafeBitCast(value != value, to: UInt8.self)) & record.missingRight
                    return Int(record.left &+ (record.right &- record.left) &* (greater | missing))
                }
                let value = x[Int(feature[node])]
                let right: Int
                if hasCategorical && categorySet[node] >= 0 {
                    if value.isNaN {
                        right = missingRight[node]
                    } else {
                        let code = Int(value)
                        let isLeft = code >= 0 && code < 256
                            && sets[Int(categorySet[node]) &* 4 &+ (code >> 6)] & (1 << UInt64(code & 63)) != 0
                        right = isLeft ? 0 : 1
                    }
                } else {
                    // NaN compares false with everything: it goes right only where missing values do.
                    let greater = Int(unsafeBitCast(value > threshold[node], to: UInt8.self))
                    let missing = Int(unsafeBitCast(value != value, to: UInt8.self))
                    right = greater | (missing & missingRight[node])
                }
                return Int(children[node &* 2 &+ right])
            }
            @inline(__always) func add(_ node: Int, row: Int, output: Int) {
                let leaf = Int(leafIndex[node])
                if perTreeOutput {
                    scores[row &* outputs &+ output] += leafValues[leaf]
                } else {
                    for k in 0..<outputs { scores[row &* outputs &+ k] += leafValues[leaf &* channels &+ k] }
                }
            }
            var output = 0
            for tree in 0..<roots.count {
                let root = Int(roots[tree])
                let depth = depths[tree]
                let leafStart = leafStarts[tree]
                var row = 0
                if depth <= Self.fixedDepthLimit {
                    while row + 8 <= count {
                        let x0 = rows + row &* width, x1 = x0 + width, x2 = x1 + width, x3 = x2 + width
                        let x4 = x3 + width, x5 = x4 + width, x6 = x5 + width, x7 = x6 + width
                        var n0 = root, n1 = root, n2 = root, n3 = root, n4 = root, n5 = root, n6 = root, n7 = root
                        var taken = 0
                        while taken < depth {
                            n0 = step(n0, x0); n1 = step(n1, x1); n2 = step(n2, x2); n3 = step(n3, x3)
                            n4 = step(n4, x4); n5 = step(n5, x5); n6 = step(n6, x6); n7 = step(n7, x7)
                            taken += 1
                            // Every fourth step: stop early once all eight stand on leaves.
                            if taken & 3 == 0,
                               min(min(min(n0, n1), min(n2, n3)), min(min(n4, n5), min(n6, n7))) >= leafStart { break }
                        }
                        add(n0, row: row, output: output); add(n1, row: row + 1, output: output)
                        add(n2, row: row + 2, output: output); add(n3, row: row + 3, output: output)
                        add(n4, row: row + 4, output: output); add(n5, row: row + 5, output: output)
                        add(n6, row: row + 6, output: output); add(n7, row: row + 7, output: output)
                        row += 8
                    }
                    while row < count {
                        var node = root
                        for _ in 0..<depth { node = step(node, rows + row &* width) }
                        add(node, row: row, output: output)
                        row += 1
                    }
                } else {
                    // Deep, unbalanced trees (forests): walk each row only as far as its leaf.
                    while row < count {
                        var node = root
                        while leafIndex[node] < 0 { node = step(node, rows + row &* width) }
                        add(node, row: row, output: output)
                        row += 1
                    }
                }
                if perTreeOutput {
                    output += 1
                    if output == outputs { output = 0 }
                }
            }
        }}}}}}}}}
    }
}
