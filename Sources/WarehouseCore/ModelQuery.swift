/// A listing or search over one user's models (or, for the admin, everyone's): by default each
/// model's latest version, matched against the text and filters; with `allVersions` every version.
public struct ModelQuery: Sendable, Equatable {
    public var userID: String
    /// `scope=all`: every user's models (the admin only; checked by the caller).
    public var allUsers = false
    /// `versions=all`: every matching version instead of each model's latest.
    public var allVersions = false
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

/// One row of a listing or search; `snippet` is the best-matching passage of a text search,
/// with each matched term between U+0001 and U+0002.
public struct SearchHit: Sendable, Equatable {
    public var record: ModelVersionRecord
    public var snippet: String?
    /// Changes with every write to the version: what a cache of the record's encoding keys on.
    public var revision: Int64?

    public init(record: ModelVersionRecord, snippet: String? = nil, revision: Int64? = nil) {
        self.record = record
        self.snippet = snippet
        self.revision = revision
    }
}

public struct SearchResults: Sendable, Equatable {
    public var hits: [SearchHit]
    /// Matches before paging.
    public var total: Int
    /// Continues after the last hit (`X-Next-Cursor`); nil on the last page.
    public var nextCursor: String?

    public init(hits: [SearchHit], total: Int, nextCursor: String?) {
        self.hits = hits
        self.total = total
        self.nextCursor = nextCursor
    }

    public var records: [ModelVersionRecord] { hits.map(\.record) }
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
