import WarehouseCore
import WarehouseSQLite

/// `filter=` expressions for listing and search, parsed by recursive descent into a SQL
/// condition over `versions v` whose every value is a bound parameter: nothing the caller
/// writes is spliced into SQL text, only fragments chosen from fixed tables.
///
///     expr       := term (OR term)*
///     term       := factor (AND factor)*
///     factor     := NOT factor | '(' expr ')' | comparison
///     comparison := field (= | != | <> | < | <= | > | >=) value
///                 | field [NOT] IN '(' value (',' value)* ')' | field [NOT] LIKE string
///     field      := name | metrics.<name> | metrics.<split>.<name> | custom.<key>[.<key>…]
///     value      := number | 'text' ('' is a quote) | true | false
///
/// Typed fields compare by their type: numbers as numbers, `version` by its numbers
/// (`v1.10 > v1.9`), `created_at`/`updated_at` as instants whatever the literal's precision
/// or zone, booleans in custom_metadata as 1/0 (`custom.approved = true`).
public struct FilterExpression: Sendable {
    public let sql: String
    public let bindings: [SQLiteValue]

    public static let maxLength = 65_536
    public static let maxDepth = 32
    public static let maxListItems = 1000
    public static let maxComparisons = 200

    public static func parse(_ text: String) throws -> FilterExpression {
        guard text.utf8.count <= maxLength else {
            throw WarehouseError.invalid("filter: longer than \(maxLength) bytes")
        }
        var parser = Parser(tokens: try Lexer.tokens(text), length: text.count)
        let parsed = try parser.expression(depth: 0)
        if let extra = parser.peek { throw parser.error("AND, OR or the end of the filter", at: extra) }
        return FilterExpression(sql: parsed.sql, bindings: parsed.bindings)
    }

    // MARK: - Tokens

    enum Kind: Equatable {
        case identifier(String)   // lowercased for keywords; fields keep their case
        case number(Double)
        case string(String)
        case symbol(String)       // ( ) , = != <> < <= > >=
    }

    struct Token {
        let kind: Kind
        let position: Int         // 1-based character offset
        let text: String
    }

    enum Lexer {
        static func tokens(_ text: String) throws -> [Token] {
            let characters = Array(text)
            var tokens: [Token] = []
            var index = 0
            var start = 0
            func fail(_ message: String) -> WarehouseError {
                WarehouseError.invalid("filter: \(message) at position \(start + 1)")
            }
            while index < characters.count {
                let character = characters[index]
                start = index
                if character.isWhitespace { index += 1; continue }
                if character == "'" {
                    var value = ""
                    index += 1
                    while true {
                        guard index < characters.count else { throw fail("unterminated string starting") }
                        if characters[index] == "'" {
                            if index + 1 < characters.count, characters[index + 1] == "'" { value.append("'"); index += 2; continue }
                            index += 1
                            break
                        }
                        value.append(characters[index])
                        index += 1
                    }
                    tokens.append(Token(kind: .string(value), position: start + 1, text: String(characters[start..<index])))
                } else if character.isNumber || (character == "-" || character == ".") && index + 1 < characters.count && characters[index + 1].isNumber {
                    index += 1
                    while index < characters.count, characters[index].isNumber || ".eE".contains(characters[index])
                        || ("+-".contains(characters[index]) && "eE".contains(characters[index - 1])) { index += 1 }
                    let literal = String(characters[start..<index])
                    guard let number = Double(literal), number.isFinite else { throw fail("'\(literal)' is not a number") }
                    tokens.append(Token(kind: .number(number), position: start + 1, text: literal))
                } else if character.isLetter || character == "_" {
                    while index < characters.count, characters[index].isLetter || characters[index].isNumber || "_.-".contains(characters[index]) { index += 1 }
                    let word = String(characters[start..<index])
                    tokens.append(Token(kind: .identifier(word), position: start + 1, text: word))
                } else if "(),".contains(character) {
                    index += 1
                    tokens.append(Token(kind: .symbol(String(character)), position: start + 1, text: String(character)))
                } else if "=!<>".contains(character) {
                    index += 1
                    if index < characters.count, characters[index] == "=" || (character == "<" && characters[index] == ">") { index += 1 }
                    let symbol = String(characters[start..<index])
                    guard ["=", "!=", "<>", "<", "<=", ">", ">="].contains(symbol) else { throw fail("unknown operator '\(symbol)'") }
                    tokens.append(Token(kind: .symbol(symbol), position: start + 1, text: symbol))
                } else {
                    throw fail("unexpected character '\(character)'")
                }
            }
            return tokens
        }
    }

    // MARK: - Parser

