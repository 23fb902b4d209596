/// One stored file of a version.
public struct ModelFile: Sendable, Equatable, Codable {
    public var filename: String
    /// Relative path inside the version (the object key suffix).
    public var filePath: String
    public var fileSize: UInt64
    /// Lowercased extension, or the detected format.
    public var fileType: String
    /// SHA-256 of the bytes, lowercase hex.
    public var fileHash: String
    public var contentType: String
    public var isPrimary: Bool
    public var description: String?
    /// The format detected from the file's bytes (safetensors, onnx, pickle…).
    public var format: String?
    /// The store's ETag for the object when it was committed (S3; nil for the folder store):
    /// a download compares it, so an object replaced with as many other bytes is caught.
    /// Kept in the catalog only, not in the API's JSON or the manifest.
    public var storeETag: String? = nil

    public init(filename: String, filePath: String, fileSize: UInt64, fileType: String, fileHash: String,
                contentType: String, isPrimary: Bool, description: String? = nil, format: String? = nil) {
        self.filename = filename
        self.filePath = filePath
        self.fileSize = fileSize
        self.fileType = fileType
        self.fileHash = fileHash
        self.contentType = contentType
        self.isPrimary = isPrimary
        self.description = description
        self.format = format
    }

    enum CodingKeys: String, CodingKey {
        case filename, description, format
        case filePath = "file_path", fileSize = "file_size", fileType = "file_type", fileHash = "file_hash"
        case contentType = "content_type", isPrimary = "is_primary"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(filename, forKey: .filename)
        try container.encode(filePath, forKey: .filePath)
        try container.encode(fileSize, forKey: .fileSize)
        try container.encode(fileType, forKey: .fileType)
        try container.encode(fileHash, forKey: .fileHash)
        try container.encode(contentType, forKey: .contentType)
        try container.encode(isPrimary, forKey: .isPrimary)
        try container.encode(description, forKey: .description)
        try container.encode(format, forKey: .format)
    }
}

/// The metadata record of one model version: every field of the seed schema. It is what the
/// API returns, what the manifest in the bucket holds, and what `reindex` reads back.
public struct ModelVersionRecord: Sendable, Equatable, Codable {
    public var modelID: String
    public var userID: String
    public var name: String
    public var description: String?
    public var version: String
    public var framework: Framework
    public var modelType: ModelType
    public var algorithm: String?
    public var files: [ModelFile]
    public var primaryFilePath: String?
    public var inputShape: JSONValue?
    public var outputShape: JSONValue?
    public var numParameters: Int64?
    public var trainingDataset: String?
    public var trainingAccuracy: Double?
    public var validationAccuracy: Double?
    public var testAccuracy: Double?
    public var trainingLoss: Double?
    public var pythonVersion: String?
    public var dependencies: [String]
    public var hardwareRequirements: String?
    public var tags: [String]
    public var customMetadata: [String: JSONValue]
    /// ISO 8601, UTC.
    public var createdAt: String
    public var updatedAt: String
    public var isActive: Bool
    public var isProductionReady: Bool
    /// The aliases that point at this version, sorted (as MLflow's ModelVersion.aliases).
    /// Filled by the catalog from its alias table on every read; never a stored truth.
    public var aliases: [String]
    /// The version's commit id for git-shaped clients (the Hugging Face Hub's): 40 lowercase
    /// hex digits, a function of the repo, the version and its files, set whenever its files
    /// are written (nil only in manifests written before it existed).
    public var commitSHA: String?

    public init(modelID: String, userID: String, name: String, version: String, framework: Framework,
                modelType: ModelType, createdAt: String) {
        self.modelID = modelID
        self.userID = userID
        self.name = name
        self.description = nil
        self.version = version
        self.framework = framework
        self.modelType = modelType
        self.algorithm = nil
        self.files = []
        self.primaryFilePath = nil
        self.dependencies = []
        self.tags = []
        self.customMetadata = [:]
        self.createdAt = createdAt
        self.updatedAt = createdAt
        self.isActive = true
        self.isProductionReady = false
        self.aliases = []
    }

    /// Distinct detected formats of the files.
    public var formats: [String] { Array(Set(files.compactMap(\.format))).sorted() }

    /// Words the catalog indexes besides name, description, tags and algorithm: formats,
    /// framework, and what detection found (architecture, classes, producers).
    public var searchDetails: String {
        var words = formats + [framework.rawValue]
        for key in ["architecture", "architectures", "hf_model_type", "top_level_class", "producer", "keras_class",
                    "model_name", "file_type"] {
            switch customMetadata[key] {
            case .string(let text)?: words.append(text)
            case .array(let items)?: words += items.compactMap(\.stringValue)
            default: break
            }
        }
        return words.joined(separator: " ")
    }

    /// Total bytes of all files.
    public var totalSize: UInt64 { files.reduce(0) { $0 + $1.fileSize } }

    /// Total size in MiB (bytes / 2^20), as users read it.
    public var modelSizeMB: Double { Double(totalSize) / 1_048_576 }

    /// Marks `path` primary (or, with nil, the largest file) and keeps `primaryFilePath` in step.
    public mutating func choosePrimary(_ path: String?) {
        let chosen = path ?? files.max { $0.fileSize < $1.fileSize }?.filePath
        for index in files.indices { files[index].isPrimary = files[index].filePath == chosen }
        primaryFilePath = chosen
    }

