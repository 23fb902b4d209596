import Foundation
import Synchronization
import WarehouseCore
import WarehouseCrypto

/// How a replica shares its bucket with the others.
public struct ReplicationSettings: Sendable {
    /// Names this replica in the change log, its heartbeat and its leases (stable across restarts).
    public var replicaID: String
    /// How often the change log is read: the bound on how stale another replica's view is.
    public var pollSeconds: Double = 0.5
    /// A lease not renewed for this long is free (a replica that died loses its work after it).
    public var leaseSeconds: Double = 15
    /// Changes older than this are removed by gc; a replica that was away longer re-reads
    /// every manifest instead of the log.
    public var retentionSeconds: Double = 24 * 3600
    /// Changes are read again for this long after their time, so one written just before a
    /// newer one became visible is still seen (clock skew between replicas must stay below it).
    public var windowSeconds: Double = 10

    public init(replicaID: String) {
        self.replicaID = replicaID
    }

    /// Replica ids: a name (letters, digits, `.`, `_`, `-`), since they are part of object keys.
    public static func validReplicaID(_ id: String) -> Bool { Identifiers.isValidName(id) }
}

/// One entry of the change log: which thing changed. Followers re-read that thing's state
/// from the bucket, so entries carry no data, may be applied twice, and in any order.
public struct Change: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        /// `user/model/version`: the manifest was written or removed.
        case version
        /// `user/model`: the alias manifest.
        case aliases
        /// `user/model`: the manifest of a model created before its versions.
        case model
        /// `user/dataset/vN`: the dataset manifest.
        case dataset
        /// `id`: a token object.
        case token
        /// `user/id`: a notification object.
        case notification
        /// `id`: a training job's snapshot.
        case job
        /// `id`: someone asked to cancel the job (the replica running it stops it).
        case cancel
    }

    public let kind: Kind
    public let subject: [String]
    /// The replica that wrote it (empty for a change not read from the log).
    public var replica: String = ""

    public init(_ kind: Kind, _ subject: [String]) {
        self.kind = kind
        self.subject = subject
    }

    /// The log key of this change, written at `milliseconds` by `replica` as its `sequence`th.
    public func key(milliseconds: Int64, replica: String, sequence: Int) -> String {
        ObjectKeys.change(milliseconds: milliseconds, replica: replica, sequence: sequence, kind: kind.rawValue, subject: subject)
    }

    /// Parses a change key: the change and its time.
    public static func parse(_ key: String) -> (change: Change, milliseconds: Int64)? {
        guard case .change(let milliseconds, let replica, let kindName, let subject)? = ObjectKeys.parse(key),
              let kind = Kind(rawValue: kindName) else { return nil }
        var change = Change(kind, subject)
        change.replica = replica
        return (change, milliseconds)
    }
}

/// A lease this replica holds: the object's ETag proves it is still ours.
public struct Lease: Sendable, Equatable {
    public let name: String
    public let etag: String
    public let expiresAt: Int64
}

/// A lease's object: who holds it and until when (milliseconds since 1970).
struct LeaseObject: Codable {
    let holder: String
    let instance: String
    let expiresAt: Int64
    let acquiredAt: String

    enum CodingKeys: String, CodingKey { case holder, instance, expiresAt = "expires_at", acquiredAt = "acquired_at" }
}

/// A replica's heartbeat object.
public struct ReplicaHeartbeat: Codable, Sendable {
    public let replica: String
    public let instance: String
    public let startedAt: String
    public let beatAt: Int64

    enum CodingKeys: String, CodingKey { case replica, instance, startedAt = "started_at", beatAt = "beat_at" }
}

/// The bucket as shared by several replicas: conditional writes, the change log, heartbeats
/// and leases. Every method is a few small requests; nothing here holds a lock across them.
public final class SharedBucket: Sendable {
    public let store: any ObjectStore
    public let settings: ReplicationSettings
    /// Tells this process from an earlier one with the same replica id (its leases are stale).
    public let instance = Hex.encode(SecureRandom.bytes(6))
    let logger: Logger
    private let sequence = Atomic<Int>(0)
    /// Changes whose log entry could not be written yet (the bucket was down): retried by the follower.
    private let outbox = Mutex<[Change]>([])
    private let startedAt = Timestamps.now()

    public init(store: any ObjectStore, settings: ReplicationSettings, logger: Logger) {
        self.store = store
        self.settings = settings
        self.logger = logger
    }

