import Foundation
import Testing
@testable import WarehouseAutoML
import WarehouseFormats
@testable import WarehouseONNX
import WarehouseTesting

/// Exports run in Python onnxruntime (Tests/python/onnx_parity.py) and are compared with the
/// Swift predictor on the same raw rows: every learner the AutoML can pick, and a hand-made
/// pipeline that walks every export path (complement and all-left category splits, single-leaf
/// trees, zero-weight members, float rounding at a threshold).
@Suite(.serialized) struct ExportParityTests {
    static let learners = ["LinearModel", "GradientBoosting", "RandomForest", "ExtraTrees", "GradientBoosting_ExtraTrees"]

    @Test(arguments: learners)
    func everyLearnerMatchesOnnxruntime(learner: String) throws {
        let scratch = try Scratch()
        // Binary with categories and missing values; three classes; regression with categories.
        let diamonds = scratch.path("diamonds.csv")
        let head = try String(contentsOfFile: SharedDatasetFiles.path("diamonds"), encoding: .utf8).split(separator: "\n").prefix(3001)
        try (head.joined(separator: "\n") + "\n").write(toFile: diamonds, atomically: true, encoding: .utf8)
        for dataset in [SharedDatasetFiles.path("titanic"), SharedDatasetFiles.path("penguins"), diamonds] {
            let profile = try DatasetProfile.profile(path: dataset)
            let table = try TrainingTable.load(path: dataset, profile: profile)
            var settings = AutoMLSettings()
            settings.timeLimit = 3
            settings.onlyCandidates = [learner]
            let result = try AutoML(table: table, problem: profile.problemType, settings: settings,
                                    budget: TrainingBudget(seconds: settings.timeLimit)).run()
            let rows = scratch.path("rows-\(learner).csv")
            try ONNXParityScript.writeRows(dataset: dataset, to: rows, limit: 600)
            let compared = try Self.compare(result.pipeline, rows: rows, in: scratch)
            #expect(compared.agrees, "\(learner) on \(dataset): \(compared.output.suffix(1500))")
        }
    }

    @Test func handMadePipelineCoversEveryExportPath() throws {
        // The forest: a copy of each of its four trees per class, less the class-1 copy of the last.
        let model = try PipelineExport.model(Self.handMade, producerVersion: "test")
        let forest = model.graph.nodes.filter { $0.opType == "TreeEnsemble" }[1]
        guard case .ints(let roots)? = forest.attributes.first(where: { $0.name == "tree_roots" })?.value else {
            Issue.record("no tree_roots")
            return
        }
        #expect(roots.count == 7)

        let scratch = try Scratch()
        let rows = scratch.path("rows.csv")
        var csv = "color,size,flag\n"
        for color in ["red", "green", "blue", "black", "white", "purple", "", "NA", " red "] {
            for size in ["0.1", "0.09999999", "0.1000000001", "2.5", "2.5000001", "-3", "", "abc", "1e3"] {
                for flag in ["true", "false", "", "yes", "0"] { csv += "\(color),\(size),\(flag)\n" }
            }
        }
        try csv.write(toFile: rows, atomically: true, encoding: .utf8)
        let compared = try Self.compare(Self.handMade, rows: rows, in: scratch)
        #expect(compared.agrees, "\(compared.output.suffix(1500))")
        #expect(compared.report["rows"] as? Int == 9 * 9 * 5)
        #expect(compared.report["label_agreement"] as? Double == 1)
    }

