import Foundation
import WarehouseAutoML

public enum ONNXExportError: Error, CustomStringConvertible, Sendable {
    case unsupported(String)

    public var description: String {
        switch self {
        case .unsupported(let what): return "cannot export to ONNX: \(what)"
        }
    }
}

/// A trained pipeline as one ONNX graph that takes the raw dataset columns: one input per
/// feature column (float for numeric ones, string for categorical ones), categories encoded by
/// LabelEncoder (unknown or missing → NaN), every learner in float64 exactly as `/predict`
/// computes it, and the outputs `label` + `probabilities` (classification) or `variable`
/// (regression). Operators: ai.onnx 21 and ai.onnx.ml 5 (TreeEnsemble with set-membership
/// splits, LabelEncoder with tensor attributes).
public enum PipelineExport {
    public static let irVersion: Int64 = 10
    public static let opset: Int64 = 21
    public static let mlOpset: Int64 = 5

    public static func model(_ pipeline: TrainedPipeline, producerVersion: String) throws -> ONNXModel {
        let classes = pipeline.target.classes
        let outputNames = classes == nil ? ["variable"] : ["label", "probabilities"]
        var taken = Set(outputNames)
        var inputs: [ONNXValueInfo] = []
        for spec in pipeline.features {
            // A column called like an output keeps its name with a prefix.
            var name = spec.name
            while taken.contains(name) { name = "input_" + name }
            taken.insert(name)
            inputs.append(ONNXValueInfo(name: name, elementType: spec.kind == .categorical ? .string : .float,
                                        shape: [nil, 1], docString: Self.inputDescription(spec)))
        }
        var graph = GraphBuilder(reserved: taken)
        let encoded = encodeInputs(pipeline.features, names: inputs.map(\.name), into: &graph)
        var emitter = ModelEmitter(features: pipeline.features, graph: graph)
        let scores = try emitter.emit(pipeline.model, x: encoded)
        graph = emitter.graph

        var outputs: [ONNXValueInfo]
        if let classes {
            let index = graph.node("ArgMax", [scores], [ONNXAttribute("axis", .int(1)), ONNXAttribute("keepdims", .int(0))])
            let labels: String
            let labelType: ONNXDataType
            if pipeline.target.integerLabels, case let numbers = classes.compactMap({ Int64($0) }), numbers.count == classes.count {
                labels = graph.int64s("classes", numbers)
                labelType = .int64
            } else {
                labels = graph.constant("classes", .strings(classes))
                labelType = .string
            }
            graph.node("Gather", [labels, index], output: "label", [ONNXAttribute("axis", .int(0))])
            _ = graph.cast(scores, to: .float, output: "probabilities")
            outputs = [
                ONNXValueInfo(name: "label", elementType: labelType, shape: [nil], docString: "the most probable class"),
                ONNXValueInfo(name: "probabilities", elementType: .float, shape: [nil, Int64(classes.count)],
                              docString: "class probabilities in the order of the metadata's classes"),
            ]
        } else {
            _ = graph.cast(scores, to: .float, output: "variable")
            outputs = [ONNXValueInfo(name: "variable", elementType: .float, shape: [nil, 1], docString: "the predicted value")]
        }

        let onnxGraph = ONNXGraph(name: "model_warehouse_pipeline", nodes: graph.nodes, initializers: graph.initializers,
                                  inputs: inputs, outputs: outputs,
                                  docString: "\(pipeline.problemType.rawValue) of '\(pipeline.target.name)' by \(pipeline.model.name)")
        return ONNXModel(irVersion: irVersion, opsets: [("", opset), (GraphBuilder.mlDomain, mlOpset)],
                         producerName: "model-warehouse", producerVersion: producerVersion,
                         docString: "Trained by Model Warehouse; inputs are the dataset's feature columns.",
                         graph: onnxGraph, metadata: try metadata(pipeline, inputNames: inputs.map(\.name)))
    }

    /// Each column as float64 [N, 1]: numbers cast, categories looked up (unknown → NaN),
    /// then side by side as X [N, F] in the pipeline's feature order.
    static func encodeInputs(_ features: [FeatureSpec], names: [String], into graph: inout GraphBuilder) -> String {
        var columns: [String] = []
        for (spec, name) in zip(features, names) {
            switch spec.kind {
            case .numeric:
                columns.append(graph.cast(name, to: .double))
            case .categorical:
                let categories = spec.categories ?? []
                // With no known category every value is unknown; "" is a missing value anyway.
                let keys = categories.isEmpty ? [""] : categories
                let codes = categories.isEmpty ? [Double.nan] : categories.indices.map(Double.init)
                columns.append(graph.node("LabelEncoder", [name], domain: GraphBuilder.mlDomain, [
                    ONNXAttribute("keys_strings", .strings(keys)),
                    ONNXAttribute("values_tensor", .tensor(ONNXTensor(.doubles(codes)))),
                    ONNXAttribute("default_tensor", .tensor(ONNXTensor(.doubles([.nan])))),
                ]))
            }
        }
        return graph.concat(columns, axis: 1)
    }

