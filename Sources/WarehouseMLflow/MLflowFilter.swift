import Foundation

/// What a search filter compares: a registered model's or a version's attributes, tags,
/// metrics and params.
struct MLflowSearchSubject {
    var strings: [String: String] = [:]
    var numbers: [String: Double] = [:]
    var tags: [String: String] = [:]
    var metrics: [String: Double] = [:]
    var params: [String: String] = [:]
}

/// MLflow's search filter grammar: comparisons joined by `AND` (no `OR`, no parentheses but
/// around `IN` lists). Left: an attribute (`name`, `attribute.name`), a tag (`tag.key`,
/// `tags.\`a.b\``, `tag."k"`), a metric or a param; right: a quoted string, a number, or a
/// list. A missing tag matches nothing, except that a missing `mlflow.prompt.is_prompt`
/// matches `!= 'true'` and `= 'false'` (the client adds that clause to every model search).
struct MLflowFilter {
    enum Kind: Equatable { case attribute, tag, metric, param }
    enum Value: Equatable { case string(String), number(Double), list([String]) }

    struct Clause {
        let kind: Kind
        let key: String
        let op: String
        let value: Value
    }

    let clauses: [Clause]

    /// Parses `text`; `attributes` are the attribute names the search allows, with whether
    /// each is numeric.
    init(_ text: String?, attributes: [String: Bool]) throws {
        guard let text, !text.trimmingCharacters(in: .whitespaces).isEmpty else {
            clauses = []
            return
        }
        var tokens = try Self.tokenize(text)[...]
        var clauses: [Clause] = []
        while true {
            clauses.append(try Self.clause(&tokens, attributes: attributes))
            guard let next = tokens.first else { break }
            guard case .word(let word) = next, word.uppercased() == "AND" else {
                throw MLflowError.invalid("invalid filter '\(text)': expected AND between comparisons (OR is not supported)")
            }
            tokens = tokens.dropFirst()
        }
        self.clauses = clauses
    }

    /// The one value `name = '…'` asks for, if the filter has such a clause (a search can
    /// then read one model instead of all).
    var exactName: String? {
        for clause in clauses where clause.kind == .attribute && clause.key == "name" && clause.op == "=" {
            if case .string(let name) = clause.value { return name }
        }
        return nil
    }

    func matches(_ subject: MLflowSearchSubject) -> Bool {
        clauses.allSatisfy { Self.matches($0, subject) }
    }

    static func matches(_ clause: Clause, _ subject: MLflowSearchSubject) -> Bool {
        switch clause.kind {
        case .attribute:
            if let number = subject.numbers[clause.key] { return compare(number, clause) }
            return compare(subject.strings[clause.key] ?? "", clause)
        case .tag:
            guard let value = subject.tags[clause.key] else {
                if clause.key == "mlflow.prompt.is_prompt", case .string(let wanted) = clause.value {
                    return (clause.op == "!=" && wanted == "true") || (clause.op == "=" && wanted == "false")
                }
                return false
            }
            return compare(value, clause)
        case .metric:
            guard let value = subject.metrics[clause.key] else { return false }
            return compare(value, clause)
        case .param:
            guard let value = subject.params[clause.key] else { return false }
            return compare(value, clause)
        }
    }

    static func compare(_ value: String, _ clause: Clause) -> Bool {
        switch (clause.op, clause.value) {
        case ("=", .string(let wanted)): return value == wanted
        case ("!=", .string(let wanted)): return value != wanted
        case ("LIKE", .string(let pattern)): return like(value, pattern, ignoringCase: false)
        case ("ILIKE", .string(let pattern)): return like(value, pattern, ignoringCase: true)
        case ("IN", .list(let items)): return items.contains(value)
        case ("NOT IN", .list(let items)): return !items.contains(value)
        case (_, .number(let number)): return Double(value).map { compare($0, Clause(kind: clause.kind, key: clause.key, op: clause.op, value: .number(number))) } ?? false
        default: return false
        }
    }

