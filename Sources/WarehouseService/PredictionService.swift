import Foundation
import Synchronization
import WarehouseAutoML
import WarehouseCatalog
import WarehouseCore
import WarehouseCrypto

/// Predictions from trained versions. A version's pipeline is read and prepared once, then
/// kept in memory (the most recently used few).
public final class PredictionService: Sendable {
    let models: ModelService
    let capacity: Int
    private let cache = Mutex<[String: (predictor: Predictor, lastUse: UInt64)]>([:])
    private let clock = Atomic<UInt64>(0)

    public init(models: ModelService, capacity: Int = 16) {
        self.models = models
        self.capacity = max(1, capacity)
    }

    public struct Answer: Sendable {
        public let record: ModelVersionRecord
        public let pipeline: TrainedPipeline
        public let output: PipelineOutput
        public let predictionIDs: [String]
    }

    /// Rows are column → raw text (nil = missing). Without a version, the `production` alias
    /// answers, else the latest version. Every answer is stored under its prediction id, with
    /// the row's feature values, for feedback and retraining.
    public func predict(user: String, model: String, version: String?, rows: [[String: String?]]) throws -> Answer {
        guard !rows.isEmpty else { throw WarehouseError.invalid("no rows to predict: send {\"rows\": [{column: value, …}]} or a CSV body") }
        let record = try version.map { try models.record(user: user, model: model, version: $0) }
            ?? models.catalog.record(user: user, model: model, version: "@" + Catalog.productionAlias)
            ?? models.record(user: user, model: model, version: nil)
        let predictor = try predictor(for: record)
        let output: PipelineOutput
        do {
            output = try predictor.predict(rows: rows)
        } catch let error as PredictionInputError {
            throw WarehouseError.invalid(error.description)
        }
        let ids = rows.indices.map { _ in "pred_" + Hex.encode(SecureRandom.bytes(12)) }
        let features = predictor.pipeline.features.map(\.name)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var stored: [(id: String, predicted: String, inputs: String)] = []
        stored.reserveCapacity(rows.count)
        for (index, row) in rows.enumerated() {
            let inputs = Dictionary(uniqueKeysWithValues: features.map { ($0, row[$0] ?? nil) })
            let predicted = output.labels?[index] ?? output.values.map { String($0[index]) } ?? ""
            stored.append((ids[index], predicted, String(decoding: try encoder.encode(inputs), as: UTF8.self)))
        }
        try models.catalog.insertPredictions(stored, user: user, model: model, version: record.version, now: Timestamps.now())
        return Answer(record: record, pipeline: predictor.pipeline, output: output, predictionIDs: ids)
    }

    func predictor(for record: ModelVersionRecord) throws -> Predictor {
        guard let file = record.files.first(where: { $0.filePath == "model.json" }) else {
            throw WarehouseError.invalid("version \(record.version) of model '\(record.modelID)' has no model.json: only models trained by the warehouse can predict")
        }
        let key = "\(record.userID)/\(record.modelID)/\(record.version)/\(file.fileHash)"
        let tick = clock.add(1, ordering: .relaxed).newValue
        if let cached = cache.withLock({ entries -> Predictor? in
            guard let entry = entries[key] else { return nil }
            entries[key] = (entry.predictor, tick)
            return entry.predictor
        }) {
            return cached
        }
        let bytes = try models.store.getData(key: ObjectKeys.file(user: record.userID, model: record.modelID,
                                                                   version: record.version, path: file.filePath))
        let pipeline: TrainedPipeline
        do {
            pipeline = try TrainedPipeline.decode(Data(bytes))
        } catch let error as ProfileError {
            throw WarehouseError.invalid(error.description)
        } catch {
            throw WarehouseError.invalid("model.json of \(record.modelID) \(record.version) is not a pipeline this server can read: \(error)")
        }
        let predictor = Predictor(pipeline)
        cache.withLock { entries in
            entries[key] = (predictor, tick)
            while entries.count > capacity, let oldest = entries.min(by: { $0.value.lastUse < $1.value.lastUse })?.key {
                entries.removeValue(forKey: oldest)
            }
        }
        return predictor
    }
}