    public static func milliseconds(_ date: Date = Date()) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded(.down)) }

    // MARK: - Can this store be shared?

    /// Whether the store honours `If-None-Match: *` and `If-Match` on writes: a second create of
    /// one key must lose, and so must a replace naming a wrong ETag. rclone serve s3 ignores both.
    public static func supportsConditionalWrites(_ store: any ObjectStore, probeKey: String) throws -> Bool {
        defer { try? store.delete(key: probeKey) }
        let body = Array("{\"probe\": true}".utf8)
        let etag: String?
        do {
            etag = try store.putData(key: probeKey, data: body, condition: .absent)
        } catch is ConditionalWriteLost {
            return false
        } catch WarehouseError.invalid {
            return false
        }
        do {
            _ = try store.putData(key: probeKey, data: body, condition: .absent)
            return false
        } catch is ConditionalWriteLost {}
        do {
            _ = try store.putData(key: probeKey, data: body, condition: .matches("0123456789abcdef0123456789abcdef"))
            return false
        } catch is ConditionalWriteLost {}
        return etag != nil
    }

    // MARK: - Heartbeats

    public func beat() throws {
        let heartbeat = ReplicaHeartbeat(replica: settings.replicaID, instance: instance, startedAt: startedAt,
                                         beatAt: Self.milliseconds())
        try store.putData(key: ObjectKeys.heartbeat(replica: settings.replicaID), data: Array(try JSONCoding.string(heartbeat).utf8))
    }

    /// Replicas whose heartbeat is younger than a lease.
    public static func liveReplicas(_ store: any ObjectStore, leaseSeconds: Double) throws -> [ReplicaHeartbeat] {
        let now = milliseconds()
        return try store.list(prefix: ObjectKeys.replicas).compactMap { object in
            guard let bytes = try? store.getData(key: object.key),
                  let heartbeat = try? JSONDecoder().decode(ReplicaHeartbeat.self, from: Data(bytes)) else { return nil }
            return Double(now - heartbeat.beatAt) < leaseSeconds * 1000 ? heartbeat : nil
        }
    }

    public func liveReplicas() throws -> [ReplicaHeartbeat] {
        try Self.liveReplicas(store, leaseSeconds: settings.leaseSeconds)
    }

    public func removeHeartbeat() {
        try? store.delete(key: ObjectKeys.heartbeat(replica: settings.replicaID))
    }

    // MARK: - The change log

    /// Appends `change` to the log (after the state it names is in the bucket). A failure is
    /// retried by the follower loop, so the commit that caused it does not fail for it.
    public func announce(_ change: Change) {
        do {
            try write(change)
        } catch {
            logger.warning("cannot write the change log entry for \(change.kind.rawValue) \(change.subject.joined(separator: "/")) (retried): \(error)")
            outbox.withLock { $0.append(change) }
        }
    }

    private func write(_ change: Change) throws {
        let number = sequence.add(1, ordering: .relaxed).newValue
        let key = change.key(milliseconds: Self.milliseconds(), replica: settings.replicaID, sequence: number)
        _ = try store.putData(key: key, data: [], condition: .absent)
    }

    /// Writes what `announce` could not.
    public func flushOutbox() {
        let waiting = outbox.withLock { queued -> [Change] in
            defer { queued.removeAll() }
            return queued
        }
        for (index, change) in waiting.enumerated() {
            do {
                try write(change)
            } catch {
                outbox.withLock { $0.insert(contentsOf: waiting[index...], at: 0) }
                return
            }
        }
    }

    /// Change log entries after `milliseconds` (minus nothing: the caller subtracts its window).
    public func changes(after milliseconds: Int64) throws -> [(key: String, change: Change, milliseconds: Int64)] {
        try store.list(prefix: ObjectKeys.changes, startAfter: ObjectKeys.changesAfter(milliseconds: milliseconds)).compactMap { object in
            Change.parse(object.key).map { (object.key, $0.change, $0.milliseconds) }
        }
    }

    /// The newest entry's time (0 when the log is empty).
    public func newestChange() throws -> Int64 {
        try store.list(prefix: ObjectKeys.changes).compactMap { Change.parse($0.key)?.milliseconds }.max() ?? 0
    }

    /// Removes entries older than the retention (by the replica holding the gc lease).
    public func compactChanges() throws -> Int {
        let cutoff = Self.milliseconds() - Int64(settings.retentionSeconds * 1000)
        let old = try store.list(prefix: ObjectKeys.changes).filter { (Change.parse($0.key)?.milliseconds ?? 0) < cutoff }.map(\.key)
        try store.delete(keys: old)
        return old.count
    }

    // MARK: - Leases

    private func leaseBody(expiresAt: Int64) throws -> [UInt8] {
        Array(try JSONCoding.string(LeaseObject(holder: settings.replicaID, instance: instance, expiresAt: expiresAt,
                                                acquiredAt: Timestamps.now())).utf8)
    }

    /// Takes the lease `name` when nobody holds it, its holder stopped renewing it, or it was
    /// held by an earlier process of this replica. Nil: another replica holds it.
    public func acquireLease(_ name: String) throws -> Lease? {
        let key = ObjectKeys.lease(name)
        let expiresAt = Self.milliseconds() + Int64(settings.leaseSeconds * 1000)
        let condition: WriteCondition
        if let current = try store.getDataAndETag(key: key) {
            guard let holder = try? JSONDecoder().decode(LeaseObject.self, from: Data(current.bytes)), let etag = current.etag else {
                return nil
            }
            let stale = holder.expiresAt < Self.milliseconds() || (holder.holder == settings.replicaID && holder.instance != instance)
            guard stale else { return nil }
            condition = .matches(etag)
        } else {
            condition = .absent
        }
        do {
            guard let etag = try store.putData(key: key, data: try leaseBody(expiresAt: expiresAt), condition: condition) else {
                return nil
            }
            return Lease(name: name, etag: etag, expiresAt: expiresAt)
        } catch is ConditionalWriteLost {
            return nil
        }
    }

    /// Extends a lease; nil when it was lost (taken over after it expired).
    public func renew(_ lease: Lease) throws -> Lease? {
        let expiresAt = Self.milliseconds() + Int64(settings.leaseSeconds * 1000)
        do {
            guard let etag = try store.putData(key: ObjectKeys.lease(lease.name), data: try leaseBody(expiresAt: expiresAt),
                                               condition: .matches(lease.etag)) else { return nil }
            return Lease(name: lease.name, etag: etag, expiresAt: expiresAt)
        } catch is ConditionalWriteLost {
            return nil
        } catch WarehouseError.notFound {
            return nil
        }
    }

    public func release(_ lease: Lease) {
        try? store.delete(key: ObjectKeys.lease(lease.name), ifMatch: lease.etag)
    }

    /// Who holds `name` now (nil: nobody, or the lease expired).
    public func leaseHolder(_ name: String) throws -> String? {
        guard let current = try store.getDataAndETag(key: ObjectKeys.lease(name)),
              let holder = try? JSONDecoder().decode(LeaseObject.self, from: Data(current.bytes)),
              holder.expiresAt >= Self.milliseconds() else { return nil }
        return holder.holder
    }

    // MARK: - Claims

    /// Creates `key` only if absent: the claim of a version or dataset number. Answers the
    /// claim's ETag, or nil when another replica holds that key.
    public func claim(_ key: String) throws -> String? {
        let stub = ClaimStub(claimedBy: settings.replicaID, instance: instance, claimedAt: Timestamps.now())
        do {
            return try store.putData(key: key, data: Array(try JSONCoding.string(stub).utf8), condition: .absent) ?? ""
        } catch is ConditionalWriteLost {
            return nil
        }
    }
}