    /// A parsed piece of the condition with its own bindings, so that AND terms can be put in
    /// the order SQLite should evaluate them without disturbing positional parameters.
    struct Fragment {
        var sql: String
        var bindings: [SQLiteValue]
        /// 0: a column comparison; 1: an indexed field lookup; 2: a per-row subquery.
        var cost: Int

        static func joined(_ parts: [Fragment], by word: String) -> Fragment {
            guard parts.count > 1 else { return parts[0] }
            return Fragment(sql: "(" + parts.map(\.sql).joined(separator: " \(word) ") + ")",
                            bindings: parts.flatMap(\.bindings), cost: parts.map(\.cost).max() ?? 0)
        }
    }

    struct Parser {
        let tokens: [Token]
        let length: Int
        var index = 0
        var comparisons = 0

        var peek: Token? { index < tokens.count ? tokens[index] : nil }

        func error(_ expected: String, at token: Token?) -> WarehouseError {
            guard let token else { return WarehouseError.invalid("filter: expected \(expected) at position \(length + 1) (the end)") }
            return WarehouseError.invalid("filter: expected \(expected) at position \(token.position) (got '\(token.text.prefix(40))')")
        }

        func isKeyword(_ token: Token?, _ word: String) -> Bool {
            if case .identifier(let text)? = token?.kind { return text.lowercased() == word }
            return false
        }

        func isSymbol(_ token: Token?, _ symbol: String) -> Bool {
            if case .symbol(let text)? = token?.kind { return text == symbol }
            return false
        }

        mutating func expression(depth: Int) throws -> Fragment {
            guard depth < FilterExpression.maxDepth else {
                throw WarehouseError.invalid("filter: nested deeper than \(FilterExpression.maxDepth) levels at position \(peek?.position ?? length + 1)")
            }
            var parts = [try term(depth: depth)]
            while isKeyword(peek, "or") {
                index += 1
                parts.append(try term(depth: depth))
            }
            return Fragment.joined(parts, by: "OR")
        }

        mutating func term(depth: Int) throws -> Fragment {
            var parts = [try factor(depth: depth)]
            while isKeyword(peek, "and") {
                index += 1
                parts.append(try factor(depth: depth))
            }
            // Cheapest first: SQLite evaluates AND terms in order and stops at the first false.
            return Fragment.joined(parts.enumerated().sorted { ($0.element.cost, $0.offset) < ($1.element.cost, $1.offset) }
                .map(\.element), by: "AND")
        }

        mutating func factor(depth: Int) throws -> Fragment {
            if isKeyword(peek, "not") {
                guard depth < FilterExpression.maxDepth else {
                    throw WarehouseError.invalid("filter: nested deeper than \(FilterExpression.maxDepth) levels at position \(peek!.position)")
                }
                index += 1
                var inner = try factor(depth: depth + 1)
                inner.sql = "NOT (" + inner.sql + ")"
                return inner
            }
            if isSymbol(peek, "(") {
                index += 1
                var inner = try expression(depth: depth + 1)
                guard isSymbol(peek, ")") else { throw error("')'", at: peek) }
                index += 1
                inner.sql = "(" + inner.sql + ")"
                return inner
            }
            return try comparison()
        }

        mutating func comparison() throws -> Fragment {
            guard let fieldToken = peek, case .identifier(let name) = fieldToken.kind,
                  !["and", "or", "not", "in", "like"].contains(name.lowercased()) else {
                throw error("a field name, NOT or '('", at: peek)
            }
            comparisons += 1
            guard comparisons <= FilterExpression.maxComparisons else {
                throw WarehouseError.invalid("filter: more than \(FilterExpression.maxComparisons) comparisons at position \(fieldToken.position)")
            }
            let field = try Field.resolve(name, position: fieldToken.position)
            index += 1
            var negated = false
            if isKeyword(peek, "not") {
                negated = true
                index += 1
                guard isKeyword(peek, "in") || isKeyword(peek, "like") else { throw error("IN or LIKE after NOT", at: peek) }
            }
            if isKeyword(peek, "in") {
                index += 1
                guard isSymbol(peek, "(") else { throw error("'(' after IN", at: peek) }
                index += 1
                var values: [(SQLiteValue, Token)] = []
                while true {
                    let token = peek
                    values.append((try value(), token!))
                    guard values.count <= FilterExpression.maxListItems else {
                        throw WarehouseError.invalid("filter: an IN list longer than \(FilterExpression.maxListItems) items at position \(token!.position)")
                    }
                    if isSymbol(peek, ",") { index += 1; continue }
                    guard isSymbol(peek, ")") else { throw error("',' or ')'", at: peek) }
                    index += 1
                    break
                }
                var any = Fragment.joined(try values.map { try field.condition("=", $0.0, token: $0.1) }, by: "OR")
                if values.count == 1 { any.sql = "(" + any.sql + ")" }
                if negated { any.sql = "NOT " + any.sql }
                return any
            }
            if isKeyword(peek, "like") {
                index += 1
                let token = peek
                guard case .string(let pattern)? = token?.kind else { throw error("a quoted pattern after LIKE", at: token) }
                index += 1
                var like = try field.condition("LIKE", .text(pattern), token: token!)
                if negated { like.sql = "NOT (" + like.sql + ")" }
                return like
            }
            guard let opToken = peek, case .symbol(let symbol) = opToken.kind, !["(", ")", ","].contains(symbol) else {
                throw error("an operator (= != < <= > >= IN LIKE)", at: peek)
            }
            index += 1
            let token = peek
            let operand = try value()
            return try field.condition(symbol == "<>" ? "!=" : symbol, operand, token: token!)
        }

