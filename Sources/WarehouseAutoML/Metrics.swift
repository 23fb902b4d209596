import Foundation

/// Evaluation metrics. Scores are reported as their usual values; `Metric.score` turns any of
/// them into "higher is better" for model selection.
public enum Metric: String, Codable, Sendable, CaseIterable {
    case accuracy
    case f1Macro = "f1_macro"
    case precisionMacro = "precision_macro"
    case recallMacro = "recall_macro"
    case rocAUC = "roc_auc"
    case logLoss = "log_loss"
    case r2
    case mae
    case rmse

    public var higherIsBetter: Bool { !(self == .logLoss || self == .mae || self == .rmse) }
    public var forClassification: Bool { !(self == .r2 || self == .mae || self == .rmse) }

    public static func `default`(for task: TaskType) -> Metric { task == .classification ? .accuracy : .r2 }

    public static func parse(_ text: String, task: TaskType, problem: ProblemType) throws -> Metric {
        let aliases: [String: Metric] = ["f1": .f1Macro, "auc": .rocAUC, "logloss": .logLoss, "log-loss": .logLoss,
                                         "precision": .precisionMacro, "recall": .recallMacro, "rsquared": .r2]
        let key = text.lowercased()
        guard let metric = Metric(rawValue: key) ?? aliases[key] else {
            throw ProfileError.invalid("metric must be one of \(allCases.map(\.rawValue).joined(separator: ", ")) (got '\(text)')")
        }
        guard metric.forClassification == (task == .classification) else {
            throw ProfileError.invalid("metric '\(metric.rawValue)' does not apply to \(task.rawValue)")
        }
        if metric == .rocAUC && problem != .binary {
            throw ProfileError.invalid("metric 'roc_auc' needs a binary target")
        }
        return metric
    }

    /// Higher-is-better form of a metric value.
    public func score(_ value: Double) -> Double { higherIsBetter ? value : -value }

    public func evaluate(_ prediction: Prediction, target: [Double]) -> Double {
        Metrics.compute(prediction, target: target, only: self)[rawValue] ?? .nan
    }
}

public enum Metrics {
    /// Every metric that applies: classification from probabilities, regression from values.
    public static func compute(_ prediction: Prediction, target: [Double], only: Metric? = nil) -> [String: Double] {
        let n = target.count
        guard n > 0 else { return [:] }
        if prediction.width == 1 {
            var absolute = 0.0, squared = 0.0
            let mean = target.reduce(0, +) / Double(n)
            var total = 0.0
            for row in 0..<n {
                let error = prediction.values[row] - target[row]
                absolute += abs(error)
                squared += error * error
                total += (target[row] - mean) * (target[row] - mean)
            }
            return ["r2": total > 0 ? 1 - squared / total : 0, "mae": absolute / Double(n), "rmse": (squared / Double(n)).squareRoot()]
        }
        let classes = prediction.width
        let predicted = prediction.argmax()
        var confusion = [Int](repeating: 0, count: classes * classes)
        var correct = 0
        var logLoss = 0.0
        for row in 0..<n {
            let actual = Int(target[row])
            confusion[actual * classes + predicted[row]] += 1
            if actual == predicted[row] { correct += 1 }
            logLoss -= log(min(max(prediction[row, actual], 1e-15), 1))
        }
        var result: [String: Double] = ["accuracy": Double(correct) / Double(n), "log_loss": logLoss / Double(n)]
        if only == .accuracy || only == .logLoss { return result }
        var f1 = 0.0, precision = 0.0, recall = 0.0
        var present = 0
        for k in 0..<classes {
            let tp = Double(confusion[k * classes + k])
            var predictedK = 0.0, actualK = 0.0
            for j in 0..<classes {
                predictedK += Double(confusion[j * classes + k])
                actualK += Double(confusion[k * classes + j])
            }
            guard actualK > 0 || predictedK > 0 else { continue }
            present += 1
            let p = predictedK > 0 ? tp / predictedK : 0
            let r = actualK > 0 ? tp / actualK : 0
            precision += p
            recall += r
            f1 += p + r > 0 ? 2 * p * r / (p + r) : 0
        }
        let classesSeen = Double(max(present, 1))
        result["f1_macro"] = f1 / classesSeen
        result["precision_macro"] = precision / classesSeen
        result["recall_macro"] = recall / classesSeen
        if classes == 2 { result["roc_auc"] = rocAUC(scores: (0..<n).map { prediction[$0, 1] }, target: target) }
        return result
    }

    /// Ranks from 1, ties sharing their average rank (ROC AUC's and Spearman's convention).
    static func averageRanks(_ values: [Double]) -> [Double] {
        let order = values.indices.sorted { values[$0] < values[$1] }
        var ranks = [Double](repeating: 0, count: values.count)
        var start = 0
        while start < order.count {
            var end = start
            while end + 1 < order.count && values[order[end + 1]] == values[order[start]] { end += 1 }
            let rank = Double(start + end) / 2 + 1
            for index in start...end { ranks[order[index]] = rank }
            start = end + 1
        }
        return ranks
    }

    /// Area under the ROC curve by the rank statistic (ties get their average rank).
    static func rocAUC(scores: [Double], target: [Double]) -> Double {
        let ranks = averageRanks(scores)
        let positives = target.filter { $0 == 1 }.count
        let negatives = target.count - positives
        guard positives > 0 && negatives > 0 else { return .nan }
        var sum = 0.0
        for (index, y) in target.enumerated() where y == 1 { sum += ranks[index] }
        return (sum - Double(positives) * Double(positives + 1) / 2) / (Double(positives) * Double(negatives))
    }

    /// The confusion matrix (actual × predicted) for classification.
    public static func confusion(_ prediction: Prediction, target: [Double]) -> [[Int]] {
        let classes = prediction.width
        var matrix = [[Int]](repeating: [Int](repeating: 0, count: classes), count: classes)
        for (row, predicted) in prediction.argmax().enumerated() { matrix[Int(target[row])][predicted] += 1 }
        return matrix
    }
}
