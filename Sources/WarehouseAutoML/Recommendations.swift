import Foundation

/// Which candidate families suit a dataset, from what is known about it: its profile, its
/// analysis when one was computed, and the leaderboards of jobs already trained on it. Every
/// reason names the facts it rests on; nothing else goes in.
public enum Recommendations {
    /// One family's fit time on a job: seconds per row × feature, as measured.
    public struct Timing: Sendable {
        public let family: AlgorithmFamily
        public let secondsPerCell: Double
        public init(family: AlgorithmFamily, secondsPerCell: Double) {
            self.family = family
            self.secondsPerCell = secondsPerCell
        }
    }

    /// Earlier jobs on this dataset: each family's best validation score in the metric's units.
    public struct Evidence: Sendable {
        public let metric: Metric
        public let scores: [AlgorithmFamily: Double]
        public let jobs: Int
        public init(metric: Metric, scores: [AlgorithmFamily: Double], jobs: Int) {
            self.metric = metric
            self.scores = scores
            self.jobs = jobs
        }
    }

    public struct Recommendation: Encodable, Sendable {
        public let algorithm: AlgorithmFamily
        public let rank: Int
        public let reason: String
        public let estimatedSeconds: Double
        /// Where the estimate comes from: `recorded` timings of this server, or `default`.
        public let estimateSource: String
        public let options: Options

        enum CodingKeys: String, CodingKey {
            case algorithm, rank, reason, options
            case estimatedSeconds = "estimated_seconds", estimateSource = "estimate_source"
        }
    }

    /// The body of a training job that follows the recommendation.
    public struct Options: Encodable, Sendable {
        public let algorithms: [AlgorithmFamily]
        public let preset: TrainingPreset
        public let validation: ValidationPlan
        public let targetColumn: String
        public let timeLimit: Double

        enum CodingKeys: String, CodingKey {
            case algorithms, preset, validation
            case targetColumn = "target_column", timeLimit = "time_limit_s"
        }
    }

    /// Seconds per row × feature × candidate when this server has no recorded timing:
    /// medians of the balanced preset's fits in bench/training (2 cores), per family.
    public static let defaultSecondsPerCell: [AlgorithmFamily: Double] = [
        .linear: 2e-7, .gbdt: 2.5e-6, .randomForest: 2e-6, .extraTrees: 1.2e-6,
    ]