    static func inputDescription(_ spec: FeatureSpec) -> String {
        switch (spec.kind, spec.source) {
        case (.categorical, _): return "categorical column '\(spec.name)': the value as text; any other text (or empty) is missing"
        case (_, .boolean): return "boolean column '\(spec.name)': 1 for true/yes, 0 for false/no, NaN when missing"
        case (_, .datetime): return "date column '\(spec.name)': days since 1970-01-01 (fraction = time of day), NaN when missing"
        default: return "numeric column '\(spec.name)': NaN when missing"
        }
    }

    struct InputMetadata: Encodable {
        let name: String
        let column: String
        let kind: String
        let type: String
    }

    static func metadata(_ pipeline: TrainedPipeline, inputNames: [String]) throws -> [(key: String, value: String)] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        func json<T: Encodable>(_ value: T) throws -> String { String(decoding: try encoder.encode(value), as: UTF8.self) }
        let inputs = zip(pipeline.features, inputNames).map {
            InputMetadata(name: $1, column: $0.name, kind: $0.kind.rawValue, type: $0.source.rawValue)
        }
        var entries: [(key: String, value: String)] = [
            ("problem_type", pipeline.problemType.rawValue),
            ("target", pipeline.target.name),
            ("model", pipeline.model.name),
            ("inputs", try json(inputs)),
            ("pipeline_format", "\(TrainedPipeline.formatName)@\(pipeline.formatVersion)"),
        ]
        if let classes = pipeline.target.classes { entries.append(("classes", try json(classes))) }
        return entries
    }
}

/// Emits the graph of a `PipelineModel` on X [N, F] (float64): probabilities [N, classes] or
/// values [N, 1], computed in the same order as the Swift learners.
struct ModelEmitter {
    let features: [FeatureSpec]
    var graph: GraphBuilder

    mutating func emit(_ model: PipelineModel, x: String) throws -> String {
        switch model.kind {
        case .linear:
            guard let linear = model.linear else { throw ONNXExportError.unsupported("linear model '\(model.name)' has no coefficients") }
            return try emit(linear, x: x)
        case .gradientBoosting, .randomForest:
            guard let trees = model.trees else { throw ONNXExportError.unsupported("tree model '\(model.name)' has no trees") }
            return emit(trees, x: x)
        case .weightedEnsemble:
            guard let members = model.members, !members.isEmpty else {
                throw ONNXExportError.unsupported("ensemble '\(model.name)' has no members")
            }
            // Σ weight × member, left to right, skipping zero weights (Prediction.weightedSum).
            var weighted: [String] = []
            for member in members where member.weight != 0 {
                let output = try emit(member.model, x: x)
                weighted.append(graph.node("Mul", [output, graph.doubles("weight", [member.weight])]))
            }
            if weighted.isEmpty {
                let output = try emit(members[0].model, x: x)
                return graph.node("Mul", [output, graph.doubles("weight", [0])])
            }
            return weighted.count == 1 ? weighted[0] : graph.node("Sum", weighted)
        }
    }

    /// Standardised numeric terms (missing → 0, i.e. the mean) and category indicators, a
    /// matrix product, the intercepts, then the link.
    mutating func emit(_ linear: LinearModel, x: String) throws -> String {
        let numeric = linear.terms.indices.filter { linear.terms[$0].category == nil }
        let categorical = linear.terms.indices.filter { linear.terms[$0].category != nil }
        guard !linear.terms.isEmpty else { throw ONNXExportError.unsupported("linear model without terms") }
        var parts: [String] = []
        if !numeric.isEmpty {
            let values = graph.columns(x, numeric.map { linear.terms[$0].feature })
            let centered = graph.node("Sub", [values, graph.doubles("mean", numeric.map { linear.terms[$0].mean ?? 0 })])
            let scaled = graph.node("Div", [centered, graph.doubles("scale", numeric.map { linear.terms[$0].scale ?? 1 })])
            let missing = graph.node("IsNaN", [values])
            parts.append(graph.node("Where", [missing, graph.doubles("zero", [0]), scaled]))
        }
        if !categorical.isEmpty {
            let codes = graph.columns(x, categorical.map { linear.terms[$0].feature })
            let equal = graph.node("Equal", [codes, graph.doubles("category", categorical.map { Double(linear.terms[$0].category!) })])
            parts.append(graph.cast(equal, to: .double))
        }
        let design = graph.concat(parts, axis: 1)
        let order = numeric + categorical
        let outputs = linear.intercepts.count
        let width = linear.terms.count
        var matrix: [Double] = []
        matrix.reserveCapacity(width * outputs)
        for term in order { for k in 0..<outputs { matrix.append(linear.weights[k * width + term]) } }
        let weights = graph.constant("weights", .doubles(matrix), dims: [Int64(width), Int64(outputs)])
        let raw = graph.node("Add", [graph.node("MatMul", [design, weights]), graph.doubles("intercept", linear.intercepts)])
        switch linear.link {
        case .identity: return raw
        case .sigmoid: return binaryProbabilities(raw)
        case .softmax: return graph.node("Softmax", [raw], [ONNXAttribute("axis", .int(1))])
        }
    }

