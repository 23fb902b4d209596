import Foundation
import WarehouseCatalog
import WarehouseCore

extension ModelService {
    /// Fields a PUT may change, and the ones it may not (named in the error).
    static let immutableFields: Set<String> = [
        "model_id", "user_id", "version", "files", "created_at", "updated_at", "model_size_mb", "total_size_bytes",
    ]

    /// Applies a partial JSON update to one version (latest when `version` is nil): the
    /// manifest is rewritten, then the catalog's record (one at a time per model).
    /// `is_production_ready` mirrors the `production` alias: true moves the alias to this
    /// version, false removes it if this version holds it.
    public func update(user: String, model: String, version: String?, patch: [String: JSONValue]) throws -> ModelVersionRecord {
        guard !patch.isEmpty else { throw WarehouseError.invalid("the update is empty: send a JSON object with the fields to change") }
        for key in patch.keys.sorted() where Self.immutableFields.contains(key) {
            throw WarehouseError.invalid("field '\(key)' cannot be changed")
        }
        if patch["aliases"] != nil {
            throw WarehouseError.invalid("field 'aliases' cannot be changed by an update: use PUT or DELETE …/aliases/{alias}")
        }
        var patch = patch
        if let production = patch.removeValue(forKey: "is_production_ready") {
            guard case .bool(let flag) = production else { throw WarehouseError.invalid("field 'is_production_ready' must be true or false") }
            var target = try record(user: user, model: model, version: version)
            if !patch.isEmpty { target = try update(user: user, model: model, version: target.version, patch: patch) }
            let now = Timestamps.now()
            try movingAliases(user: user, model: model) { publish in
                if flag {
                    try catalog.setAlias(user: user, model: model, alias: Catalog.productionAlias, version: target.version,
                                         reason: "is_production_ready set by an update", now: now, publish: publish)
                } else if try catalog.aliases(user: user, model: model)[Catalog.productionAlias] == target.version {
                    _ = try catalog.removeAlias(user: user, model: model, alias: Catalog.productionAlias,
                                                reason: "is_production_ready cleared by an update", now: now, publish: publish)
                }
            }
            return try record(user: user, model: model, version: target.version)
        }
        return try modelLocks.serialized(user: user, model: model) {
            try overSharedManifest(user: user, model: model, version: version) { expected in
                let current = try record(user: user, model: model, version: version)
                var changed = current
                try MetadataPatch.apply(patch, to: &changed)
                changed.updatedAt = Timestamps.now()
                changed = changed.withCommitSHA()
                try writeManifest(changed, expected: expected)
                do {
                    let committed = try catalog.replace(changed)
                    announceVersion(user: user, model: model, version: changed.version)
                    return committed
                } catch {
                    try? writeManifest(current)
                    throw error
                }
            }
        }
    }
}

/// Reads typed values out of a JSON patch, naming the field when a value has the wrong type.
enum MetadataPatch {
    static func apply(_ patch: [String: JSONValue], to record: inout ModelVersionRecord) throws {
        for (key, value) in patch.sorted(by: { $0.key < $1.key }) {
            switch key {
            case "name":
                guard let name = try string(value, key), !name.isEmpty else { throw WarehouseError.invalid("field 'name' cannot be empty") }
                record.name = name
            case "description": record.description = try string(value, key)
            case "algorithm": record.algorithm = try string(value, key)
            case "framework":
                guard let text = try string(value, key) else { throw WarehouseError.invalid("field 'framework' cannot be null") }
                record.framework = try Framework.parse(text)
            case "model_type":
                guard let text = try string(value, key) else { throw WarehouseError.invalid("field 'model_type' cannot be null") }
                record.modelType = try ModelType.parse(text)
            case "tags": record.tags = try FieldValues.normalizedTags(try stringList(value, key))
            case "dependencies": record.dependencies = try stringList(value, key)
            case "input_shape": record.inputShape = value == .null ? nil : value
            case "output_shape": record.outputShape = value == .null ? nil : value
            case "num_parameters":
                guard value != .null else { record.numParameters = nil; continue }
                guard case .int(let count) = value, count >= 0 else {
                    throw WarehouseError.invalid("field 'num_parameters' must be a non-negative integer")
                }
                record.numParameters = count
            case "training_dataset": record.trainingDataset = try string(value, key)
            case "training_accuracy": record.trainingAccuracy = try number(value, key)
            case "validation_accuracy": record.validationAccuracy = try number(value, key)
            case "test_accuracy": record.testAccuracy = try number(value, key)
            case "training_loss": record.trainingLoss = try number(value, key)
            case "python_version": record.pythonVersion = try string(value, key)
            case "hardware_requirements": record.hardwareRequirements = try string(value, key)
            case "custom_metadata":
                switch value {
                case .null: record.customMetadata = [:]
                case .object(let object): record.customMetadata = object
                default: throw WarehouseError.invalid("field 'custom_metadata' must be a JSON object")
                }
            case "is_active": record.isActive = try bool(value, key)
            case "primary_file_path":
                guard let path = try string(value, key), record.files.contains(where: { $0.filePath == path }) else {
                    throw WarehouseError.invalid("field 'primary_file_path' must name a file of version \(record.version)")
                }
                record.choosePrimary(path)
            default:
                throw WarehouseError.invalid("unknown field '\(key)'")
            }
        }
    }

    private static func string(_ value: JSONValue, _ key: String) throws -> String? {
        switch value {
        case .null: return nil
        case .string(let text): return text
        default: throw WarehouseError.invalid("field '\(key)' must be a string")
        }
    }

    private static func number(_ value: JSONValue, _ key: String) throws -> Double? {
        switch value {
        case .null: return nil
        case .int(let number): return Double(number)
        case .double(let number) where number.isFinite: return number
        case .string(let text): return try FieldValues.double(text, field: key)
        default: throw WarehouseError.invalid("field '\(key)' must be a number")
        }
    }

    private static func bool(_ value: JSONValue, _ key: String) throws -> Bool {
        switch value {
        case .bool(let flag): return flag
        case .int(let number) where number == 0 || number == 1: return number == 1
        case .string(let text): return try FieldValues.bool(text, field: key)
        default: throw WarehouseError.invalid("field '\(key)' must be a boolean")
        }
    }

    /// Arrays of strings, or one comma-separated string.
    private static func stringList(_ value: JSONValue, _ key: String) throws -> [String] {
        switch value {
        case .null: return []
        case .string(let text):
            return text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        case .array(let items):
            return try items.map { item in
                guard case .string(let text) = item else { throw WarehouseError.invalid("field '\(key)' must be a list of strings") }
                return text
            }
        default: throw WarehouseError.invalid("field '\(key)' must be a list of strings or a comma-separated string")
        }
    }
}