/// What a manifest holds between its claim and its commit: who is uploading. Readers skip it.
public struct ClaimStub: Codable, Sendable {
    public let claimedBy: String
    public let instance: String
    public let claimedAt: String

    enum CodingKeys: String, CodingKey { case claimedBy = "claimed_by", instance, claimedAt = "claimed_at" }

    /// A manifest's bytes are a claim, not a record.
    public static func decodeIfClaim(_ bytes: [UInt8]) -> ClaimStub? {
        guard bytes.count < 512 else { return nil }
        return try? JSONDecoder().decode(ClaimStub.self, from: Data(bytes))
    }
}

/// Renews a lease from its own thread until released, for work that may outlast it (gc).
public final class LeaseKeeper: Sendable {
    private let shared: SharedBucket
    private let current: Mutex<Lease?>
    private let done = DispatchSemaphore(value: 0)

    public init(_ lease: Lease, in shared: SharedBucket) {
        self.shared = shared
        current = Mutex(lease)
        let thread = Thread { [self] in
            // Renewed at a third of its life; a lost lease is not taken back.
            while done.wait(timeout: .now() + shared.settings.leaseSeconds / 3) == .timedOut {
                guard let held = current.withLock({ $0 }) else { return }
                if let renewed = try? shared.renew(held) { current.withLock { $0 = renewed } }
            }
        }
        thread.name = "lease-keeper"
        thread.start()
    }

    public func release() {
        done.signal()
        if let lease = current.withLock({ $0 }) { shared.release(lease) }
    }
}