    enum CodingKeys: String, CodingKey {
        case modelID = "model_id", userID = "user_id", name, description, version, framework
        case modelType = "model_type", algorithm, files, primaryFilePath = "primary_file_path"
        case inputShape = "input_shape", outputShape = "output_shape", numParameters = "num_parameters"
        case modelSizeMB = "model_size_mb", totalSizeBytes = "total_size_bytes"
        case trainingDataset = "training_dataset", trainingAccuracy = "training_accuracy"
        case validationAccuracy = "validation_accuracy", testAccuracy = "test_accuracy", trainingLoss = "training_loss"
        case pythonVersion = "python_version", dependencies, hardwareRequirements = "hardware_requirements"
        case tags, customMetadata = "custom_metadata", createdAt = "created_at", updatedAt = "updated_at"
        case isActive = "is_active", isProductionReady = "is_production_ready", aliases
        case commitSHA = "commit_sha"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        modelID = try c.decode(String.self, forKey: .modelID)
        userID = try c.decode(String.self, forKey: .userID)
        name = try c.decodeIfPresent(String.self, forKey: .name) ?? modelID
        description = try c.decodeIfPresent(String.self, forKey: .description)
        version = try c.decode(String.self, forKey: .version)
        framework = try c.decodeIfPresent(Framework.self, forKey: .framework) ?? .other
        modelType = try c.decodeIfPresent(ModelType.self, forKey: .modelType) ?? .other
        algorithm = try c.decodeIfPresent(String.self, forKey: .algorithm)
        files = try c.decodeIfPresent([ModelFile].self, forKey: .files) ?? []
        primaryFilePath = try c.decodeIfPresent(String.self, forKey: .primaryFilePath)
        inputShape = try c.decodeIfPresent(JSONValue.self, forKey: .inputShape)
        outputShape = try c.decodeIfPresent(JSONValue.self, forKey: .outputShape)
        numParameters = try c.decodeIfPresent(Int64.self, forKey: .numParameters)
        trainingDataset = try c.decodeIfPresent(String.self, forKey: .trainingDataset)
        trainingAccuracy = try c.decodeIfPresent(Double.self, forKey: .trainingAccuracy)
        validationAccuracy = try c.decodeIfPresent(Double.self, forKey: .validationAccuracy)
        testAccuracy = try c.decodeIfPresent(Double.self, forKey: .testAccuracy)
        trainingLoss = try c.decodeIfPresent(Double.self, forKey: .trainingLoss)
        pythonVersion = try c.decodeIfPresent(String.self, forKey: .pythonVersion)
        dependencies = try c.decodeIfPresent([String].self, forKey: .dependencies) ?? []
        hardwareRequirements = try c.decodeIfPresent(String.self, forKey: .hardwareRequirements)
        tags = try c.decodeIfPresent([String].self, forKey: .tags) ?? []
        customMetadata = try c.decodeIfPresent([String: JSONValue].self, forKey: .customMetadata) ?? [:]
        createdAt = try c.decode(String.self, forKey: .createdAt)
        updatedAt = try c.decodeIfPresent(String.self, forKey: .updatedAt) ?? createdAt
        isActive = try c.decodeIfPresent(Bool.self, forKey: .isActive) ?? true
        isProductionReady = try c.decodeIfPresent(Bool.self, forKey: .isProductionReady) ?? false
        aliases = try c.decodeIfPresent([String].self, forKey: .aliases) ?? []
        commitSHA = try c.decodeIfPresent(String.self, forKey: .commitSHA)
    }

    /// Encodes every field, absent ones as null, so clients always see the whole schema.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(modelID, forKey: .modelID)
        try c.encode(userID, forKey: .userID)
        try c.encode(name, forKey: .name)
        try c.encode(description, forKey: .description)
        try c.encode(version, forKey: .version)
        try c.encode(framework, forKey: .framework)
        try c.encode(modelType, forKey: .modelType)
        try c.encode(algorithm, forKey: .algorithm)
        try c.encode(files, forKey: .files)
        try c.encode(primaryFilePath, forKey: .primaryFilePath)
        try c.encode(inputShape, forKey: .inputShape)
        try c.encode(outputShape, forKey: .outputShape)
        try c.encode(numParameters, forKey: .numParameters)
        try c.encode(modelSizeMB, forKey: .modelSizeMB)
        try c.encode(totalSize, forKey: .totalSizeBytes)
        try c.encode(trainingDataset, forKey: .trainingDataset)
        try c.encode(trainingAccuracy, forKey: .trainingAccuracy)
        try c.encode(validationAccuracy, forKey: .validationAccuracy)
        try c.encode(testAccuracy, forKey: .testAccuracy)
        try c.encode(trainingLoss, forKey: .trainingLoss)
        try c.encode(pythonVersion, forKey: .pythonVersion)
        try c.encode(dependencies, forKey: .dependencies)
        try c.encode(hardwareRequirements, forKey: .hardwareRequirements)
        try c.encode(tags, forKey: .tags)
        try c.encode(customMetadata, forKey: .customMetadata)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(updatedAt, forKey: .updatedAt)
        try c.encode(isActive, forKey: .isActive)
        try c.encode(isProductionReady, forKey: .isProductionReady)
        try c.encode(aliases, forKey: .aliases)
        try c.encode(commitSHA, forKey: .commitSHA)
    }
}
