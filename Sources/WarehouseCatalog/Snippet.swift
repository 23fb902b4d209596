import Foundation
import WarehouseCore

/// The best-matching passage of a search hit, with each matched word between U+0001 and
/// U+0002. Computed from the record rather than with FTS5's snippet(), which runs the whole
/// match again for every hit (a quarter of a text search's time at 100,000 models). Words are
/// matched as FTS5 does: runs of letters and digits, compared without case or diacritics, each
/// query word as a prefix.
public enum Snippet {
    static let words = 16

    static func make(text query: String, record: ModelVersionRecord) -> String? {
        // Columns in the order FTS5's snippet() would prefer them on a tie.
        make(text: query, columns: [record.name, record.description ?? "", record.tags.joined(separator: " "), record.algorithm ?? "",
                                    record.modelID, record.searchDetails])
    }

    /// The passage of the column that holds most of the query's words (the first on a tie).
    public static func make(text query: String, columns: [String]) -> String? {
        let terms = Set(tokens(query).map { fold(query[$0]) })
        guard !terms.isEmpty else { return nil }
        var best: (text: String, tokens: [Range<String.Index>], matched: [Bool], score: Int)?
        for text in columns {
            let ranges = tokens(text)
            let folded = ranges.map { fold(text[$0]) }
            let matched = folded.map { word in terms.contains { word.hasPrefix($0) } }
            // How many of the query's words the column holds.
            let score = terms.filter { term in folded.contains { $0.hasPrefix(term) } }.count
            if score > (best?.score ?? 0) { best = (text, ranges, matched, score) }
        }
        guard let best, let first = best.matched.firstIndex(of: true) else { return nil }
        // A window of `words` words that starts a little before the first match.
        let start = max(0, min(first - 2, best.tokens.count - words))
        let end = min(best.tokens.count, start + words)
        var passage = start > 0 ? "…" : ""
        var cursor = start > 0 ? best.tokens[start].lowerBound : best.text.startIndex
        for index in start..<end {
            let range = best.tokens[index]
            passage += best.text[cursor..<range.lowerBound]
            passage += best.matched[index] ? "\u{1}" + best.text[range] + "\u{2}" : String(best.text[range])
            cursor = range.upperBound
        }
        passage += end < best.tokens.count ? best.text[cursor..<best.tokens[end].lowerBound].trimmingCharacters(in: .whitespaces) + "…"
            : String(best.text[cursor...])
        return passage
    }

    /// Runs of letters and digits, as FTS5's unicode61 tokenizer splits text.
    static func tokens(_ text: String) -> [Range<String.Index>] {
        var ranges: [Range<String.Index>] = []
        var start: String.Index?
        var index = text.startIndex
        while index < text.endIndex {
            let next = text.index(after: index)
            let isWord = text[index].unicodeScalars.contains { $0.properties.isAlphabetic || $0.properties.numericType != nil }
            if isWord, start == nil { start = index }
            if !isWord, let begun = start { ranges.append(begun..<index); start = nil }
            index = next
        }
        if let begun = start { ranges.append(begun..<text.endIndex) }
        return ranges
    }

    static func fold(_ word: Substring) -> String {
        word.folding(options: [.caseInsensitive, .diacriticInsensitive], locale: nil)
    }
}