    /// Two-class probabilities as the softmax of [0, raw], which is what Swift computes too:
    /// each probability keeps its full relative precision, even next to 1.
    mutating func binaryProbabilities(_ raw: String) -> String {
        let zero = graph.node("Sub", [raw, raw])
        let logits = graph.concat([zero, raw], axis: 1)
        return graph.node("Softmax", [logits], [ONNXAttribute("axis", .int(1))])
    }

    mutating func emit(_ model: TreeEnsembleModel, x: String) -> String {
        let isForest = model.kind == .randomForest
        var ensemble = TreeEnsembleAttributes(features: features)
        for (index, tree) in model.trees.enumerated() {
            if isForest {
                // A leaf feeds one target in TreeEnsemble: a forest's class vectors need one
                // copy of the tree per class.
                for channel in 0..<max(tree.channels, 1) { ensemble.add(tree, channel: channel, target: channel) }
            } else {
                ensemble.add(tree, channel: 0, target: index % model.outputs)
            }
        }
        if ensemble.roots.isEmpty {
            // TreeEnsemble needs a tree; one that adds 0 changes nothing.
            ensemble.addConstant(0, target: 0)
        }
        let sums = graph.node("TreeEnsemble", [x], domain: GraphBuilder.mlDomain, ensemble.attributes(targets: model.outputs))
        if isForest {
            let mean = model.trees.isEmpty ? sums : graph.node("Mul", [sums, graph.doubles("inverse_tree_count", [1 / Double(model.trees.count)])])
            return mean
        }
        let raw = graph.node("Add", [sums, graph.doubles("base_score", model.baseScores)])
        switch model.objective {
        case .regression: return raw
        case .binary: return binaryProbabilities(raw)
        case .multiclass: return graph.node("Softmax", [raw], [ONNXAttribute("axis", .int(1))])
        }
    }
}

/// The node and leaf arrays of one ai.onnx.ml TreeEnsemble (opset 5). A numeric split is
/// BRANCH_LEQ (x ≤ threshold goes left, the "true" branch); a categorical split is
/// BRANCH_MEMBER over its left categories, or over the right ones with the branches swapped
/// when those are fewer; missing values follow the learned default direction.
struct TreeEnsembleAttributes {
    let features: [FeatureSpec]
    var roots: [Int64] = []
    var featureIDs: [Int64] = []
    var modes: [UInt8] = []
    var splits: [Double] = []
    var trueIDs: [Int64] = []
    var trueIsLeaf: [Int64] = []
    var falseIDs: [Int64] = []
    var falseIsLeaf: [Int64] = []
    var missingGoesTrue: [Int64] = []
    var membership: [Double] = []
    var leafTargets: [Int64] = []
    var leafWeights: [Double] = []

    static let branchLEQ: UInt8 = 0
    static let branchMember: UInt8 = 6

    init(features: [FeatureSpec]) {
        self.features = features
    }

