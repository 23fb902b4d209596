import Foundation

/// A CSV file that cannot be read, with the 1-based line where reading stopped.
public struct CSVError: Error, CustomStringConvertible, Sendable {
    public let line: Int
    public let message: String
    public var description: String { "CSV line \(line): \(message)" }
}

/// The dialect of a CSV file: its delimiter and whether it starts with a UTF-8 byte order mark.
public struct CSVDialect: Sendable, Equatable {
    public var delimiter: UInt8
    public var hasBOM: Bool

    public static let candidates: [UInt8] = [UInt8(ascii: ","), UInt8(ascii: ";"), UInt8(ascii: "\t"), UInt8(ascii: "|")]

    /// Picks the candidate delimiter that splits the first lines into the same number (> 1) of
    /// fields most often, counting only outside quotes; ties go to the earlier candidate.
    public static func sniff(_ head: [UInt8]) -> CSVDialect {
        let bom = head.starts(with: [0xEF, 0xBB, 0xBF])
        let text = bom ? Array(head.dropFirst(3)) : head
        var best = (delimiter: UInt8(ascii: ","), score: -1)
        for delimiter in candidates {
            var counts: [Int] = []
            var current = 0
            var inQuotes = false
            for byte in text {
                if byte == UInt8(ascii: "\"") { inQuotes.toggle() }
                else if !inQuotes && byte == delimiter { current += 1 }
                else if !inQuotes && byte == UInt8(ascii: "\n") {
                    counts.append(current)
                    current = 0
                    if counts.count == 50 { break }
                }
            }
            if current > 0 { counts.append(current) }
            guard let first = counts.first, first > 0 else { continue }
            let consistent = counts.filter { $0 == first }.count
            let score = consistent * 1000 + first
            if score > best.score { best = (delimiter, score) }
        }
        return CSVDialect(delimiter: best.delimiter, hasBOM: bom)
    }
}

/// Streams the records of an RFC 4180 CSV file: quoted fields, doubled quotes, line breaks
/// inside quotes, CRLF or LF. Fields are decoded as UTF-8, falling back to Latin-1 for a
/// field that is not valid UTF-8. Memory is one read buffer plus the current record.
public final class CSVReader {
    public let dialect: CSVDialect
    private let handle: FileHandle
    private var buffer: [UInt8] = []
    private var position = 0
    private var atEnd = false
    /// 1-based number of the line the next record starts on.
    public private(set) var line = 1
    private var field: [UInt8] = []

    public init(path: String) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw CSVError(line: 0, message: "cannot open \(path)")
        }
        self.handle = handle
        let head = (try? handle.read(upToCount: 64 * 1024)).flatMap { $0 }.map { Array($0) } ?? []
        dialect = CSVDialect.sniff(head)
        buffer = head
        position = dialect.hasBOM ? 3 : 0
        if head.isEmpty { atEnd = true }
    }

    deinit { try? handle.close() }

    private func refill() -> Bool {
        guard !atEnd else { return false }
        if let data = try? handle.read(upToCount: 1 << 20), !data.isEmpty {
            buffer = Array(data)
            position = 0
            return true
        }
        atEnd = true
        return false
    }

    @inline(__always) private func nextByte() -> UInt8? {
        if position == buffer.count && !refill() { return nil }
        let byte = buffer[position]
        position += 1
        return byte
    }

    @inline(__always) private func peekByte() -> UInt8? {
        if position == buffer.count && !refill() { return nil }
        return buffer[position]
    }

    /// The next record, or nil at the end of the file. Blank lines are skipped.
    public func next() throws -> [String]? {
        var record: [String] = []
        let quote = UInt8(ascii: "\""), cr = UInt8(ascii: "\r"), lf = UInt8(ascii: "\n")
        let delimiter = dialect.delimiter
        let startLine = line
        field.removeAll(keepingCapacity: true)
        var quoted = false
        var sawAny = false
        while true {
            guard let byte = nextByte() else {
                if !sawAny { return nil }
                record.append(decode(field))
                return record
            }
            sawAny = true
            if byte == quote && field.isEmpty && !quoted {
                quoted = true
                try readQuoted(startLine: startLine)
                // After the closing quote only a delimiter or the end of the record may follow.
                let after = peekByte()
                if let after, after != delimiter, after != cr, after != lf {
                    throw CSVError(line: line, message: "unexpected character '\(Character(Unicode.Scalar(after)))' after a closing quote (a quote inside a quoted field must be doubled)")
                }
                continue
            }
            if byte == delimiter {
                record.append(decode(field))
                field.removeAll(keepingCapacity: true)
                quoted = false
            } else if byte == lf || byte == cr {
                if byte == cr, peekByte() == lf { position += 1 }
                line += 1
                if record.isEmpty && field.isEmpty && !quoted {
                    sawAny = false
                    continue // blank line
                }
                record.append(decode(field))
                return record
            } else {
                field.append(byte)
            }
        }
    }

    private func readQuoted(startLine: Int) throws {
        let quote = UInt8(ascii: "\"")
        while true {
            guard let byte = nextByte() else {
                throw CSVError(line: startLine, message: "a quoted field is never closed (opened on line \(startLine))")
            }
            if byte == quote {
                if peekByte() == quote {
                    position += 1
                    field.append(quote)
                } else {
                    return
                }
            } else {
                if byte == UInt8(ascii: "\n") { line += 1 }
                field.append(byte)
            }
        }
    }

    private func decode(_ bytes: [UInt8]) -> String {
        if let text = String(validating: bytes, as: UTF8.self) { return text }
        return String(bytes.map { Character(Unicode.Scalar($0)) })
    }
}

