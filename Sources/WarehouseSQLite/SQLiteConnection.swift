internal import CSQLite

/// One SQLite connection with a cache of prepared statements.
///
/// Not `Sendable`: a connection is used by one thread at a time; the catalog guards each
/// connection with a lock (one writer, a pool of readers).
public final class SQLiteConnection {
    private let handle: OpaquePointer
    private var statementCache: [String: SQLiteStatement] = [:]
    public let path: String

    /// Opens (creating if asked) the database at `path`, in WAL mode with a busy timeout so
    /// readers and the writer never fail on a momentary lock.
    public init(path: String, readOnly: Bool = false, busyTimeoutMilliseconds: Int32 = 10_000) throws {
        var pointer: OpaquePointer?
        let flags = (readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)
            | SQLITE_OPEN_NOMUTEX
        let status = sqlite3_open_v2(path, &pointer, flags, nil)
        guard status == SQLITE_OK, let pointer else {
            let message = pointer.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            sqlite3_close_v2(pointer)
            throw SQLiteError(code: .init(rawValue: status & 0xff), extendedCode: status, message: message, sql: nil)
        }
        self.handle = pointer
        self.path = path
        sqlite3_extended_result_codes(handle, 1)
        sqlite3_busy_timeout(handle, busyTimeoutMilliseconds)
        if !readOnly {
            try execute("PRAGMA journal_mode=WAL")
        }
        // Memory-mapped reads: catalog scans skip a read() per page (half their time at 100k models).
        try execute("PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL; PRAGMA mmap_size=1073741824; PRAGMA cache_size=-32768")
    }

    deinit {
        statementCache.removeAll()
        sqlite3_close_v2(handle)
    }

    /// Runs one or more statements that take no parameters.
    public func execute(_ sql: String) throws {
        var errorMessage: UnsafeMutablePointer<CChar>?
        let status = sqlite3_exec(handle, sql, nil, nil, &errorMessage)
        if status != SQLITE_OK {
            let message = errorMessage.map { String(cString: $0) } ?? lastMessage
            sqlite3_free(errorMessage)
            throw SQLiteError(code: .init(rawValue: status & 0xff), extendedCode: status, message: message, sql: sql)
        }
    }

    /// Runs one statement with parameters and returns its rows.
    @discardableResult
    public func query(_ sql: String, _ bindings: [SQLiteValue] = []) throws -> [SQLiteRow] {
        let statement = try cachedStatement(sql)
        defer { statement.reset() }
        try statement.bind(bindings)
        var rows: [SQLiteRow] = []
        while let row = try statement.step() {
            rows.append(row)
        }
        return rows
    }

    /// Runs one statement and hands each row's values, by column position, to `body` without
    /// building a row per result: for queries that return many thousands of rows.
    public func forEachRow(_ sql: String, _ bindings: [SQLiteValue] = [], _ body: (borrowing SQLiteColumns) throws -> Void) throws {
        let statement = try cachedStatement(sql)
        defer { statement.reset() }
        try statement.bind(bindings)
        while try statement.advance() {
            try body(SQLiteColumns(statement: statement))
        }
    }

    /// Runs one statement with parameters and returns its first row, if any.
    public func queryOne(_ sql: String, _ bindings: [SQLiteValue] = []) throws -> SQLiteRow? {
        try query(sql, bindings).first
    }

    /// Runs a statement that returns no rows; answers how many rows it changed.
    @discardableResult
    public func run(_ sql: String, _ bindings: [SQLiteValue] = []) throws -> Int {
        try query(sql, bindings)
        return Int(sqlite3_changes(handle))
    }

    public var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }

    /// Runs `body` in a `BEGIN IMMEDIATE` transaction: the write lock is taken up front so
    /// a concurrent writer waits at BEGIN instead of failing at COMMIT.
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    var lastMessage: String { String(cString: sqlite3_errmsg(handle)) }

    func error(status: Int32, sql: String?) -> SQLiteError {
        SQLiteError(code: .init(rawValue: status & 0xff), extendedCode: sqlite3_extended_errcode(handle),
                    message: lastMessage, sql: sql)
    }

    private func cachedStatement(_ sql: String) throws -> SQLiteStatement {
        if let statement = statementCache[sql] { return statement }
        let statement = try SQLiteStatement(connection: self, handle: handle, sql: sql)
        if statementCache.count > 200 { statementCache.removeAll() }
        statementCache[sql] = statement
        return statement
    }
}

@available(*, unavailable)
extension SQLiteConnection: Sendable {}
