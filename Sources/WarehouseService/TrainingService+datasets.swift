import Foundation
import WarehouseCore

/// A dataset's automatic models: retrained on demand, deleted with the dataset.
extension TrainingService {
    public struct RecreatedModels: Sendable {
        public let jobs: [TrainingJob]
        /// Models left alone, with why (a job already queued or running).
        public let skipped: [(model: String, reason: String)]
    }

    /// The models trained from a dataset: for each, its latest version trained from it (with
    /// the scores and options that version records).
    public func modelsTrained(user: String, dataset: String) throws -> [ModelVersionRecord] {
        _ = try datasets.record(user: user, dataset: dataset, version: nil)
        var latest: [String: String] = [:]
        for (model, version) in try catalog.versionsTrained(user: user, dataset: dataset) { latest[model] = version }
        return try latest.keys.sorted().compactMap { model in
            try? models.record(user: user, model: model, version: latest[model])
        }
    }

    /// Queues a training of each of the dataset's automatic models (and `{dataset}-automl`)
    /// on its latest version. A model that already has a queued or running job is skipped and
    /// named; when every one is, nothing is queued and it is a 409.
    public func recreateModels(user: String, dataset: String, timeLimit: Double?) throws -> RecreatedModels {
        let record = try datasets.record(user: user, dataset: dataset, version: nil)
        var modelIDs = Set(try catalog.automaticVersions(user: user, dataset: dataset).map(\.model))
        modelIDs.insert(dataset + "-automl")
        var jobs: [TrainingJob] = []
        var skipped: [(model: String, reason: String)] = []
        for model in modelIDs.sorted() {
            var request = try TrainingRequest(userID: user, datasetID: dataset, datasetVersion: record.version, modelID: model,
                                              timeLimit: timeLimit, automatic: true)
            request.name = "\(record.name) AutoML"
            request.trigger = "recreate"
            do {
                jobs.append(try submit(request, exclusive: true))
            } catch WarehouseError.conflict(let reason) {
                skipped.append((model, reason))
            }
        }
        if jobs.isEmpty, let first = skipped.first { throw WarehouseError.conflict(first.reason) }
        return RecreatedModels(jobs: jobs, skipped: skipped)
    }

    /// Deletes every version of a dataset and, unless `keepModels`, the versions trained
    /// automatically from it (never uploads; their aliases go with them). Models first: a
    /// failure then leaves the dataset in place to retry, never models without their data.
    public func deleteDataset(user: String, dataset: String, keepModels: Bool) throws
        -> (versions: [String], models: [(model: String, version: String)]) {
        _ = try datasets.record(user: user, dataset: dataset, version: nil)
        var deleted: [(model: String, version: String)] = []
        if !keepModels {
            for (model, version) in try catalog.automaticVersions(user: user, dataset: dataset) {
                _ = try models.delete(user: user, model: model, version: version, force: true)
                deleted.append((model, version))
            }
        }
        return (try datasets.delete(user: user, dataset: dataset), deleted)
    }
}
