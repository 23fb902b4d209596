import Synchronization

/// A database file opened as one writer connection and a few reader connections, each
/// behind its own lock (SQLite in WAL mode lets readers run beside the single writer).
///
/// `@unchecked Sendable` is justified by `GuardedConnection`: a connection is only touched
/// while its mutex is held.
public final class SQLiteDatabase: Sendable {
    private let writer: GuardedConnection
    private let readers: [GuardedConnection]
    private let nextReader = Atomic<Int>(0)
    public let path: String

    public init(path: String, readerCount: Int = 4, migrator: SQLiteMigrator) throws {
        self.path = path
        let writerConnection = try SQLiteConnection(path: path)
        try migrator.migrate(writerConnection)
        self.writer = GuardedConnection(writerConnection)
        self.readers = try (0..<max(1, readerCount)).map { _ in GuardedConnection(try SQLiteConnection(path: path)) }
    }

    /// Runs `body` on the writer connection inside a `BEGIN IMMEDIATE` transaction.
    public func write<T>(_ body: (SQLiteConnection) throws -> T) throws -> T {
        try writer.with { connection in try connection.transaction { try body(connection) } }
    }

    /// Runs `body` on the writer connection without opening a transaction (PRAGMAs, VACUUM).
    public func withWriter<T>(_ body: (SQLiteConnection) throws -> T) throws -> T {
        try writer.with(body)
    }

    /// Runs `body` on one of the reader connections, in one read transaction so that it sees
    /// a single snapshot.
    public func read<T>(_ body: (SQLiteConnection) throws -> T) throws -> T {
        let index = nextReader.wrappingAdd(1, ordering: .relaxed).oldValue
        let reader = readers[abs(index) % readers.count]
        return try reader.with { connection in
            try connection.execute("BEGIN")
            defer { try? connection.execute("COMMIT") }
            return try body(connection)
        }
    }
}

/// A connection and the lock that guards it.
final class GuardedConnection: @unchecked Sendable {
    private let lock = Mutex<Void>(())
    private let connection: SQLiteConnection

    init(_ connection: SQLiteConnection) {
        self.connection = connection
    }

    func with<T>(_ body: (SQLiteConnection) throws -> T) throws -> T {
        try lock.withLock { _ in try body(connection) }
    }
}