    static func compare(_ value: Double, _ clause: Clause) -> Bool {
        let wanted: Double
        switch clause.value {
        case .number(let number): wanted = number
        case .string(let text): guard let number = Double(text) else { return false }; wanted = number
        case .list(let items): return (clause.op == "IN") == items.compactMap(Double.init).contains(value)
        }
        switch clause.op {
        case "=": return value == wanted
        case "!=": return value != wanted
        case "<": return value < wanted
        case "<=": return value <= wanted
        case ">": return value > wanted
        case ">=": return value >= wanted
        default: return false
        }
    }

    /// SQL's LIKE: `%` any run, `_` one character.
    static func like(_ value: String, _ pattern: String, ignoringCase: Bool) -> Bool {
        let text = Array(ignoringCase ? value.lowercased() : value)
        let pattern = Array(ignoringCase ? pattern.lowercased() : pattern)
        // matched[j]: text[..<i] matches pattern[..<j]
        var matched = [Bool](repeating: false, count: pattern.count + 1)
        matched[0] = true
        for j in pattern.indices where pattern[j] == "%" { matched[j + 1] = matched[j] }
        for character in text {
            var next = [Bool](repeating: false, count: pattern.count + 1)
            for j in pattern.indices {
                switch pattern[j] {
                case "%": next[j + 1] = next[j] || matched[j + 1]
                case "_": next[j + 1] = matched[j]
                default: next[j + 1] = matched[j] && pattern[j] == character
                }
            }
            matched = next
        }
        return matched[pattern.count]
    }

    // MARK: - Parsing

    enum Token: Equatable {
        case word(String)       // bare identifier, keyword or number
        case quoted(String)     // '…' or "…"
        case backticked(String) // `…`
        case symbol(String)     // = != < <= > >= ( ) , .
    }

    static func tokenize(_ text: String) throws -> [Token] {
        var tokens: [Token] = []
        let characters = Array(text)
        var index = 0
        func bad(_ why: String) -> MLflowError { MLflowError.invalid("invalid filter '\(text)': \(why)") }
        while index < characters.count {
            let character = characters[index]
            if character.isWhitespace { index += 1; continue }
            if character == "'" || character == "\"" || character == "`" {
                var end = index + 1
                var value = ""
                while end < characters.count, characters[end] != character {
                    value.append(characters[end])
                    end += 1
                }
                guard end < characters.count else { throw bad("unterminated \(character)") }
                tokens.append(character == "`" ? .backticked(value) : .quoted(value))
                index = end + 1
                continue
            }
            if "=!<>".contains(character) {
                if index + 1 < characters.count, characters[index + 1] == "=" {
                    tokens.append(.symbol(String(character) + "="))
                    index += 2
                } else if character == "!" {
                    throw bad("'!' must be '!='")
                } else {
                    tokens.append(.symbol(String(character)))
                    index += 1
                }
                continue
            }
            if "(),.".contains(character) {
                // A dot inside a number or identifier is part of it.
                if character == ".", let last = tokens.last, case .word(let word) = last, word.first?.isNumber == true,
                   index + 1 < characters.count, characters[index + 1].isNumber {
                    tokens[tokens.count - 1] = .word(word + ".")
                    index += 1
                    var digits = ""
                    while index < characters.count, characters[index].isNumber { digits.append(characters[index]); index += 1 }
                    tokens[tokens.count - 1] = .word(word + "." + digits)
                    continue
                }
                tokens.append(.symbol(String(character)))
                index += 1
                continue
            }
            var word = ""
            while index < characters.count {
                let next = characters[index]
                if next.isWhitespace || "=!<>(),.'\"`".contains(next) { break }
                word.append(next)
                index += 1
            }
            guard !word.isEmpty else { throw bad("unexpected '\(character)'") }
            tokens.append(.word(word))
        }
        return tokens
    }

