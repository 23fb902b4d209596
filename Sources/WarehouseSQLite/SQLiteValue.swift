/// A value bound to or read from SQLite.
public enum SQLiteValue: Sendable, Equatable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])
}

extension SQLiteValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByNilLiteral {
    public init(stringLiteral value: String) { self = .text(value) }
    public init(integerLiteral value: Int64) { self = .integer(value) }
    public init(nilLiteral: ()) { self = .null }
}

extension SQLiteValue {
    public init(_ value: String?) { self = value.map(SQLiteValue.text) ?? .null }
    public init(_ value: Int?) { self = value.map { .integer(Int64($0)) } ?? .null }
    public init(_ value: Int64?) { self = value.map(SQLiteValue.integer) ?? .null }
    public init(_ value: Double?) { self = value.map(SQLiteValue.real) ?? .null }
    public init(_ value: Bool) { self = .integer(value ? 1 : 0) }
    public init(_ value: Bool?) { self = value.map { .integer($0 ? 1 : 0) } ?? .null }
}

/// One result row; columns are looked up by name.
public struct SQLiteRow: Sendable {
    public let columnNames: [String]
    public let values: [SQLiteValue]

    public subscript(_ column: String) -> SQLiteValue {
        guard let index = columnNames.firstIndex(of: column) else {
            preconditionFailure("no column \(column) in row \(columnNames)")
        }
        return values[index]
    }

    public func string(_ column: String) -> String? {
        switch self[column] {
        case .text(let text): return text
        case .integer(let number): return String(number)
        case .real(let number): return String(number)
        case .blob(let bytes): return String(decoding: bytes, as: UTF8.self)
        case .null: return nil
        }
    }

    public func int(_ column: String) -> Int? {
        switch self[column] {
        case .integer(let number): return Int(number)
        case .real(let number): return Int(number)
        case .text(let text): return Int(text)
        default: return nil
        }
    }

    public func double(_ column: String) -> Double? {
        switch self[column] {
        case .real(let number): return number
        case .integer(let number): return Double(number)
        case .text(let text): return Double(text)
        default: return nil
        }
    }

    public func bool(_ column: String) -> Bool { (int(column) ?? 0) != 0 }
}
