import Foundation

/// Turns whatever a user typed into a safe FTS5 query.
///
/// Each whitespace-separated word becomes a quoted phrase with a prefix match (`"resn"*`), so
/// FTS5 syntax a user types (AND, OR, NOT, *, quotes, parentheses, column filters) is searched
/// as text and can never be a syntax error. Words are ANDed. Words with no letter or digit are
/// dropped; nil means there is nothing to search for.
enum FullTextQuery {
    static func make(from text: String) -> String? {
        let words = text.split(whereSeparator: { $0.isWhitespace })
            .filter { word in word.unicodeScalars.contains { $0.properties.isAlphabetic || $0.properties.numericType != nil } }
            .prefix(32)
        guard !words.isEmpty else { return nil }
        return words.map { "\"" + $0.replacingOccurrences(of: "\"", with: "\"\"") + "\"*" }.joined(separator: " ")
    }
}
