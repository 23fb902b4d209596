import Foundation
import WarehouseCore

/// How this replica shares its bucket: alone (`SoloReplication`) or with others
/// (`SharedBucket`). Services call it for every write another replica could also make, and
/// never ask which one it is.
public protocol Replication: Sendable {
    /// Claims `key` (a version's or dataset's manifest) before anything of it is stored.
    /// Answers the claim's ETag ("" when a claim needs no object), nil when another replica
    /// holds the key.
    func claim(_ key: String) throws -> String?

    /// The replica whose claim `bytes` (read at a manifest's key) are; nil for a record.
    func claimant(of bytes: [UInt8]) -> String?

    /// Whether `claimant` is this replica.
    func isSelf(_ claimant: String) -> Bool

    /// Runs `body`, which rewrites something other replicas may rewrite too, over the bucket's
    /// current copy: `read` brings this replica level with it and answers the ETag to write
    /// over; a write another replica won starts over (at most `attempts` times, then 409
    /// naming `what`). Alone, nothing is read: `body(nil)` once.
    func overCurrent<T>(_ what: String, attempts: Int, read: () throws -> String?, _ body: (String?) throws -> T) throws -> T

    /// Writes `data` at `key`: over `expected` when it is an ETag (`If-Match`), created only
    /// if absent when `expected` is nil and `createOnly` (`If-None-Match: *`), else plainly.
    func write(_ key: String, data: [UInt8], over expected: String?, createOnly: Bool) throws

    /// Removes `key` while it still has `expected` (plainly when nil or alone).
    func remove(_ key: String, over expected: String?) throws

    /// Tells the other replicas that what `change` names changed (after its state is in the bucket).
    func announce(_ change: Change)

    /// The other replicas alive now (none when alone).
    func otherLiveReplicas() throws -> Set<String>

    /// Publishes state that is in the bucket only for the other replicas' sake (dataset
    /// records, tokens, notifications): written over `expected` (created only if absent when
    /// `createOnly`), or removed when `data` is nil; then `change` is announced. Alone: nothing.
    func publish(_ key: String, data: [UInt8]?, over expected: String?, createOnly: Bool, announcing change: Change) throws

    /// Reads such state back.
    func readPublished(_ key: String) throws -> PublishedState

    /// The keys of such state under `prefix` (none when alone).
    func listPublished(prefix: String) throws -> [String]

    /// Whether versions reach the bucket from elsewhere too, so a manifest the catalog lacks
    /// may be another replica's commit rather than garbage.
    var othersCommit: Bool { get }

    /// The replicas alive now, this one included (none when alone).
    func liveReplicaIDs() throws -> Set<String>

    /// Runs `body` as the one replica doing `name` (gc): alone, at once; with others, under
    /// the lease `name` (renewed from its own thread while `body` runs), after `prepare` has
    /// brought this replica level with the bucket. A lease another replica holds is a 409.
    func exclusively<T>(_ name: String, prepare: () throws -> Void, _ body: () throws -> T) throws -> T

    /// Removes change-log entries past their retention; answers how many (none alone).
    func compactLog() throws -> Int
}

/// What the bucket holds of a piece of published state.
public enum PublishedState: Sendable, Equatable {
    /// Nothing is published (this replica is alone): the catalog is the whole truth.
    case notShared
    /// Published once, and removed since.
    case absent
    case present([UInt8])
}

/// The one replica on its bucket: claims cost nothing, writes are plain, nothing is announced.
public struct SoloReplication: Replication {
    let store: any ObjectStore

    public init(store: any ObjectStore) { self.store = store }

    public func claim(_ key: String) throws -> String? { "" }
    public func claimant(of bytes: [UInt8]) -> String? { nil }
    public func isSelf(_ claimant: String) -> Bool { true }

    public func overCurrent<T>(_ what: String, attempts: Int, read: () throws -> String?, _ body: (String?) throws -> T) throws -> T {
        try body(nil)
    }

    public func write(_ key: String, data: [UInt8], over expected: String?, createOnly: Bool) throws {
        try store.putData(key: key, data: data)
    }

    public func remove(_ key: String, over expected: String?) throws {
        try store.delete(key: key)
    }

    public func announce(_ change: Change) {}
    public func otherLiveReplicas() throws -> Set<String> { [] }
    public func publish(_ key: String, data: [UInt8]?, over expected: String?, createOnly: Bool, announcing change: Change) throws {}
    public func readPublished(_ key: String) throws -> PublishedState { .notShared }
    public func listPublished(prefix: String) throws -> [String] { [] }
    public var othersCommit: Bool { false }
    public func liveReplicaIDs() throws -> Set<String> { [] }
    public func exclusively<T>(_ name: String, prepare: () throws -> Void, _ body: () throws -> T) throws -> T { try body() }
    public func compactLog() throws -> Int { 0 }
}

extension SharedBucket: Replication {
    public func claimant(of bytes: [UInt8]) -> String? { ClaimStub.decodeIfClaim(bytes)?.claimedBy }

    public func isSelf(_ claimant: String) -> Bool { claimant == settings.replicaID }

    public func overCurrent<T>(_ what: String, attempts: Int, read: () throws -> String?, _ body: (String?) throws -> T) throws -> T {
        for _ in 0..<attempts {
            let etag = try read()
            do {
                return try body(etag)
            } catch is ConditionalWriteLost {
                continue
            }
        }
        throw WarehouseError.conflict("\(what) kept changing on other replicas; retry")
    }

    public func write(_ key: String, data: [UInt8], over expected: String?, createOnly: Bool) throws {
        if let expected, !expected.isEmpty {
            _ = try store.putData(key: key, data: data, condition: .matches(expected))
        } else if createOnly {
            _ = try store.putData(key: key, data: data, condition: .absent)
        } else {
            try store.putData(key: key, data: data)
        }
    }

    public func remove(_ key: String, over expected: String?) throws {
        if let expected { try store.delete(key: key, ifMatch: expected) } else { try store.delete(key: key) }
    }

    public func otherLiveReplicas() throws -> Set<String> {
        Set(try liveReplicas().map(\.replica)).subtracting([settings.replicaID])
    }

    public func publish(_ key: String, data: [UInt8]?, over expected: String?, createOnly: Bool, announcing change: Change) throws {
        if let data {
            try write(key, data: data, over: expected, createOnly: createOnly)
        } else {
            try remove(key, over: expected)
        }
        announce(change)
    }

    public func readPublished(_ key: String) throws -> PublishedState {
        try store.getDataAndETag(key: key).map { .present($0.bytes) } ?? .absent
    }

    public func listPublished(prefix: String) throws -> [String] {
        try store.list(prefix: prefix).map(\.key)
    }

    public var othersCommit: Bool { true }

    public func liveReplicaIDs() throws -> Set<String> {
        Set(try liveReplicas().map(\.replica))
    }

    public func exclusively<T>(_ name: String, prepare: () throws -> Void, _ body: () throws -> T) throws -> T {
        guard let held = try acquireLease(name) else {
            throw WarehouseError.conflict("\(name) is running on replica \(try leaseHolder(name) ?? "?"); try again when it is done")
        }
        let keeper = LeaseKeeper(held, in: self)
        defer { keeper.release() }
        try prepare()
        return try body()
    }

    public func compactLog() throws -> Int {
        try compactChanges()
    }
}