        mutating func value() throws -> SQLiteValue {
            guard let token = peek else { throw error("a value", at: nil) }
            switch token.kind {
            case .number(let number):
                index += 1
                return number == number.rounded() && abs(number) < 9e15 ? .integer(Int64(number)) : .real(number)
            case .string(let text):
                index += 1
                return .text(text)
            case .identifier(let word) where ["true", "false"].contains(word.lowercased()):
                index += 1
                return .integer(word.lowercased() == "true" ? 1 : 0)
            default:
                throw error("a number or a 'quoted' value", at: token)
            }
        }
    }

    // MARK: - Fields

    /// What a field name means in SQL. Column names come from this table; paths into
    /// custom_metadata are bound; only the fixed fragments are SQL text.
    enum Field {
        case column(String, numeric: Bool)
        /// A stored timestamp (always `YYYY-MM-DDTHH:MM:SS.mmmZ`): compared as an instant.
        case time(String)
        /// A scalar leaf of custom_metadata in `version_fields`; `numeric` nil takes either.
        case custom(path: String, numeric: Bool?)
        case tags
        case format
        case version
        case sizeMB

        static let columns: [String: Field] = [
            "framework": .column("v.framework", numeric: false), "model_type": .column("v.model_type", numeric: false),
            "algorithm": .column("v.algorithm", numeric: false), "name": .column("v.name", numeric: false),
            "model_id": .column("v.model_id", numeric: false), "description": .column("v.description", numeric: false),
            "created_at": .time("v.created_at"), "updated_at": .time("v.updated_at"),
            "num_parameters": .column("v.num_parameters", numeric: true),
            "training_accuracy": .column("v.training_accuracy", numeric: true),
            "validation_accuracy": .column("v.validation_accuracy", numeric: true),
            "test_accuracy": .column("v.test_accuracy", numeric: true),
            "training_loss": .column("v.training_loss", numeric: true),
            "training_dataset": .column("v.training_dataset", numeric: false),
            "tags": .tags, "tag": .tags, "format": .format, "version": .version, "model_size_mb": .sizeMB,
        ]

        /// A key of custom_metadata a filter can name.
        static func isKey(_ part: some StringProtocol) -> Bool {
            !part.isEmpty && part.count <= 64 && part.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }
        }

        static func resolve(_ name: String, position: Int) throws -> Field {
            let lower = name.lowercased()
            if let field = columns[lower] { return field }
            let parts = name.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            func key(_ part: String) throws -> String {
                guard isKey(part) else {
                    throw WarehouseError.invalid("filter: '\(name.prefix(80))' is not a field name at position \(position)")
                }
                return part
            }
            if parts.first?.lowercased() == "metrics", parts.count == 2 {
                return .custom(path: Catalog.heldOutMetricPrefix + (try key(parts[1])), numeric: true)
            }
            if parts.first?.lowercased() == "metrics", parts.count == 3, ["test", "validation", "training"].contains(parts[1].lowercased()) {
                return .custom(path: "metrics.\(parts[1].lowercased())." + (try key(parts[2])), numeric: true)
            }
            if parts.first?.lowercased() == "custom", parts.count >= 2, parts.count <= 6 {
                return .custom(path: try parts.dropFirst().map(key).joined(separator: "."), numeric: nil)
            }
            throw WarehouseError.invalid("filter: unknown field '\(name.prefix(80))' at position \(position) (fields: \(columns.keys.sorted().joined(separator: ", ")), metrics.<name>, custom.<key>)")
        }

