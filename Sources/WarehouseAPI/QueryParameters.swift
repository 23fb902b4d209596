import WarehouseCore
import WarehouseHTTPServer
import WarehouseService

/// Typed access to query arguments, with errors that name the parameter.
extension HTTPRequest {
    /// A non-empty query value.
    func nonEmptyQuery(_ name: String) -> String? {
        guard let value = query(name)?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        return value
    }

    func integerQuery(_ name: String, default defaultValue: Int, range: ClosedRange<Int>) throws -> Int {
        guard let text = nonEmptyQuery(name) else { return defaultValue }
        guard let value = Int(text), range.contains(value) else {
            throw WarehouseError.invalid("query parameter '\(name)' must be an integer from \(range.lowerBound) to \(range.upperBound) (got \(Identifiers.quoted(text)))")
        }
        return value
    }

    /// An optional non-negative integer parameter.
    func integerQuery(_ name: String) throws -> Int64? {
        guard let text = nonEmptyQuery(name) else { return nil }
        guard let value = Int64(text), value >= 0 else {
            throw WarehouseError.invalid("query parameter '\(name)' must be a non-negative integer (got \(Identifiers.quoted(text)))")
        }
        return value
    }

    /// `?version=` validated (`v2`, or `@alias`), `?alias=` as `@alias`, or nil for "latest".
    func versionQuery() throws -> String? {
        let alias = try nonEmptyQuery("alias").map { "@" + (try Identifiers.alias($0)) }
        guard let version = nonEmptyQuery("version") else { return alias }
        guard alias == nil else { throw WarehouseError.invalid("give either 'version' or 'alias', not both") }
        if version.hasPrefix("@") { return "@" + (try Identifiers.alias(String(version.dropFirst()), field: "version alias")) }
        return try ModelVersionNumber.parse(version).text
    }

    /// A boolean query flag (absent: false).
    func flagQuery(_ name: String) throws -> Bool {
        try nonEmptyQuery(name).map { try FieldValues.bool($0, field: name) } ?? false
    }

    func userParameter() throws -> String {
        try Identifiers.name(parameter("user_id"), field: "user_id")
    }

    func modelParameter() throws -> String {
        try Identifiers.name(parameter("model_id"), field: "model_id")
    }

    /// The filters shared by listing and search; `scope=all` only for the admin.
    func modelQuery(user: String, text: String?, principal: Principal) throws -> ModelQuery {
        var query = ModelQuery(
            userID: user, text: text,
            framework: try nonEmptyQuery("framework").map { try Framework.parse($0) },
            modelType: try nonEmptyQuery("model_type").map { try ModelType.parse($0) },
            tags: try nonEmptyQuery("tags").map { try FieldValues.tags($0) } ?? [],
            format: nonEmptyQuery("format")?.lowercased(),
            minParameters: try integerQuery("min_parameters"),
            maxParameters: try integerQuery("max_parameters"),
            skip: try integerQuery("skip", default: 0, range: 0...Int(Int32.max)),
            limit: try integerQuery("limit", default: 100, range: 1...1000))
        query.filter = nonEmptyQuery("filter")
        query.orderBy = nonEmptyQuery("order_by")
        query.cursor = nonEmptyQuery("cursor")
        switch nonEmptyQuery("scope")?.lowercased() {
        case nil, "user": break
        case "all":
            try principal.requireAdmin()
            query.allUsers = true
        case let other?: throw WarehouseError.invalid("scope must be 'user' or 'all' (got \(Identifiers.quoted(other)))")
        }
        switch nonEmptyQuery("versions")?.lowercased() {
        case nil, "latest": break
        case "all": query.allVersions = true
        case let other?: throw WarehouseError.invalid("versions must be 'latest' or 'all' (got \(Identifiers.quoted(other)))")
        }
        return query
    }
}

import Foundation
