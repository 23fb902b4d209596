import Synchronization
import WarehouseCore

/// Makes chosen store calls fail, for tests of what a failure leaves behind: each rule names
/// an operation, a key prefix, the error, and how many calls it fails (then it is spent).
/// Calls are counted too, so a test can see what reached the store.
public final class StoreFaults: ObjectStoreInterceptor {
    public struct Rule: Sendable {
        public let operation: ObjectStoreOperation
        public let keyPrefix: String
        public let error: any Error & Sendable
        public var remaining: Int
    }

    private let rules = Mutex<[Rule]>([])
    private let counts = Mutex<[ObjectStoreOperation: Int]>([:])

    public init() {}

    /// Fails the next `times` calls of `operation` on keys starting with `keyPrefix`.
    public func fail(_ operation: ObjectStoreOperation, keyPrefix: String = "", times: Int = 1,
                     with error: any Error & Sendable = WarehouseError.storageUnavailable("injected fault")) {
        rules.withLock { $0.append(Rule(operation: operation, keyPrefix: keyPrefix, error: error, remaining: times)) }
    }

    /// Rules not spent yet.
    public var pendingFaults: Int { rules.withLock { $0.reduce(0) { $0 + $1.remaining } } }

    public func calls(_ operation: ObjectStoreOperation) -> Int { counts.withLock { $0[operation] ?? 0 } }

    public func clear() { rules.withLock { $0.removeAll() } }

    public func intercept<T>(_ operation: ObjectStoreOperation, key: String?, _ body: () throws -> T) throws -> T {
        counts.withLock { $0[operation, default: 0] += 1 }
        let failure = rules.withLock { rules -> (any Error)? in
            guard let index = rules.firstIndex(where: {
                $0.operation == operation && $0.remaining > 0 && (key ?? "").hasPrefix($0.keyPrefix)
            }) else { return nil }
            rules[index].remaining -= 1
            return rules[index].error
        }
        if let failure { throw failure }
        return try body()
    }
}