    @Test func exportReadsBackWithOurOwnONNXReader() throws {
        let scratch = try Scratch()
        var pipeline = Self.handMade
        // A column called like an output gets a prefixed input name.
        pipeline.features[1] = FeatureSpec(name: "label", kind: .numeric, source: .float, categories: nil)
        let path = scratch.path("model.onnx")
        try Data(try PipelineExport.model(pipeline, producerVersion: "test").encoded()).write(to: URL(fileURLWithPath: path))
        let analysis = FormatDetector.analyze(path: path, name: "model.onnx")
        #expect(analysis.format == "onnx")
        #expect(analysis.framework == .onnx)
        #expect(analysis.details["opset_imports"] == .object(["ai.onnx": .int(21), "ai.onnx.ml": .int(5)]))
        #expect(analysis.details["inputs"] == .array([
            .object(["name": .string("color"), "shape": .array([.string("N"), .int(1)]), "dtype": .string("str")]),
            .object(["name": .string("input_label"), "shape": .array([.string("N"), .int(1)]), "dtype": .string("float32")]),
            .object(["name": .string("flag"), "shape": .array([.string("N"), .int(1)]), "dtype": .string("float32")]),
        ]))
        #expect(analysis.details["outputs"] == .array([
            .object(["name": .string("label"), "shape": .array([.string("N")]), "dtype": .string("str")]),
            .object(["name": .string("probabilities"), "shape": .array([.string("N"), .int(2)]), "dtype": .string("float32")]),
        ]))
        guard case .object(let operators)? = analysis.details["operator_counts"] else {
            Issue.record("no operator counts")
            return
        }
        #expect(operators["TreeEnsemble"] == .int(2))  // boosting and forest; the zero-weight member is left out
        #expect(operators["LabelEncoder"] == .int(1))
    }

    // MARK: - Helpers

    /// Our predictions for the rows, written as `/predict` answers, compared by the script.
    static func compare(_ pipeline: TrainedPipeline, rows: String, in scratch: Scratch) throws
        -> (agrees: Bool, report: [String: Any], output: String) {
        let model = scratch.path("model-\(UUID().uuidString).onnx")
        try Data(try PipelineExport.model(pipeline, producerVersion: "test").encoded()).write(to: URL(fileURLWithPath: model))
        let table = try CSVTable(path: rows)
        var raw: [[String: String?]] = []
        try table.forEachRow { row in
            raw.append(Dictionary(uniqueKeysWithValues: zip(table.header, row.map { Optional($0) })))
        }
        let output = try Predictor(pipeline).predict(rows: raw)
        var answer: [String: Any] = [:]
        if let labels = output.labels {
            answer["predictions"] = pipeline.target.integerLabels ? labels.map { Int64($0)! as Any } : labels
            answer["probabilities"] = output.probabilities
        } else {
            answer["predictions"] = output.values
        }
        let predictions = scratch.path("predict-\(UUID().uuidString).json")
        try JSONSerialization.data(withJSONObject: answer).write(to: URL(fileURLWithPath: predictions))
        return try ONNXParityScript.compare(model: model, rows: rows, predictions: predictions)
    }

    static let handMade: TrainedPipeline = {
        let features = [
            FeatureSpec(name: "color", kind: .categorical, source: .categorical, categories: ["red", "green", "blue", "black", "white"]),
            FeatureSpec(name: "size", kind: .numeric, source: .float, categories: nil),
            FeatureSpec(name: "flag", kind: .numeric, source: .boolean, categories: nil),
        ]
        func tree(_ feature: [Int32], _ threshold: [Double], _ defaultLeft: [Bool], _ categories: [[Int32]],
                  _ left: [Int32], _ right: [Int32], _ leaves: [Double], channels: Int = 1) -> DecisionTree {
            DecisionTree(feature: feature, threshold: threshold, defaultLeft: defaultLeft, leftCategories: categories,
                         left: left, right: right, leafValues: leaves, channels: channels)
        }
        let boosting = TreeEnsembleModel(kind: .gradientBoosting, objective: .binary, outputs: 1, baseScores: [0.1], trees: [
            // Left set bigger than the right one (exported as its complement), then a split
            // where every known category goes left (only missing can go right).
            tree([0, 1, 0, 2], [0, 0.1, 0, 0.5], [false, true, false, false], [[0, 1, 2, 3], [], [0, 1, 2, 3, 4], []],
                 [1, ~0, 3, ~3], [2, ~1, ~2, ~4], [-1.5, 0.75, 2.0, -0.25, 3.0]),
            tree([], [], [], [], [], [], [0.3]),
            tree([0], [0], [true], [[1]], [~0], [~1], [0.5, -0.5]),
        ], learningRate: 0.1)
        let linear = LinearModel(terms: [
            .init(feature: 1, mean: 1, scale: 2, category: nil), .init(feature: 2, mean: 0.5, scale: 0.5, category: nil),
            .init(feature: 0, mean: nil, scale: nil, category: 2), .init(feature: 0, mean: nil, scale: nil, category: 4),
        ], weights: [0.8, -1.2, 2.0, -3.0], intercepts: [0.2], link: .sigmoid, l2: 0)
        let forest = TreeEnsembleModel(kind: .randomForest, objective: .binary, outputs: 2, baseScores: [], trees: [
            tree([1], [2.5], [false], [[]], [~0], [~1], [0.9, 0.1, 0.2, 0.8], channels: 2),
            tree([], [], [], [], [], [], [0.5, 0.5], channels: 2),
            // Pure leaves: each class's copy keeps only the paths to its own leaves...
            tree([1, 0], [2.5, 0], [true, false], [[], [0, 1]], [1, ~0], [~2, ~1], [1, 0, 0, 1, 0, 1], channels: 2),
            // ...and a class this tree never votes for gets no copy.
            tree([2], [0.5], [true], [[]], [~0], [~1], [1, 0, 1, 0], channels: 2),
        ], learningRate: 1)
        func member(_ weight: Double, _ kind: PipelineModel.Kind, linear: LinearModel? = nil, trees: TreeEnsembleModel? = nil) -> EnsembleMember {
            EnsembleMember(weight: weight, model: PipelineModel(kind: kind, name: kind.rawValue, linear: linear, trees: trees, members: nil))
        }
        let ensemble = PipelineModel(kind: .weightedEnsemble, name: "WeightedEnsemble", linear: nil, trees: nil, members: [
            member(0.5, .gradientBoosting, trees: boosting), member(0.3, .linear, linear: linear),
            member(0.2, .randomForest, trees: forest), member(0, .randomForest, trees: forest),
        ])
        return TrainedPipeline(problemType: .binary, target: TargetSpec(name: "y", task: .classification, classes: ["no", "yes"], integerLabels: false),
                               features: features, model: ensemble)
    }()
}

/// A scratch directory removed when the value goes away.
final class Scratch {
    let directory: String
    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("onnx-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }
    func path(_ name: String) -> String { directory + "/" + name }
    deinit { try? FileManager.default.removeItem(atPath: directory) }
}