/// Values that mean "missing" in a CSV cell (case-insensitive, surrounding spaces ignored).
public enum MissingValues {
    static let tokens: Set<String> = ["", "na", "n/a", "nan", "null", "none", "?", "nil", "-nan", "#n/a"]

    @inline(__always) public static func isMissing(_ value: String) -> Bool {
        let utf8 = value.utf8
        if utf8.isEmpty { return true }
        // Every token is at most 5 letters (plus spaces) and starts with one of these bytes.
        guard utf8.count <= 8, let first = utf8.first else { return false }
        switch first {
        case UInt8(ascii: "n"), UInt8(ascii: "N"), UInt8(ascii: "?"), UInt8(ascii: "-"), UInt8(ascii: "#"), UInt8(ascii: " "),
             UInt8(ascii: "\t"):
            return tokens.contains(Text.trim(value).lowercased())
        default:
            return false
        }
    }
}

enum Text {
    /// `value` without leading and trailing spaces and tabs; no copy when there are none.
    @inline(__always) static func trim(_ value: String) -> String {
        let utf8 = value.utf8
        guard let first = utf8.first, let last = utf8.last else { return value }
        func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 }
        if !isSpace(first) && !isSpace(last) { return value }
        let bytes = Array(utf8)
        var start = 0, end = bytes.count
        while start < end && isSpace(bytes[start]) { start += 1 }
        while end > start && isSpace(bytes[end - 1]) { end -= 1 }
        return String(decoding: bytes[start..<end], as: UTF8.self)
    }
}

/// Reads a header and rows, checking that each row has as many fields as the header.
public struct CSVTable {
    public let header: [String]
    let reader: CSVReader

    public init(path: String) throws {
        reader = try CSVReader(path: path)
        guard let header = try reader.next() else {
            throw CSVError(line: 1, message: "the file is empty; a header row is required")
        }
        let names = header.map { $0.trimmingCharacters(in: .whitespaces) }
        if let empty = names.firstIndex(of: "") {
            throw CSVError(line: 1, message: "column \(empty + 1) of the header has no name")
        }
        var seen = Set<String>()
        for name in names where !seen.insert(name).inserted {
            throw CSVError(line: 1, message: "the header names column '\(name)' twice")
        }
        self.header = names
    }

    /// Calls `body` with each row; a row with a different number of fields is an error.
    public func forEachRow(_ body: ([String]) throws -> Void) throws {
        while true {
            let line = reader.line
            guard let row = try reader.next() else { return }
            guard row.count == header.count else {
                throw CSVError(line: line, message: "expected \(header.count) fields as in the header, found \(row.count)")
            }
            try body(row)
        }
    }
}
