import Foundation
import WarehouseCore
import WarehouseSQLite

/// `order_by=` for listing and search: `relevance` (text search), `model_id`, or a numeric or
/// time field (`created_at`, `num_parameters`, `metrics.f1`, `custom.<key>`…) with `asc` or
/// `desc`; and the cursor that continues after a page's last row. Every order ends with the
/// row id (the order of each key's index), so no two rows tie and a cursor never skips or
/// repeats a row. Rows without the value come last either way.
struct SearchOrder {
    /// The sort key as SQL over `versions v`, `versions_fts` or the joined field `k`.
    let key: String
    /// For custom_metadata fields: the join that brings the value in as `k.number`.
    let join: String?
    let joinBindings: [SQLiteValue]
    /// Whether some rows have no value (they sort after all the others).
    let nullable: Bool
    let descending: Bool
    /// The canonical text of the order, stored in cursors.
    let name: String

    static let columns: [String: (sql: String, nullable: Bool)] = [
        "created_at": ("v.created_at", false), "updated_at": ("v.updated_at", false),
        "num_parameters": ("v.num_parameters", true), "model_size_mb": ("v.size_bytes", false),
        "training_accuracy": ("v.training_accuracy", true), "validation_accuracy": ("v.validation_accuracy", true),
        "test_accuracy": ("v.test_accuracy", true), "training_loss": ("v.training_loss", true),
    ]

    static func parse(_ text: String?, hasText: Bool) throws -> SearchOrder {
        let words = (text ?? "").split(separator: " ").map(String.init)
        guard let field = words.first else {
            return hasText ? .relevance : SearchOrder(key: "v.model_id", join: nil, joinBindings: [], nullable: false,
                                                      descending: false, name: "model_id asc")
        }
        guard words.count <= 2, words.count == 1 || ["asc", "desc"].contains(words[1].lowercased()) else {
            throw WarehouseError.invalid("order_by must be a field with an optional asc or desc (got \(Identifiers.quoted(text ?? "")))")
        }
        let descending = words.count == 2 && words[1].lowercased() == "desc"
        let lower = field.lowercased()
        let name = lower + (descending ? " desc" : " asc")
        switch lower {
        case "relevance":
            guard hasText else { throw WarehouseError.invalid("order_by=relevance needs a search query") }
            return .relevance
        case "model_id":
            return SearchOrder(key: "v.model_id", join: nil, joinBindings: [], nullable: false, descending: descending, name: name)
        default:
            if let column = columns[lower] {
                return SearchOrder(key: column.sql, join: nil, joinBindings: [], nullable: column.nullable,
                                   descending: descending, name: name)
            }
            if lower.hasPrefix("metrics.") || lower.hasPrefix("custom."),
               case .custom(let path, _)? = try? FilterExpression.Field.resolve(field, position: 1) {
                return SearchOrder(key: "k.number", join: "LEFT JOIN version_fields k ON k.version_id = v.id AND k.path = ?",
                                   joinBindings: [.text(path)], nullable: true, descending: descending,
                                   name: field + (descending ? " desc" : " asc"))
            }
            throw WarehouseError.invalid("order_by: cannot sort by \(Identifiers.quoted(field)) (relevance, model_id, \(columns.keys.sorted().joined(separator: ", ")), metrics.<name>, custom.<key>)")
        }
    }

    /// bm25 over the FTS columns, weighted: name, description, tags, algorithm, model_id, details.
    static let relevance = SearchOrder(key: "bm25(versions_fts, 10.0, 2.0, 5.0, 3.0, 8.0, 2.0)", join: nil, joinBindings: [], nullable: false, descending: false,
                                       name: "relevance")

    var direction: String { descending ? "DESC" : "ASC" }

    /// Whether `a` comes before `b` in this order (as the SQL ORDER BY would have it).
    func precedes(_ a: Position, _ b: Position) -> Bool {
        switch (a.key, b.key) {
        case (.null, .null): break
        case (.null, _): return false
        case (_, .null): return true
        default:
            if let order = Self.compare(a.key, b.key), order != 0 { return descending ? order > 0 : order < 0 }
        }
        return a.id < b.id
    }

    /// SQLite's order for the values a sort key can hold: numbers before text, text by bytes.
    static func compare(_ a: SQLiteValue, _ b: SQLiteValue) -> Int? {
        func number(_ value: SQLiteValue) -> Double? {
            switch value {
            case .integer(let integer): return Double(integer)
            case .real(let real): return real
            default: return nil
            }
        }
        switch (number(a), number(b), a, b) {
        case (let x?, let y?, _, _): return x < y ? -1 : (x > y ? 1 : 0)
        case (_?, nil, _, _): return -1
        case (nil, _?, _, _): return 1
        case (_, _, .text(let x), .text(let y)): return x == y ? 0 : (x.utf8.lexicographicallyPrecedes(y.utf8) ? -1 : 1)
        default: return nil
        }
    }

    /// A position in this order: the last row of a page.
    struct Position {
        let key: SQLiteValue
        let id: Int64
    }

    /// The condition that selects the rows after `position`, over the expressions given.
    /// `keyPresent` says the rows considered all have a key (the streaming plan's first phase),
    /// which adds a plain range on the key that an index can seek to.
    func after(_ position: Position, key: String, id: String, keyPresent: Bool = false) -> (sql: String, bindings: [SQLiteValue]) {
        if position.key == .null {
            return ("(\(key) IS NULL AND \(id) > ?)", [.integer(position.id)])
        }
        let beyond = descending ? "<" : ">"
        let strictly = "(\(key) \(beyond) ? OR (\(key) = ? AND \(id) > ?))"
        let bindings = [position.key, position.key, .integer(position.id)]
        if keyPresent {
            return ("\(key) \(beyond)= ? AND \(strictly)", [position.key] + bindings)
        }
        return nullable ? ("(\(key) IS NULL OR \(strictly))", bindings) : (strictly, bindings)
    }

    func position(of cursor: String) throws -> Position {
        guard let bytes = Base64URL.decode(cursor),
              case .object(let object)? = try? JSONDecoder().decode(JSONValue.self, from: Data(bytes)),
              case .int(let id)? = object["i"],
              let order = object["o"]?.stringValue, let key = object["k"] else {
            throw WarehouseError.invalid("cursor is not one this server made")
        }
        guard order == name else { throw WarehouseError.invalid("cursor was made for order_by=\(order), not \(name)") }
        let value: SQLiteValue
        switch key {
        case .int(let number): value = .integer(number)
        case .double(let number): value = .real(number)
        case .string(let text): value = .text(text)
        case .null: value = .null
        default: throw WarehouseError.invalid("cursor is not one this server made")
        }
        return Position(key: value, id: id)
    }

    func cursor(for position: Position) -> String {
        let value: JSONValue
        switch position.key {
        case .integer(let number): value = .int(number)
        case .real(let number): value = .double(number)
        case .text(let text): value = .string(text)
        default: value = .null
        }
        let object = JSONValue.object(["k": value, "i": .int(position.id), "o": .string(name)])
        let data = (try? JSONEncoder().encode(object)) ?? Data()
        return Base64URL.encode(data)
    }
}
