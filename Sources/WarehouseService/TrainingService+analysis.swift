import Foundation
import WarehouseAutoML
import WarehouseCore

/// A dataset version's analysis: computed on first request from its CSV, kept beside it in
/// the store (so every replica reads the same), and joined with the permutation importances
/// of the latest model trained on that version.
extension TrainingService {
    public struct Analysis: Encodable, Sendable {
        public let datasetID: String
        public let version: String
        public let analysis: DatasetAnalysis
        public let importances: PermutationImportances?
        /// The version the importances come from.
        public let importancesFrom: ModelVersionRecord?
        public let cached: Bool

        enum CodingKeys: String, CodingKey {
            case datasetID = "dataset_id", version, importances, importancesFrom = "importances_from", cached
        }

        public func encode(to encoder: any Encoder) throws {
            try analysis.encode(to: encoder)
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(datasetID, forKey: .datasetID)
            try c.encode(version, forKey: .version)
            try c.encode(cached, forKey: .cached)
            if let importances {
                try c.encode(importances.features, forKey: .importances)
                if let record = importancesFrom {
                    try c.encode(JSONValue.object([
                        "model_id": .string(record.modelID), "version": .string(record.version), "metric": .string(importances.metric),
                        "rows": .int(Int64(importances.rows)),
                        "method": .string("the drop of the test metric when one feature's held-out test values are shuffled"),
                    ]), forKey: .importancesFrom)
                }
            }
        }
    }

    public func analysis(user: String, dataset: String, version: String?) throws -> Analysis {
        let record = try datasets.record(user: user, dataset: dataset, version: version)
        let key = ObjectKeys.datasetAnalysis(user: user, dataset: dataset, version: record.version)
        var analysis: DatasetAnalysis?
        var cached = true
        if let stored = try? models.store.getData(key: key) {
            analysis = try? JSONCoding.decode(DatasetAnalysis.self, String(decoding: stored, as: UTF8.self))
        }
        if analysis == nil {
            cached = false
            let local = try datasets.localCopy(record)
            defer { if local.temporary { try? FileManager.default.removeItem(atPath: local.path) } }
            let computed = try DatasetService.translatingErrors {
                try DatasetAnalysis.analyse(path: local.path, profile: record.profile)
            }
            try models.store.putData(key: key, data: Array(try JSONCoding.string(computed).utf8))
            analysis = computed
        }
        let (importances, source) = try latestImportances(user: user, dataset: dataset, version: record.version)
        return Analysis(datasetID: dataset, version: record.version, analysis: analysis!, importances: importances,
                        importancesFrom: source, cached: cached)
    }

    /// The newest version trained on this dataset version that recorded importances.
    func latestImportances(user: String, dataset: String, version: String) throws -> (PermutationImportances?, ModelVersionRecord?) {
        var best: (PermutationImportances, ModelVersionRecord)?
        for (model, modelVersion) in try catalog.versionsTrained(user: user, dataset: dataset) {
            guard let record = try? models.record(user: user, model: model, version: modelVersion),
                  case .object(let source)? = record.customMetadata["dataset"], source["version"]?.stringValue == version,
                  let value = record.customMetadata["permutation_importances"],
                  let importances = try? JSONCoding.decode(PermutationImportances.self, try JSONCoding.string(value)) else { continue }
            if best == nil || record.createdAt > best!.1.createdAt { best = (importances, record) }
        }
        return (best?.0, best?.1)
    }
}
