import Foundation
import Synchronization
import WarehouseCore

/// The JSON of listing and search pages. Each hit is its record's JSON, plus for text searches
/// `snippet`: the best-matching passage as HTML-escaped text with the matched terms in
/// `<mark>`…`</mark>`.
///
/// Encoding a record with Foundation takes about 165 µs, half of a 20-row page's time at
/// 100,000 models, so each record's bytes are kept by its catalog revision (which changes with
/// every write to the version) and aliases, for the few thousand most recent.
final class SearchHitEncoding: Sendable {
    static let shared = SearchHitEncoding()
    static let capacity = 4096

    private struct Key: Hashable {
        let revision: Int64
        let aliases: [String]
    }

    private let encoded = Mutex<[Key: [UInt8]]>([:])

    func encode(_ hits: [SearchHit]) -> [UInt8] {
        var body: [UInt8] = [UInt8(ascii: "[")]
        for (index, hit) in hits.enumerated() {
            if index > 0 { body.append(UInt8(ascii: ",")) }
            var record = self.record(hit)
            if let snippet = hit.snippet {
                // The record's object without its closing brace, then the snippet member.
                record.removeLast()
                record += Array(",\"snippet\":".utf8) + Self.jsonString(Self.markedHTML(snippet)) + [UInt8(ascii: "}")]
            }
            body += record
        }
        body.append(UInt8(ascii: "]"))
        return body
    }

    private func record(_ hit: SearchHit) -> [UInt8] {
        let key = hit.revision.map { Key(revision: $0, aliases: hit.record.aliases) }
        if let key, let bytes = encoded.withLock({ $0[key] }) { return bytes }
        let bytes = (try? JSON.encode(hit.record)) ?? Array("{}".utf8)
        if let key {
            encoded.withLock { cache in
                if cache.count >= Self.capacity { cache.removeAll(keepingCapacity: true) }
                cache[key] = bytes
            }
        }
        return bytes
    }

    static func jsonString(_ text: String) -> [UInt8] {
        (try? JSONEncoder().encode(text)).map(Array.init) ?? Array("\"\"".utf8)
    }

    /// The snippet's text HTML-escaped, its match markers (U+0001, U+0002) as <mark> tags.
    static func markedHTML(_ snippet: String) -> String {
        HTML.escape(snippet).replacingOccurrences(of: "\u{1}", with: "<mark>").replacingOccurrences(of: "\u{2}", with: "</mark>")
    }
}
