import Foundation
import WarehouseCore
import WarehouseSQLite

/// The copies of a record's values that listing and search read instead of its JSON: the
/// accuracy/loss/dataset/size columns of `versions` and the scalar leaves of custom_metadata
/// in `version_fields`. Written with every record, and once for old catalogs by migration 006.
extension Catalog {
    /// At most this many custom_metadata leaves per version are searchable (hostile metadata
    /// cannot blow up the index); nesting deeper than `custom.<k1>…<k5>` is not addressable.
    static let maxSearchFields = 256
    static let maxFieldDepth = 5

    static func writeSearchColumns(_ db: SQLiteConnection, id: Int64, record: ModelVersionRecord) throws {
        try db.run("""
            UPDATE versions SET training_accuracy = ?, validation_accuracy = ?, test_accuracy = ?, training_loss = ?,
                training_dataset = ?,
                size_bytes = (SELECT COALESCE(SUM(file_size), 0) FROM files WHERE version_id = ? AND state = 'ready')
            WHERE id = ?
            """, [.init(record.trainingAccuracy), .init(record.validationAccuracy), .init(record.testAccuracy),
                  .init(record.trainingLoss), .init(record.trainingDataset), .integer(id), .integer(id)])
        try db.run("DELETE FROM version_fields WHERE version_id = ?", [.integer(id)])
        for field in searchFields(record.customMetadata) {
            try db.run("INSERT INTO version_fields (version_id, path, user_id, number, text) VALUES (?, ?, ?, ?, ?)",
                       [.integer(id), .text(field.path), .text(record.userID), .init(field.number), .init(field.text)])
        }
    }

    /// Scalar leaves by dotted path; keys a filter can name only (letters, digits, _ and -).
    /// Booleans are the numbers 1 and 0, as filters write `true`/`false`. Arrays are not indexed.
    static func searchFields(_ metadata: [String: JSONValue]) -> [(path: String, number: Double?, text: String?)] {
        var fields: [(path: String, number: Double?, text: String?)] = []
        func walk(_ object: [String: JSONValue], prefix: String, depth: Int) {
            for key in object.keys.sorted() where fields.count < maxSearchFields {
                guard FilterExpression.Field.isKey(key) else { continue }
                let path = prefix.isEmpty ? key : prefix + "." + key
                switch object[key]! {
                case .string(let text): fields.append((path, nil, text))
                case .int(let number): fields.append((path, Double(number), nil))
                case .double(let number): fields.append((path, number, nil))
                case .bool(let flag): fields.append((path, flag ? 1 : 0, nil))
                case .object(let inner) where depth < maxFieldDepth: walk(inner, prefix: path, depth: depth + 1)
                default: break
                }
            }
        }
        walk(metadata, prefix: "", depth: 1)
        return fields + heldOutMetrics(metadata)
    }

    /// What `metrics.<name>` filters and sorts on: the held-out metrics, whoever wrote them.
    /// Training writes `metrics.test.<name>`; a user's upload says `{"metrics": {"f1": 0.93}}`.
    /// Training's value wins where both exist. The path starts with `@`, which no key can, so
    /// it never meets a user's own field.
    static func heldOutMetrics(_ metadata: [String: JSONValue]) -> [(path: String, number: Double?, text: String?)] {
        guard case .object(let metrics)? = metadata["metrics"] else { return [] }
        var values: [String: Double] = [:]
        for (key, value) in metrics where FilterExpression.Field.isKey(key) { if let number = value.doubleValue { values[key] = number } }
        if case .object(let test)? = metrics["test"] {
            for (key, value) in test where FilterExpression.Field.isKey(key) { if let number = value.doubleValue { values[key] = number } }
        }
        return values.keys.sorted().prefix(maxSearchFields).map { (heldOutMetricPrefix + $0, values[$0], nil) }
    }

    static let heldOutMetricPrefix = "@metrics."

    /// Migration 006: fills the new columns and fields from every stored record.
    /// Migration 007: the held-out metric fields of every stored record.
    @Sendable static func backfillHeldOutMetrics(_ db: SQLiteConnection) throws {
        for row in try db.query("SELECT r.version_id, r.record, v.user_id FROM version_records r JOIN versions v ON v.id = r.version_id") {
            guard let id = row.int("version_id"), let json = row.string("record"), let user = row.string("user_id"),
                  let record = try? JSONDecoder().decode(ModelVersionRecord.self, from: Data(json.utf8)) else { continue }
            for field in heldOutMetrics(record.customMetadata) {
                try db.run("INSERT INTO version_fields (version_id, path, user_id, number, text) VALUES (?, ?, ?, ?, NULL)",
                           [.integer(Int64(id)), .text(field.path), .text(user), .init(field.number)])
            }
        }
    }

    @Sendable static func backfillSearchColumns(_ db: SQLiteConnection) throws {
        for row in try db.query("SELECT version_id, record FROM version_records") {
            guard let id = row.int("version_id"), let json = row.string("record"),
                  let record = try? JSONDecoder().decode(ModelVersionRecord.self, from: Data(json.utf8)) else { continue }
            try writeSearchColumns(db, id: Int64(id), record: record)
        }
    }
}
