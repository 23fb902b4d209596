/// A listing or search over one user's models: the latest matching version of each model.
public struct ModelQuery: Sendable, Equatable {
    public var userID: String
    /// Free text for full-text search; nil or blank lists without ranking.
    public var text: String?
    public var framework: Framework?
    public var modelType: ModelType?
    /// Every one of these tags must be present (case-insensitive).
    public var tags: [String]
    /// A detected file format the version must hold (safetensors, onnx…).
    public var format: String?
    public var minParameters: Int64?
    public var maxParameters: Int64?
    /// A `filter=` expression (parsed by the catalog).
    public var filter: String?
    /// `order_by=`: relevance, model_id, or a numeric/time field with asc or desc.
    public var orderBy: String?
    /// Continues after the last row of a previous page (`X-Next-Cursor`).
    public var cursor: String?
    public var skip: Int
    public var limit: Int

    public init(userID: String, text: String? = nil, framework: Framework? = nil, modelType: ModelType? = nil,
                tags: [String] = [], format: String? = nil, minParameters: Int64? = nil, maxParameters: Int64? = nil,
                skip: Int = 0, limit: Int = 100) {
        self.format = format
        self.minParameters = minParameters
        self.maxParameters = maxParameters
        self.userID = userID
        self.text = text
        self.framework = framework
        self.modelType = modelType
        self.tags = tags
        self.skip = skip
        self.limit = limit
    }
}

/// A version being uploaded: its catalog row id and the version it was given.
public struct PendingVersion: Sendable, Equatable {
    public let id: Int64
    public let version: String

    public init(id: Int64, version: String) {
        self.id = id
        self.version = version
    }
}
