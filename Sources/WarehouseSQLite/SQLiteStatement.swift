internal import CSQLite

/// A prepared statement, finalized in `deinit`.
final class SQLiteStatement {
    private let statement: OpaquePointer
    private unowned let connection: SQLiteConnection
    let sql: String
    private let columnNames: [String]

    init(connection: SQLiteConnection, handle: OpaquePointer, sql: String) throws {
        var pointer: OpaquePointer?
        let status = sqlite3_prepare_v2(handle, sql, -1, &pointer, nil)
        guard status == SQLITE_OK, let pointer else {
            throw connection.error(status: status, sql: sql)
        }
        self.statement = pointer
        self.connection = connection
        self.sql = sql
        let count = sqlite3_column_count(pointer)
        self.columnNames = (0..<count).map { String(cString: sqlite3_column_name(pointer, $0)) }
    }

    deinit {
        sqlite3_finalize(statement)
    }

    func bind(_ values: [SQLiteValue]) throws {
        let expected = Int(sqlite3_bind_parameter_count(statement))
        guard expected == values.count else {
            throw SQLiteError(code: .error, extendedCode: 1,
                              message: "expected \(expected) bindings, got \(values.count)", sql: sql)
        }
        for (offset, value) in values.enumerated() {
            let index = Int32(offset + 1)
            let status: Int32
            switch value {
            case .null: status = sqlite3_bind_null(statement, index)
            case .integer(let number): status = sqlite3_bind_int64(statement, index, number)
            case .real(let number): status = sqlite3_bind_double(statement, index, number)
            case .text(let text):
                status = text.withCString { mw_sqlite3_bind_text_transient(statement, index, $0, -1) }
            case .blob(let bytes):
                status = bytes.withUnsafeBytes {
                    mw_sqlite3_bind_blob_transient(statement, index, $0.baseAddress, Int32($0.count))
                }
            }
            if status != SQLITE_OK { throw connection.error(status: status, sql: sql) }
        }
    }

    /// Next row, or nil when done.
    func step() throws -> SQLiteRow? {
        let status = sqlite3_step(statement)
        switch status {
        case SQLITE_ROW:
            return SQLiteRow(columnNames: columnNames, values: (0..<Int32(columnNames.count)).map(value(at:)))
        case SQLITE_DONE:
            return nil
        default:
            throw connection.error(status: status, sql: sql)
        }
    }

    /// Steps to the next row; false when done.
    func advance() throws -> Bool {
        let status = sqlite3_step(statement)
        switch status {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default: throw connection.error(status: status, sql: sql)
        }
    }

    func reset() {
        sqlite3_reset(statement)
        sqlite3_clear_bindings(statement)
    }

    func int64(at index: Int32) -> Int64 { sqlite3_column_int64(statement, index) }

    func value(at index: Int32) -> SQLiteValue {
        switch sqlite3_column_type(statement, index) {
        case SQLITE_INTEGER: return .integer(sqlite3_column_int64(statement, index))
        case SQLITE_FLOAT: return .real(sqlite3_column_double(statement, index))
        case SQLITE_TEXT:
            return .text(String(cString: sqlite3_column_text(statement, index)))
        case SQLITE_BLOB:
            let count = Int(sqlite3_column_bytes(statement, index))
            guard count > 0, let base = sqlite3_column_blob(statement, index) else { return .blob([]) }
            return .blob(Array(UnsafeRawBufferPointer(start: base, count: count)))
        default: return .null
        }
    }
}

/// The current row of a statement stepped by `SQLiteConnection.forEachRow`; valid only inside
/// the callback.
public struct SQLiteColumns: ~Copyable {
    let statement: SQLiteStatement

    public func value(_ index: Int32) -> SQLiteValue { statement.value(at: index) }

    public func int64(_ index: Int32) -> Int64 { statement.int64(at: index) }
}
