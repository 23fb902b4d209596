import Foundation
import WarehouseAutoML
import WarehouseCore

/// `POST /datasets/{user}/{dataset}/recommendations`: the evidence is gathered here (the
/// profile, a kept analysis, this user's jobs on the dataset, every job's timings on this
/// server); `Recommendations` weighs it.
extension TrainingService {
    public struct RecommendationAnswer: Encodable, Sendable {
        public let datasetID: String
        public let version: String
        public let recommendations: [Recommendations.Recommendation]
        public let basedOn: String

        enum CodingKeys: String, CodingKey {
            case datasetID = "dataset_id", version, recommendations, basedOn = "based_on"
        }
    }

    public func recommendations(user: String, dataset: String, version: String?, targetColumn: String?,
                                timeLimit: Double?) throws -> RecommendationAnswer {
        let record = try datasets.record(user: user, dataset: dataset, version: version)
        var profile = record.profile
        if let targetColumn, targetColumn != record.targetColumn {
            guard profile.column(targetColumn) != nil else {
                throw WarehouseError.invalid("target column '\(targetColumn)' is not in dataset '\(dataset)' (columns: \(profile.columns.map(\.name).prefix(30).joined(separator: ", ")))")
            }
            let local = try datasets.localCopy(record)
            defer { if local.temporary { try? FileManager.default.removeItem(atPath: local.path) } }
            profile = try DatasetService.translatingErrors { try DatasetProfile.profile(path: local.path, targetColumn: targetColumn) }
        }
        if let refusal = profile.trainingRefusal {
            throw WarehouseError.invalid("dataset '\(dataset)' \(record.version) cannot be trained on: \(refusal)")
        }
        // A kept analysis is used (never computed here: it can take seconds on large files).
        var analysis: DatasetAnalysis?
        if profile.targetColumn == record.targetColumn,
           let bytes = try? models.store.getData(key: ObjectKeys.datasetAnalysis(user: user, dataset: dataset, version: record.version)) {
            analysis = try? JSONCoding.decode(DatasetAnalysis.self, String(decoding: bytes, as: UTF8.self))
        }
        let answer = Recommendations.recommend(profile: profile, analysis: analysis,
                                               evidence: try evidence(user: user, dataset: dataset, target: profile.targetColumn),
                                               timings: try recordedTimings(), timeLimit: timeLimit ?? TrainingRequest.defaultTimeLimit)
        return RecommendationAnswer(datasetID: dataset, version: record.version, recommendations: answer.recommendations,
                                    basedOn: answer.basedOn)
    }

    static func family(ofCandidate name: String) -> AlgorithmFamily? {
        if name.hasPrefix("LinearModel") { return .linear }
        if name.hasPrefix("GradientBoosting") { return .gbdt }
        if name.hasPrefix("RandomForest") { return .randomForest }
        if name.hasPrefix("ExtraTrees") { return .extraTrees }
        return nil
    }

    /// Each family's best validation score over this user's succeeded jobs on the dataset
    /// with the same target (the latest metric's jobs only, so the scores compare).
    func evidence(user: String, dataset: String, target: String) throws -> Recommendations.Evidence? {
        var metric: Metric?
        var best: [AlgorithmFamily: Double] = [:]
        var jobs = 0
        for stored in try catalog.jobs(user: user, limit: 500) where stored.datasetID == dataset && stored.state == "succeeded" {
            guard let text = stored.result, case .object(let result) = try JSONCoding.decode(JSONValue.self, text),
                  let name = result["metric"]?.stringValue, let jobMetric = Metric(rawValue: name),
                  case .array(let leaderboard)? = result["leaderboard"] else { continue }
            let request = try? JSONCoding.decode(TrainingRequest.self, stored.request)
            if let asked = request?.targetColumn, asked != target { continue }
            if metric == nil { metric = jobMetric }
            guard jobMetric == metric else { continue }
            jobs += 1
            for case .object(let entry) in leaderboard {
                guard let model = entry["model"]?.stringValue, let family = Self.family(ofCandidate: model),
                      let score = entry["validation_score"]?.doubleValue else { continue }
                let oriented = jobMetric.score(score)
                if oriented > (best[family].map(jobMetric.score) ?? -.infinity) { best[family] = score }
            }
        }
        guard let metric, !best.isEmpty else { return nil }
        return Recommendations.Evidence(metric: metric, scores: best, jobs: jobs)
    }

    /// Fit seconds per training row × feature of each candidate of the server's latest 200
    /// succeeded jobs (those that recorded their rows and features).
    func recordedTimings() throws -> [Recommendations.Timing] {
        var timings: [Recommendations.Timing] = []
        for stored in try catalog.succeededJobs(limit: 200) {
            guard let text = stored.result, case .object(let result) = try JSONCoding.decode(JSONValue.self, text),
                  let rows = result["train_rows"]?.doubleValue, rows > 0,
                  case .object(let options)? = result["training_options"], case .array(let features)? = options["feature_columns"],
                  !features.isEmpty, case .array(let leaderboard)? = result["leaderboard"] else { continue }
            for case .object(let entry) in leaderboard {
                guard let model = entry["model"]?.stringValue, let family = Self.family(ofCandidate: model),
                      let seconds = entry["fit_time_s"]?.doubleValue, seconds > 0 else { continue }
                timings.append(Recommendations.Timing(family: family, secondsPerCell: seconds / (rows * Double(features.count))))
            }
        }
        return timings
    }
}
