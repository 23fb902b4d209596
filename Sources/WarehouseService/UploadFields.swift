import Foundation
import WarehouseCore

/// The form fields of an upload (DESIGN.md "Upload fields"), validated. Empty values count as
/// absent, since form clients often send every field.
public struct UploadFields: Sendable {
    public var userID: String
    public var modelID: String
    public var version: String?
    public var name: String?
    public var description: String?
    public var framework: Framework?
    public var modelType: ModelType?
    public var algorithm: String?
    public var isPrimary: Bool?
    public var tags: [String] = []
    public var trainingAccuracy: Double?
    public var validationAccuracy: Double?
    public var testAccuracy: Double?
    public var trainingLoss: Double?
    public var pythonVersion: String?
    public var hardwareRequirements: String?
    /// A JSON object (`{"metrics": {"f1": 0.93}, "team": "nlp"}`), at most 1 MiB.
    public var customMetadata: [String: JSONValue] = [:]

    /// Parses `fields` (first value of each name wins).
    public init(_ fields: [(name: String, value: String)]) throws {
        let values = Self.values(fields)
        userID = try Identifiers.userID(values["user_id"])
        modelID = try Identifiers.name(values["model_id"], field: "model_id")
        if let version = values["version"] {
            self.version = try ModelVersionNumber.parse(version).text
        }
        name = try Self.text(values["name"], field: "name", limit: 256)
        description = try Self.text(values["description"], field: "description", limit: 65_536)
        framework = try values["framework"].map { try Framework.parse($0) }
        modelType = try values["model_type"].map { try ModelType.parse($0) }
        algorithm = try Self.text(values["algorithm"], field: "algorithm", limit: 256)
        isPrimary = try values["is_primary"].map { try FieldValues.bool($0, field: "is_primary") }
        tags = try values["tags"].map { try FieldValues.tags($0) } ?? []
        trainingAccuracy = try values["training_accuracy"].map { try FieldValues.double($0, field: "training_accuracy") }
        validationAccuracy = try values["validation_accuracy"].map { try FieldValues.double($0, field: "validation_accuracy") }
        testAccuracy = try values["test_accuracy"].map { try FieldValues.double($0, field: "test_accuracy") }
        trainingLoss = try values["training_loss"].map { try FieldValues.double($0, field: "training_loss") }
        pythonVersion = try Self.text(values["python_version"], field: "python_version", limit: 64)
        hardwareRequirements = try Self.text(values["hardware_requirements"], field: "hardware_requirements", limit: 4096)
        if let text = try Self.text(values["custom_metadata"], field: "custom_metadata", limit: 1 << 20) {
            guard case .object(let object)? = try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) else {
                throw WarehouseError.invalid("field 'custom_metadata' must be a JSON object")
            }
            customMetadata = object
        }
    }

    /// Form fields by name: first value wins, trimmed, empty values dropped.
    static func values(_ fields: [(name: String, value: String)]) -> [String: String] {
        var values: [String: String] = [:]
        for (name, value) in fields where values[name] == nil {
            let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines)
            if !trimmed.isEmpty { values[name] = trimmed }
        }
        return values
    }

    static func text(_ value: String?, field: String, limit: Int) throws -> String? {
        guard let value else { return nil }
        guard value.count <= limit else {
            throw WarehouseError.invalid("field '\(field)' is longer than \(limit) characters")
        }
        return value
    }

    /// A new version's record from these fields.
    func makeRecord(version: String, framework detected: Framework, createdAt: String) -> ModelVersionRecord {
        var record = ModelVersionRecord(modelID: modelID, userID: userID, name: name ?? modelID, version: version,
                                        framework: framework ?? detected, modelType: modelType ?? .other,
                                        createdAt: createdAt)
        record.description = description
        record.algorithm = algorithm
        record.tags = tags
        record.trainingAccuracy = trainingAccuracy
        record.validationAccuracy = validationAccuracy
        record.testAccuracy = testAccuracy
        record.trainingLoss = trainingLoss
        record.pythonVersion = pythonVersion
        record.hardwareRequirements = hardwareRequirements
        record.customMetadata = customMetadata
        return record
    }
}

/// A file that arrived with a request and sits in a spool file, already hashed.
public struct IncomingFile: Sendable {
    /// The client's name for it (validated by the service).
    public let filename: String
    public let contentType: String?
    public let spoolPath: String
    public let size: UInt64
    public let sha256: String

    public init(filename: String, contentType: String?, spoolPath: String, size: UInt64, sha256: String) {
        self.filename = filename
        self.contentType = contentType
        self.spoolPath = spoolPath
        self.size = size
        self.sha256 = sha256
    }
}