    /// One tree's leaves for one output channel, adding to `target`. A subtree whose leaves all
    /// give this channel 0 becomes a single zero leaf, and a tree that gives it only zeros is
    /// left out: the sums are the same, and a forest's per-class copies shrink to the paths
    /// that lead to their class.
    mutating func add(_ tree: DecisionTree, channel: Int, target: Int) {
        let channels = max(tree.channels, 1)
        guard tree.nodeCount > 0 else {
            let value = tree.leafValues.indices.contains(channel) ? tree.leafValues[channel] : 0
            if value != 0 { addConstant(value, target: target) }
            return
        }
        func weight(_ leaf: Int32) -> Double { tree.leafValues[Int(~leaf) * channels + channel] }
        var liveMemo = [Bool?](repeating: nil, count: tree.nodeCount)
        func isLive(_ reference: Int32) -> Bool {
            if reference < 0 { return weight(reference) != 0 }
            if let known = liveMemo[Int(reference)] { return known }
            let live = isLive(tree.left[Int(reference)]) || isLive(tree.right[Int(reference)])
            liveMemo[Int(reference)] = live
            return live
        }
        guard isLive(0) else { return }

        // Live inner nodes in depth-first order get consecutive ids.
        let nodeBase = Int64(featureIDs.count)
        var order: [Int] = []
        var ids = [Int64](repeating: -1, count: tree.nodeCount)
        var stack: [Int32] = [0]
        while let node = stack.popLast() {
            ids[Int(node)] = nodeBase + Int64(order.count)
            order.append(Int(node))
            for child in [tree.right[Int(node)], tree.left[Int(node)]] where child >= 0 && isLive(child) { stack.append(child) }
        }
        roots.append(nodeBase)
        for node in order {
            let feature = Int(tree.feature[node])
            var left = child(tree.left[node], ids: ids, weight: weight, target: target, isLive: isLive)
            var right = child(tree.right[node], ids: ids, weight: weight, target: target, isLive: isLive)
            var missingGoesTrue = tree.defaultLeft[node]  // true = left until swapped
            let leftSet = tree.leftCategories[node]
            featureIDs.append(Int64(feature))
            if leftSet.isEmpty {
                modes.append(Self.branchLEQ)
                splits.append(tree.threshold[node])
            } else {
                let known = features[feature].categories?.count ?? 0
                let members = Set(leftSet)
                let rightSet = (0..<Int32(known)).filter { !members.contains($0) }
                if rightSet.isEmpty {
                    // Every known category goes left: only a missing value can go right.
                    modes.append(Self.branchLEQ)
                    splits.append(.infinity)
                } else {
                    var tested = leftSet.sorted()
                    if rightSet.count < leftSet.count {
                        // Codes are only ever known categories, so "not in the right set" is
                        // "in the left set".
                        tested = rightSet
                        swap(&left, &right)
                        missingGoesTrue.toggle()
                    }
                    modes.append(Self.branchMember)
                    splits.append(.nan)
                    if !membership.isEmpty { membership.append(.nan) }
                    membership.append(contentsOf: tested.map(Double.init))
                }
            }
            trueIDs.append(left.id)
            trueIsLeaf.append(left.isLeaf)
            falseIDs.append(right.id)
            falseIsLeaf.append(right.isLeaf)
            self.missingGoesTrue.append(missingGoesTrue ? 1 : 0)
        }
    }

    /// A branch's target: a live inner node, or a new leaf (a real one, or zero for a dead subtree).
    private mutating func child(_ reference: Int32, ids: [Int64], weight: (Int32) -> Double, target: Int,
                                isLive: (Int32) -> Bool) -> (id: Int64, isLeaf: Int64) {
        if reference >= 0 && isLive(reference) { return (ids[Int(reference)], 0) }
        leafTargets.append(Int64(target))
        leafWeights.append(reference < 0 ? weight(reference) : 0)
        return (Int64(leafTargets.count - 1), 1)
    }

    /// A tree that is a single leaf: one split whose branches both reach it.
    mutating func addConstant(_ value: Double, target: Int) {
        let leaf = Int64(leafTargets.count)
        roots.append(Int64(featureIDs.count))
        featureIDs.append(0)
        modes.append(Self.branchLEQ)
        splits.append(0)
        trueIDs.append(leaf)
        trueIsLeaf.append(1)
        falseIDs.append(leaf)
        falseIsLeaf.append(1)
        missingGoesTrue.append(0)
        leafTargets.append(Int64(target))
        leafWeights.append(value)
    }

    func attributes(targets: Int) -> [ONNXAttribute] {
        var attributes = [
            ONNXAttribute("aggregate_function", .int(1)),  // SUM
            ONNXAttribute("post_transform", .int(0)),      // NONE
            ONNXAttribute("n_targets", .int(Int64(targets))),
            ONNXAttribute("tree_roots", .ints(roots)),
            ONNXAttribute("nodes_featureids", .ints(featureIDs)),
            ONNXAttribute("nodes_modes", .tensor(ONNXTensor(.uint8s(modes)))),
            ONNXAttribute("nodes_splits", .tensor(ONNXTensor(.doubles(splits)))),
            ONNXAttribute("nodes_truenodeids", .ints(trueIDs)),
            ONNXAttribute("nodes_trueleafs", .ints(trueIsLeaf)),
            ONNXAttribute("nodes_falsenodeids", .ints(falseIDs)),
            ONNXAttribute("nodes_falseleafs", .ints(falseIsLeaf)),
            ONNXAttribute("nodes_missing_value_tracks_true", .ints(missingGoesTrue)),
            ONNXAttribute("leaf_targetids", .ints(leafTargets)),
            ONNXAttribute("leaf_weights", .tensor(ONNXTensor(.doubles(leafWeights)))),
        ]
        if !membership.isEmpty {
            attributes.append(ONNXAttribute("membership_values", .tensor(ONNXTensor(.doubles(membership)))))
        }
        return attributes
    }
}