    /// The top three families, best first.
    public static func recommend(profile: DatasetProfile, analysis: DatasetAnalysis?, evidence: Evidence?,
                                 timings: [Timing], timeLimit: Double) -> (recommendations: [Recommendation], basedOn: String) {
        let rows = profile.rows
        let features = profile.features.compactMap { profile.column($0) }
        let categorical = features.filter { $0.dtype == .categorical }
        let numeric = features.count - categorical.count
        let missingCells = features.reduce(0) { $0 + $1.nullCount }
        let missingShare = features.isEmpty ? 0 : Double(missingCells) / Double(rows * features.count)
        let highCardinality = categorical.filter { $0.uniqueCount > 50 }
        let rowsPerFeature = Double(rows) / Double(max(1, features.count))
        var imbalance: Double?
        if profile.taskType == .classification, let top = profile.column(profile.targetColumn)?.topValues, top.count >= 2,
           let smallest = top.map(\.count).min(), smallest > 0 {
            imbalance = Double(top[0].count) / Double(smallest)
        }
        let strongestLinear = analysis?.features.compactMap { $0.pearson.map(abs) }.max()

        var scores: [AlgorithmFamily: Double] = [:]
        var reasons: [AlgorithmFamily: [String]] = [:]
        func note(_ family: AlgorithmFamily, _ points: Double, _ why: String) {
            scores[family, default: 0] += points
            reasons[family, default: []].append(why)
        }
        let size = "\(rows) rows, \(features.count) features (\(numeric) numeric, \(categorical.count) categorical)"
        note(.gbdt, 3, "the strongest single family on tabular data in our benchmarks")
        if rows >= 2000 { note(.gbdt, 1, "enough rows (\(rows)) for boosting to outgrow simpler models") }
        if rows < 300 { note(.gbdt, -1, "with only \(rows) rows boosting overfits easily") }
        if missingShare > 0 { note(.gbdt, 1, String(format: "%.1f%% missing feature values, which trees route natively", missingShare * 100)) }
        if !categorical.isEmpty { note(.gbdt, 0.5, "\(categorical.count) categorical features split as categories") }
        note(.randomForest, 2, "robust with default settings")
        if rows < 5000 { note(.randomForest, 1, "averaging many deep trees is stable on \(rows) rows") }
        if let imbalance, imbalance >= 3 { note(.randomForest, 0.5, String(format: "class imbalance %.1f:1, where bagged trees stay calibrated", imbalance)) }
        note(.extraTrees, 1.5, "random thresholds add variance reduction that deep trees lack")
        if rows < 2000 { note(.extraTrees, 1, "small data (\(rows) rows) favours extremely randomised trees") }
        if features.count > 0, Double(numeric) / Double(features.count) > 0.7 { note(.extraTrees, 0.5, "mostly numeric features (\(numeric) of \(features.count))") }
        note(.linear, 1, "fast and hard to overfit")
        if rowsPerFeature < 20 {
            // Few rows per feature: trees find too few rows per split, a penalised linear model does not.
            note(.linear, rowsPerFeature < 10 ? 3 : 2, String(format: "only %.0f rows per feature", rowsPerFeature))
        }
        if let strongestLinear, strongestLinear >= 0.5 {
            note(.linear, 1.5, String(format: "a feature correlates with the target at |r| = %.2f (analysis)", strongestLinear))
        }
        if rows > 500_000 { note(.linear, 1, "\(rows) rows, where a linear model fits in seconds") }
        if !highCardinality.isEmpty { note(.linear, -1, "\(highCardinality.count) categorical features with more than 50 values") }
        if let evidence {
            let ranked = evidence.scores.sorted { evidence.metric.score($0.value) > evidence.metric.score($1.value) }
            for (position, entry) in ranked.enumerated() {
                note(entry.key, Double(4 - min(position, 3)) * 1.5,
                     "ranked \(position + 1) of \(ranked.count) by \(evidence.jobs) earlier job\(evidence.jobs == 1 ? "" : "s") on this dataset "
                        + String(format: "(best validation %@ %.4g)", evidence.metric.rawValue, entry.value))
            }
        }

        // Estimated time: the family's candidates in the balanced preset, at recorded rates.
        var balanced = AutoMLSettings()
        balanced.preset = .balanced
        let plan = balanced.validationPlan(rows: rows)
        let candidates = Candidate.balancedList(rows: rows)
        let cells = Double(rows) * Double(max(1, features.count))
        let ordered = AlgorithmFamily.allCases.sorted { (scores[$0] ?? 0, $1.rawValue) > (scores[$1] ?? 0, $0.rawValue) }
        var recommendations: [Recommendation] = []
        for (index, family) in ordered.prefix(3).enumerated() {
            let recorded = timings.filter { $0.family == family }.map(\.secondsPerCell).sorted()
            let rate = recorded.isEmpty ? defaultSecondsPerCell[family]! : recorded[recorded.count / 2]
            let count = Double(candidates.filter { $0.family == family }.count)
            let estimate = min(timeLimit, max(0.5, rate * cells * count + 0.5))
            let options = Options(algorithms: [family], preset: .balanced, validation: plan, targetColumn: profile.targetColumn,
                                  timeLimit: timeLimit)
            recommendations.append(Recommendation(
                algorithm: family, rank: index + 1,
                reason: family.summary + ": " + (reasons[family] ?? []).joined(separator: "; ") + ". Dataset: \(size).",
                estimatedSeconds: (estimate * 10).rounded() / 10,
                estimateSource: recorded.isEmpty ? "default" : "recorded (\(recorded.count) fit\(recorded.count == 1 ? "" : "s") on this server)",
                options: options))
        }
        var basis = ["the dataset's profile (\(size), " + String(format: "%.1f%% missing", missingShare * 100)
                     + (imbalance.map { String(format: ", class imbalance %.1f:1", $0) } ?? "") + ")"]
        if analysis != nil { basis.append("its analysis (correlations with the target)") }
        if let evidence { basis.append("\(evidence.jobs) earlier training job\(evidence.jobs == 1 ? "" : "s") on it") }
        basis.append(timings.isEmpty ? "default timings (no training recorded on this server yet)"
                                     : "\(timings.count) candidate timings recorded on this server")
        return (recommendations, basis.joined(separator: "; "))
    }
}
