import WarehouseCore

/// The YAML front matter of a model card (`README.md` between `---` lines), as the Hub shows
/// it in `cardData`. Reads the subset model cards use: `key: value` scalars, lists written as
/// `- item` lines or `[a, b]`, and one level of nested `key:` maps; anything else is skipped.
enum ModelCard {
    static func frontMatter(_ text: String) -> [String: JSONValue]? {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.hasSuffix("\r") ? String($0.dropLast()) : String($0) }
        guard lines.first?.trimmingCharacters(in: .whitespaces) == "---",
              let end = lines.dropFirst().firstIndex(where: { $0.trimmingCharacters(in: .whitespaces) == "---" }) else { return nil }
        var result: [String: JSONValue] = [:]
        var openKey: String?
        var openList: [JSONValue]?
        var openMap: [String: JSONValue]?
        func close() {
            if let key = openKey {
                if let list = openList { result[key] = .array(list) } else if let map = openMap { result[key] = .object(map) } else { result[key] = .null }
            }
            (openKey, openList, openMap) = (nil, nil, nil)
        }
        for line in lines[1..<end] {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            let indented = line.first == " " || line.first == "\t"
            if trimmed.hasPrefix("- ") || trimmed == "-", openKey != nil, openMap == nil {
                openList = (openList ?? []) + [scalar(String(trimmed.dropFirst()).trimmingCharacters(in: .whitespaces))]
                continue
            }
            if indented, openKey != nil, openList == nil, let (key, value) = pair(trimmed) {
                openMap = (openMap ?? [:]).merging([key: value.isEmpty ? .null : scalar(value)]) { _, new in new }
                continue
            }
            if indented { continue }
            close()
            guard let (key, value) = pair(trimmed) else { continue }
            if value.isEmpty { openKey = key } else { result[key] = scalar(value) }
        }
        close()
        return result
    }

    private static func pair(_ line: String) -> (String, String)? {
        guard let colon = line.firstIndex(of: ":") else { return nil }
        let key = unquote(line[..<colon].trimmingCharacters(in: .whitespaces))
        guard !key.isEmpty else { return nil }
        return (key, line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
    }

    private static func scalar(_ text: String) -> JSONValue {
        var value = text
        if !value.hasPrefix("\""), !value.hasPrefix("'"), let hash = value.range(of: " #") { value = String(value[..<hash.lowerBound]) }
        value = value.trimmingCharacters(in: .whitespaces)
        if value.hasPrefix("["), value.hasSuffix("]") {
            let inner = value.dropFirst().dropLast().trimmingCharacters(in: .whitespaces)
            return .array(inner.isEmpty ? [] : inner.split(separator: ",").map { scalar(String($0).trimmingCharacters(in: .whitespaces)) })
        }
        if value.hasPrefix("\"") || value.hasPrefix("'") { return .string(unquote(value)) }
        switch value {
        case "true", "True": return .bool(true)
        case "false", "False": return .bool(false)
        case "null", "~", "": return .null
        default:
            if let integer = Int64(value) { return .int(integer) }
            if let number = Double(value), value.contains(".") { return .double(number) }
            return .string(value)
        }
    }

    private static func unquote(_ text: String) -> String {
        guard text.count >= 2, let first = text.first, first == "\"" || first == "'", text.last == first else { return text }
        return String(text.dropFirst().dropLast())
    }
}