        /// `operator` is one of = != < <= > >= LIKE; `value` is bound.
        func condition(_ op: String, _ value: SQLiteValue, token: Token) throws -> Fragment {
            func requireText() throws -> SQLiteValue {
                if case .text = value { return value }
                throw WarehouseError.invalid("filter: expected a 'quoted' value at position \(token.position)")
            }
            func requireNumber() throws -> SQLiteValue {
                switch value {
                case .integer, .real: return value
                default: throw WarehouseError.invalid("filter: expected a number at position \(token.position)")
                }
            }
            let like = op == "LIKE" ? " ESCAPE '\\'" : ""
            switch self {
            case .column(let column, let numeric):
                return Fragment(sql: "\(column) \(op) ?\(like)",
                                bindings: [numeric && op != "LIKE" ? try requireNumber() : try requireText()], cost: 0)
            case .time(let column):
                if op == "LIKE" { return Fragment(sql: "\(column) LIKE ?\(like)", bindings: [try requireText()], cost: 0) }
                guard case .text(let text) = value, let instant = Timestamps.instant(text) else {
                    throw WarehouseError.invalid("filter: expected a time such as '2026-12-05', '2026-12-05T21:03:16Z' or "
                        + "'2026-12-05T22:03:16.890+01:00' at position \(token.position)")
                }
                // The text of the instant in the stored form compares as the instant. A literal
                // finer than the stored milliseconds lies strictly between two stored values,
                // so it equals none and orders like the millisecond below it from above.
                var sqlOperator = op
                if !instant.exact {
                    switch op {
                    case "=": return Fragment(sql: "0", bindings: [], cost: 0)
                    case "!=": return Fragment(sql: "1", bindings: [], cost: 0)
                    case ">=": sqlOperator = ">"
                    case "<": sqlOperator = "<="
                    default: break
                    }
                }
                return Fragment(sql: "\(column) \(sqlOperator) ?", bindings: [.text(instant.canonical)], cost: 0)
            case .custom(let path, let numeric):
                let operand: SQLiteValue
                switch numeric {
                case true?: operand = op == "LIKE" ? try requireText() : try requireNumber()
                case false?: operand = try requireText()
                case nil: operand = value
                }
                if case .text = operand {
                    // Text leaves are looked up per row (by the version's primary key).
                    return Fragment(sql: "EXISTS (SELECT 1 FROM version_fields f WHERE f.version_id = v.id AND f.path = ? AND f.text \(op) ?\(like))",
                                    bindings: [.text(path), operand], cost: 2)
                }
                // Numbers come from the (path, number) index as one set.
                return Fragment(sql: "v.id IN (SELECT f.version_id FROM version_fields f WHERE f.path = ? AND f.number \(op) ?)",
                                bindings: [.text(path), operand], cost: 1)
            case .sizeMB:
                guard op != "LIKE" else { throw WarehouseError.invalid("filter: model_size_mb does not take LIKE (position \(token.position))") }
                let megabytes: Double
                switch try requireNumber() {
                case .integer(let number): megabytes = Double(number)
                case .real(let number): megabytes = number
                default: megabytes = 0
                }
                return Fragment(sql: "v.size_bytes \(op) ?", bindings: [.real(megabytes * 1_048_576)], cost: 0)
            case .tags:
                guard op == "=" || op == "!=" || op == "LIKE" else {
                    throw WarehouseError.invalid("filter: tags take =, !=, IN or LIKE (position \(token.position))")
                }
                let exists = "EXISTS (SELECT 1 FROM version_tags t WHERE t.version_id = v.id AND t.tag \(op == "LIKE" ? "LIKE" : "=") ?\(like))"
                return Fragment(sql: op == "!=" ? "NOT " + exists : exists, bindings: [try requireText()], cost: 2)
            case .format:
                guard op == "=" || op == "!=" else { throw WarehouseError.invalid("filter: format takes =, != or IN (position \(token.position))") }
                let has = "(' ' || v.formats || ' ') LIKE ('% ' || ? || ' %')"
                return Fragment(sql: op == "!=" ? "NOT " + has : has, bindings: [try requireText()], cost: 0)
            case .version:
                guard case .text(let text) = value, let parsed = try? ModelVersionNumber.parse(text) else {
                    throw WarehouseError.invalid("filter: expected a version such as 'v2' or 'v1.2.0' at position \(token.position)")
                }
                guard op != "LIKE" else { throw WarehouseError.invalid("filter: version does not take LIKE (position \(token.position))") }
                return Fragment(sql: "(v.major, v.minor, v.patch) \(op) (?, ?, ?)",
                                bindings: [.integer(Int64(parsed.parts.major)), .integer(Int64(parsed.parts.minor)),
                                           .integer(Int64(parsed.parts.patch))], cost: 0)
            }
        }
    }
}
