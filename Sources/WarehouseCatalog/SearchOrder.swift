import Foundation
import WarehouseCore
import WarehouseSQLite

/// `order_by=` for listing and search: `relevance` (text search), `model_id`, or a numeric or
/// time field (`created_at`, `num_parameters`, `metrics.f1`…) with `asc` or `desc`; and the
/// cursor that continues a listing after its last row, stable under inserts (every order ends
/// with model_id, so no two rows tie).
struct SearchOrder {
    /// The sort key as SQL over `versions v` (and `h.rank`), with its bindings.
    let key: String
    let bindings: [SQLiteValue]
    let descending: Bool
    /// The canonical text of the order, stored in cursors.
    let name: String

    static let sortable: Set<String> = [
        "created_at", "updated_at", "num_parameters", "model_size_mb", "training_accuracy", "validation_accuracy", "test_accuracy",
        "training_loss",
    ]

    static func parse(_ text: String?, hasText: Bool) throws -> SearchOrder {
        let words = (text ?? "").split(separator: " ").map(String.init)
        guard let field = words.first else {
            return hasText ? SearchOrder(key: "h.rank", bindings: [], descending: false, name: "relevance")
                : SearchOrder(key: "v.model_id", bindings: [], descending: false, name: "model_id")
        }
        guard words.count <= 2, words.count == 1 || ["asc", "desc"].contains(words[1].lowercased()) else {
            throw WarehouseError.invalid("order_by must be a field with an optional asc or desc (got \(Identifiers.quoted(text ?? "")))")
        }
        let descending = words.count == 2 && words[1].lowercased() == "desc"
        let name = field + (descending ? " desc" : " asc")
        switch field.lowercased() {
        case "relevance":
            guard hasText else { throw WarehouseError.invalid("order_by=relevance needs a search query") }
            return SearchOrder(key: "h.rank", bindings: [], descending: false, name: "relevance")
        case "model_id": return SearchOrder(key: "v.model_id", bindings: [], descending: descending, name: name)
        default:
            guard sortable.contains(field.lowercased()) || field.lowercased().hasPrefix("metrics.") else {
                throw WarehouseError.invalid("order_by: cannot sort by \(Identifiers.quoted(field)) (relevance, model_id, \(sortable.sorted().joined(separator: ", ")), metrics.<name>)")
            }
            var bindings: [SQLiteValue] = []
            let expression = try FilterExpression.Field.resolve(field, position: 1).expression(bindings: &bindings)
            // Versions without the value sort last either way.
            let isText = field.hasSuffix("_at")
            let missing = isText ? (descending ? "''" : "'~'") : (descending ? "-1e308" : "1e308")
            return SearchOrder(key: "COALESCE(\(expression), \(missing))", bindings: bindings, descending: descending, name: name)
        }
    }

    /// The condition that continues after `cursor`, with its bindings.
    func after(_ cursor: String) throws -> (sql: String, bindings: [SQLiteValue]) {
        guard let data = Data(base64Encoded: cursor.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
                                  .padding(toLength: (cursor.count + 3) / 4 * 4, withPad: "=", startingAt: 0)),
              case .object(let object)? = try? JSONDecoder().decode(JSONValue.self, from: data),
              let model = object["m"]?.stringValue, let order = object["o"]?.stringValue, let key = object["k"] else {
            throw WarehouseError.invalid("cursor is not one this server made")
        }
        guard order == name else { throw WarehouseError.invalid("cursor was made for order_by=\(order), not \(name)") }
        let value: SQLiteValue
        switch key {
        case .int(let number): value = .integer(number)
        case .double(let number): value = .real(number)
        case .string(let text): value = .text(text)
        default: throw WarehouseError.invalid("cursor is not one this server made")
        }
        let comparison = descending ? "<" : ">"
        return ("(sort_key \(comparison) ? OR (sort_key = ? AND model_id > ?))", [value, value, .text(model)])
    }

    func cursor(key: SQLiteValue, model: String) -> String {
        let value: JSONValue
        switch key {
        case .integer(let number): value = .int(number)
        case .real(let number): value = .double(number)
        case .text(let text): value = .string(text)
        default: value = .string("")
        }
        let data = (try? JSONEncoder().encode(JSONValue.object(["k": value, "m": .string(model), "o": .string(name)]))) ?? Data()
        return data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}

extension FilterExpression.Field {
    /// The field's value as a SQL expression (for sorting).
    func expression(bindings: inout [SQLiteValue]) throws -> String {
        switch self {
        case .column(let column, _): return column
        case .json(let path, _):
            bindings.append(.text(path))
            return "json_extract(v.record, ?)"
        case .sizeMB:
            return "(SELECT COALESCE(SUM(f.file_size), 0) / 1048576.0 FROM files f WHERE f.version_id = v.id AND f.state = 'ready')"
        case .tags, .format, .version:
            throw WarehouseError.invalid("order_by: this field cannot be sorted by")
        }
    }
}