    static func clause(_ tokens: inout ArraySlice<Token>, attributes: [String: Bool]) throws -> Clause {
        func bad(_ why: String) -> MLflowError { MLflowError.invalid("invalid filter: \(why)") }
        func take() -> Token? {
            defer { tokens = tokens.dropFirst() }
            return tokens.first
        }
        // Left side: [prefix .] key
        guard let first = take() else { throw bad("a comparison is missing") }
        var kind = Kind.attribute
        var key: String
        switch first {
        case .word(let word): key = word
        case .backticked(let word), .quoted(let word): key = word
        default: throw bad("expected a key, got \(first)")
        }
        if case .word(let prefix) = first, tokens.first == .symbol(".") {
            tokens = tokens.dropFirst()
            switch prefix.lowercased() {
            case "attribute", "attributes", "attr": kind = .attribute
            case "tag", "tags": kind = .tag
            case "metric", "metrics": kind = .metric
            case "param", "params", "parameter", "parameters": kind = .param
            default: throw bad("unknown key type '\(prefix)': use attribute., tag., metric. or param.")
            }
            guard let keyToken = take() else { throw bad("a key is missing after '\(prefix).'") }
            switch keyToken {
            case .word(var word), .backticked(var word), .quoted(var word):
                // tag.a.b without quotes: the rest of the dotted name.
                if case .word = keyToken {
                    while tokens.first == .symbol("."), case .word(let more)? = tokens.dropFirst().first {
                        word += "." + more
                        tokens = tokens.dropFirst(2)
                    }
                }
                key = word
            default: throw bad("expected a key after '\(prefix).'")
            }
        }
        if kind == .attribute {
            guard attributes[key] != nil else {
                throw bad("invalid attribute key '\(key)': valid ones are \(attributes.keys.sorted().joined(separator: ", "))")
            }
        }
        // Operator
        guard let opToken = take() else { throw bad("an operator is missing after '\(key)'") }
        var op: String
        switch opToken {
        case .symbol(let symbol) where ["=", "!=", "<", "<=", ">", ">="].contains(symbol): op = symbol
        case .word(let word) where ["LIKE", "ILIKE", "IN"].contains(word.uppercased()): op = word.uppercased()
        case .word(let word) where word.uppercased() == "NOT":
            guard case .word(let next)? = take(), next.uppercased() == "IN" else { throw bad("expected IN after NOT") }
            op = "NOT IN"
        default: throw bad("unknown operator \(opToken)")
        }
        // Value
        let value: Value
        if op == "IN" || op == "NOT IN" {
            guard take() == .symbol("(") else { throw bad("\(op) needs a list in parentheses") }
            var items: [String] = []
            while true {
                switch take() {
                case .quoted(let item)?: items.append(item)
                case .word(let item)?: items.append(item)
                default: throw bad("\(op) lists quoted strings")
                }
                let separator = take()
                if separator == .symbol(")") { break }
                guard separator == .symbol(",") else { throw bad("expected ',' or ')' in the \(op) list") }
            }
            value = .list(items)
        } else {
            switch take() {
            case .quoted(let text)?: value = .string(text)
            case .word(let word)?:
                guard let number = Double(word) else { throw bad("expected a quoted string or a number, got '\(word)'") }
                value = .number(number)
            default: throw bad("a value is missing after '\(key) \(op)'")
            }
        }
        let numeric = kind == .metric || (kind == .attribute && attributes[key] == true)
        if numeric, ["LIKE", "ILIKE"].contains(op) { throw bad("\(op) compares strings; '\(key)' is a number") }
        if !numeric, ["<", "<=", ">", ">="].contains(op), kind != .param { throw bad("'\(op)' compares numbers; '\(key)' is a string") }
        return Clause(kind: kind, key: key, op: op, value: value)
    }
}

/// `order_by` entries: `"<key> [ASC|DESC]"`.
struct MLflowOrder {
    let key: String
    let ascending: Bool

    static func parse(_ entries: [String], allowed: Set<String>) throws -> [MLflowOrder] {
        try entries.filter { !$0.isEmpty }.map { entry in
            let words = entry.split(separator: " ").map(String.init)
            guard (1...2).contains(words.count) else { throw MLflowError.invalid("invalid order_by '\(entry)'") }
            var key = words[0]
            if key.hasPrefix("attribute.") { key = String(key.dropFirst("attribute.".count)) }
            guard allowed.contains(key) else {
                throw MLflowError.invalid("invalid order_by key '\(key)': valid ones are \(allowed.sorted().joined(separator: ", "))")
            }
            let direction = words.count == 2 ? words[1].uppercased() : "ASC"
            guard direction == "ASC" || direction == "DESC" else { throw MLflowError.invalid("invalid order_by direction '\(words[1])'") }
            return MLflowOrder(key: key, ascending: direction == "ASC")
        }
    }
}
