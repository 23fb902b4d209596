/// Records the catalog keeps beside model versions, as the services and routes see them.
/// They are plain values: the catalog reads and writes them, nobody else needs SQLite for them.

/// One move of an alias.
public struct AliasEvent: Sendable {
    public let alias: String
    /// nil when the alias was removed.
    public let version: String?
    public let previousVersion: String?
    public let action: String
    public let reason: String
    public let createdAt: String

    public init(alias: String, version: String?, previousVersion: String?, action: String, reason: String, createdAt: String) {
        self.alias = alias
        self.version = version
        self.previousVersion = previousVersion
        self.action = action
        self.reason = reason
        self.createdAt = createdAt
    }
}

/// A dataset version row: its keys and the service's JSON record.
public struct StoredDataset: Sendable {
    public let id: Int64
    public let userID: String
    public let datasetID: String
    public let version: Int
    public let record: String

    public init(id: Int64, userID: String, datasetID: String, version: Int, record: String) {
        self.id = id
        self.userID = userID
        self.datasetID = datasetID
        self.version = version
        self.record = record
    }
}

/// A prediction with its reported outcome.
public struct FeedbackRow: Sendable {
    public let version: String
    public let predicted: String
    public let actual: String
    public let createdAt: String

    public init(version: String, predicted: String, actual: String, createdAt: String) {
        self.version = version
        self.predicted = predicted
        self.actual = actual
        self.createdAt = createdAt
    }
}

/// Per-model retraining thresholds (nil: the server's default).
public struct RetrainingSettings: Sendable, Equatable {
    public var enabled: Bool?
    public var accuracyThreshold: Double?
    public var feedbackCount: Int?

    public init(enabled: Bool? = nil, accuracyThreshold: Double? = nil, feedbackCount: Int? = nil) {
        self.enabled = enabled
        self.accuracyThreshold = accuracyThreshold
        self.feedbackCount = feedbackCount
    }
}

/// A training job row.
public struct StoredJob: Sendable {
    public let id: String
    public let userID: String
    public let datasetID: String
    public let modelID: String
    public let state: String
    public let progress: Double
    public let message: String
    public let request: String
    public let result: String?
    public let error: String?
    public let createdAt: String
    public let startedAt: String?
    public let finishedAt: String?

    public init(id: String, userID: String, datasetID: String, modelID: String, state: String, progress: Double, message: String,
                request: String, result: String?, error: String?, createdAt: String, startedAt: String?, finishedAt: String?) {
        self.id = id
        self.userID = userID
        self.datasetID = datasetID
        self.modelID = modelID
        self.state = state
        self.progress = progress
        self.message = message
        self.request = request
        self.result = result
        self.error = error
        self.createdAt = createdAt
        self.startedAt = startedAt
        self.finishedAt = finishedAt
    }
}

/// Sizes of what the catalog holds, for `/metrics`.
public struct CatalogStatistics: Sendable {
    public var models = 0
    public var versions = 0
    public var files = 0
    public var storedBytes: Int64 = 0
    public var datasets = 0
    public var jobsByState: [String: Int] = [:]

    public init() {}
}

/// A user token as stored: never the secret, only its SHA-256.
public struct StoredToken: Sendable, Equatable {
    public let id: String
    public let userID: String
    public let createdAt: String

    public init(id: String, userID: String, createdAt: String) {
        self.id = id
        self.userID = userID
        self.createdAt = createdAt
    }
}

/// An upload session as stored: its reserved version, its files and the parts that arrived.
public struct UploadSessionRow: Sendable, Equatable {
    public struct File: Sendable, Equatable {
        public let position: Int
        public let path: String
        public let size: UInt64
        /// The client's SHA-256 of the whole file, checked at completion.
        public let sha256: String?
        public let uploadID: String?
        public var parts: [Part] = []

        public init(position: Int, path: String, size: UInt64, sha256: String?, uploadID: String?) {
            self.position = position
            self.path = path
            self.size = size
            self.sha256 = sha256
            self.uploadID = uploadID
        }
    }

    public struct Part: Sendable, Equatable {
        public let number: Int
        public let size: UInt64
        public let sha256: String
        /// The store's part number holding it (one per attempt).
        public let storeNumber: Int
        /// Nil for a part announced for a presigned URL and not confirmed by the store yet.
        public let etag: String?
        public let receivedAt: String

        public init(number: Int, size: UInt64, sha256: String, storeNumber: Int, etag: String?, receivedAt: String) {
            self.number = number
            self.size = size
            self.sha256 = sha256
            self.storeNumber = storeNumber
            self.etag = etag
            self.receivedAt = receivedAt
        }
    }

    public let id: String
    public let userID: String
    public let modelID: String
    public let versionID: Int64?
    public let version: String
    public var state: String
    public let partSize: UInt64
    public let presigned: Bool
    /// The creation request (upload fields and primary file) as JSON.
    public let request: String
    public let createdAt: String
    public let expiresAt: String
    public var detail: String?
    public var files: [File]

    public init(id: String, userID: String, modelID: String, versionID: Int64?, version: String, state: String,
                partSize: UInt64, presigned: Bool, request: String, createdAt: String, expiresAt: String,
                detail: String? = nil, files: [File]) {
        self.id = id
        self.userID = userID
        self.modelID = modelID
        self.versionID = versionID
        self.version = version
        self.state = state
        self.partSize = partSize
        self.presigned = presigned
        self.request = request
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.detail = detail
        self.files = files
    }
}

/// The record of a model itself, apart from its versions: a model created before its
/// versions (the Hub's `create_repo`, MLflow's registered model), or one whose model-level
/// description or tags were set (MLflow's registered-model fields). A catalog row and a model
/// manifest beside its versions' manifests, so `reindex` keeps it.
public struct RegisteredModel: Codable, Equatable, Sendable {
    public let userID: String
    public let modelID: String
    public let createdAt: String
    public var updatedAt: String
    /// The model's own description (nil: none set; the latest version's shows instead).
    public var description: String?
    /// Free-form fields of the model, as a version's `custom_metadata` (MLflow's registered-
    /// model tags are `mlflow_tags`).
    public var customMetadata: [String: JSONValue]

    public init(userID: String, modelID: String, createdAt: String) {
        self.userID = userID
        self.modelID = modelID
        self.createdAt = createdAt
        updatedAt = createdAt
        description = nil
        customMetadata = [:]
    }

    enum CodingKeys: String, CodingKey {
        case userID = "user_id", modelID = "model_id", createdAt = "created_at", updatedAt = "updated_at"
        case description, customMetadata = "custom_metadata"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        userID = try c.decode(String.self, forKey: .userID)
        modelID = try c.decode(String.self, forKey: .modelID)
        createdAt = try c.decode(String.self, forKey: .createdAt)
        updatedAt = try c.decodeIfPresent(String.self, forKey: .updatedAt) ?? createdAt
        description = try c.decodeIfPresent(String.self, forKey: .description)
        customMetadata = try c.decodeIfPresent([String: JSONValue].self, forKey: .customMetadata) ?? [:]
    }
}
