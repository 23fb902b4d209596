/// A failed SQLite call, carrying SQLite's own message and the SQL that caused it.
public struct SQLiteError: Error, CustomStringConvertible, Sendable {
    /// Primary result code (`SQLITE_CONSTRAINT`, `SQLITE_BUSY`, …): match on these, never on text.
    public let code: ResultCode
    /// Extended result code (`SQLITE_CONSTRAINT_UNIQUE`, …).
    public let extendedCode: Int32
    public let message: String
    public let sql: String?

    public var description: String {
        if let sql { return "SQLite error \(extendedCode): \(message) (in: \(sql))" }
        return "SQLite error \(extendedCode): \(message)"
    }

    public struct ResultCode: Equatable, Sendable {
        public let rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }

        public static let error = ResultCode(rawValue: 1)
        public static let busy = ResultCode(rawValue: 5)
        public static let locked = ResultCode(rawValue: 6)
        public static let readOnly = ResultCode(rawValue: 8)
        public static let corrupt = ResultCode(rawValue: 11)
        public static let full = ResultCode(rawValue: 13)
        public static let cantOpen = ResultCode(rawValue: 14)
        public static let constraint = ResultCode(rawValue: 19)
        public static let mismatch = ResultCode(rawValue: 20)

        /// Lets `catch let error as SQLiteError where .constraint ~= error` read naturally.
        public static func ~= (pattern: ResultCode, error: SQLiteError) -> Bool {
            pattern == error.code
        }
    }

    /// Extended code of a UNIQUE or PRIMARY KEY violation.
    public var isUniqueViolation: Bool {
        extendedCode == 2067 /* SQLITE_CONSTRAINT_UNIQUE */ || extendedCode == 1555 /* SQLITE_CONSTRAINT_PRIMARYKEY */
    }
}
