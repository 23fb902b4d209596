import Foundation
import Synchronization
import WarehouseCore

/// A service whose state other replicas change: the follower hands it each change of the
/// kinds it follows, and asks it to read all of its state when the catalog never followed.
public protocol ReplicatedService: Sendable {
    /// The kinds of change this service applies (each kind belongs to one service).
    var followedKinds: [Change.Kind] { get }
    /// Makes this replica's copy of what `change` names what the bucket holds. Throws
    /// `MalformedChange` when the subject does not fit the kind.
    func apply(_ change: Change) throws
    /// Reads every manifest this service keeps into the catalog; answers counts by noun.
    func readAll() throws -> [String: Int]
}

/// Where the follower keeps its position in the log across restarts (the catalog).
public protocol FollowerPosition: Sendable {
    func load() throws -> Int64?
    func save(_ milliseconds: Int64) throws
}

/// Keeps this replica's catalog following the others: a thread reads the change log every
/// poll interval and re-reads from the bucket each thing a change names; it also beats the
/// replica's heartbeat and writes log entries that could not be written at commit.
///
/// A catalog that never followed (or was away longer than the log is kept) first reads every
/// manifest, as `reindex` does, then follows from the time that reading began.
public final class ReplicaFollower: Sendable {
    public let shared: SharedBucket
    /// Each kind of change, and the service that applies it (order kept for `fullSync`).
    let services: [any ReplicatedService]
    let storedPosition: any FollowerPosition
    let logger: Logger
    private let stopping = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    private let started = Atomic<Bool>(false)
    /// Where the log is read from next (milliseconds), and the entries already applied since
    /// one window before it.
    private let position = Mutex<(after: Int64, seen: [String: Int64])>((0, [:]))
    private let applied = Atomic<Int>(0)
    /// When a pass over the log last succeeded (seconds since 1970; 0: never).
    private let lastPass = Atomic<Int64>(0)
    /// Changes that did not apply yet, by what they name: retried with backoff until they do.
    private let pending = Mutex<[String: PendingChange]>([:])
    private let failedAttempts = Atomic<Int>(0)

    public init(shared: SharedBucket, services: [any ReplicatedService], position: any FollowerPosition, logger: Logger) {
        self.shared = shared
        self.services = services
        self.storedPosition = position
        self.logger = logger
    }

    var windowMilliseconds: Int64 { Int64(shared.settings.windowSeconds * 1000) }

    /// Changes applied from other replicas since start (for /metrics and tests).
    public var appliedChanges: Int { applied.load(ordering: .relaxed) }

    /// Attempts to apply a change that failed since start (each retry counts).
    public var failedApplications: Int { failedAttempts.load(ordering: .relaxed) }

    /// What this replica has not caught up with: changes that failed to apply and wait for
    /// their next attempt, the oldest one's age and the last error.
    public var backlog: ReplicationBacklog {
        pending.withLock { pending in
            let oldest = pending.values.map(\.firstFailed).min()
            let latest = pending.values.max { $0.lastFailed < $1.lastFailed }
            return ReplicationBacklog(pendingChanges: pending.count,
                                      oldestPendingSeconds: oldest.map { Date().timeIntervalSince($0) },
                                      lastError: latest.map { "\($0.change.kind.rawValue) \($0.change.subject.joined(separator: "/")): \($0.lastError)" })
        }
    }

    /// Seconds since the log was last read through (nil: never): a follower that is stuck
    /// (the bucket unreachable) shows here.
    public var secondsSinceLastPass: Double? {
        let last = lastPass.load(ordering: .relaxed)
        return last == 0 ? nil : Double(SharedBucket.milliseconds() - last) / 1000
    }

    // MARK: - Catching up

    /// Before serving: the catalog is brought level with the bucket.
    public func catchUp() throws -> [String] {
        try shared.beat()
        let now = SharedBucket.milliseconds()
        let stored = try storedPosition.load()
        let oldestKept = now - Int64(shared.settings.retentionSeconds * 1000) + windowMilliseconds
        if let stored, stored > oldestKept {
            position.withLock { $0 = (stored, [:]) }
            let count = try pollOnce()
            return ["followed \(count) change(s) made by other replicas while this one was away"]
        }
        // Everything after this instant is in the log; everything before it is in the manifests.
        let start = now - windowMilliseconds
        let report = try fullSync()
        position.withLock { $0 = (start, [:]) }
        try storedPosition.save(start)
        _ = try pollOnce()
        return ["read the shared bucket: \(report)"]
    }

    /// Every manifest into the catalog, service by service (versions and aliases as
    /// `reindex`, datasets, tokens, notifications, jobs).
    func fullSync() throws -> String {
        var counts: [String: Int] = [:]
        for service in services {
            counts.merge(try service.readAll()) { $0 + $1 }
        }
        return counts.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
    }

    // MARK: - Following

    public func start() {
        guard !started.exchange(true, ordering: .relaxed) else { return }
        let thread = Thread { [self] in
            var lastBeat = Date()
            while !stopping.load(ordering: .relaxed) {
                let began = Date()
                shared.flushOutbox()
                do {
                    _ = try pollOnce()
                } catch {
                    logger.warning("cannot read the change log (retried): \(error)")
                }
                if Date().timeIntervalSince(lastBeat) >= shared.settings.leaseSeconds / 3 {
                    do { try shared.beat(); lastBeat = Date() } catch { logger.warning("cannot write this replica's heartbeat: \(error)") }
                }
                let rest = shared.settings.pollSeconds - Date().timeIntervalSince(began)
                if rest > 0 { Thread.sleep(forTimeInterval: rest) }
            }
            finished.signal()
        }
        thread.name = "replica-follower"
        thread.start()
    }

    public func stop() {
        guard started.load(ordering: .relaxed), !stopping.exchange(true, ordering: .relaxed) else { return }
        finished.wait()
        shared.flushOutbox()
        shared.removeHeartbeat()
    }

    /// Reads the log once and applies what is new, after retrying the pending changes that are
    /// due; answers how many entries it handled. A change that fails (the bucket, SQLite busy
    /// or full, a manifest that does not read) joins the pending ones; later entries go on,
    /// since a change names state to re-read and may be applied in any order. The stored
    /// position never passes the oldest pending change, so a restart retries it too.
    @discardableResult
    public func pollOnce() throws -> Int {
        let (after, seen) = position.withLock { $0 }
        let entries = try shared.changes(after: after - windowMilliseconds)
        retryPending()
        var newest = after
        var done = seen
        var count = 0
        for entry in entries where done[entry.key] == nil {
            if entry.change.replica != shared.settings.replicaID {
                attempt(entry.change, loggedAt: entry.milliseconds, key: entry.key)
                count += 1
            }
            done[entry.key] = entry.milliseconds
            newest = max(newest, entry.milliseconds)
        }
        // Entries older than a window before the position are never listed again.
        let horizon = newest - windowMilliseconds - 1
        done = done.filter { $0.value >= horizon }
        position.withLock { $0 = (newest, done) }
        let oldestPending = pending.withLock { $0.values.map(\.loggedAt).min() }
        let stored = min(newest, (oldestPending ?? .max) - 1)
        if newest != after || oldestPending != nil { try? storedPosition.save(stored) }
        applied.add(count, ordering: .relaxed)
        lastPass.store(SharedBucket.milliseconds(), ordering: .relaxed)
        return count
    }

    /// Applies one change; on failure it becomes (or stays) pending. Applying a thing's state
    /// also settles an earlier pending change of the same thing.
    private func attempt(_ change: Change, loggedAt: Int64, key: String) {
        let subject = change.kind.rawValue + "~" + change.subject.joined(separator: "/")
        do {
            try apply(change)
            pending.withLock { _ = $0.removeValue(forKey: subject) }
        } catch let error as MalformedChange {
            // Its key names nothing this version understands: no attempt can ever apply it.
            logger.error("replication: \(key) is malformed (skipped): \(error)")
        } catch {
            failedAttempts.add(1, ordering: .relaxed)
            let now = Date()
            let attempts = pending.withLock { pending -> Int in
                var entry = pending[subject] ?? PendingChange(change: change, loggedAt: loggedAt, firstFailed: now)
                entry.loggedAt = min(entry.loggedAt, loggedAt)
                entry.attempts += 1
                entry.lastFailed = now
                entry.lastError = "\(error)"
                // 0.25 s, doubling, at most a minute: a burst of trouble clears fast, a lasting
                // one costs one read a minute.
                entry.nextAttempt = now.addingTimeInterval(min(60, 0.25 * pow(2, Double(min(entry.attempts - 1, 10)))))
                pending[subject] = entry
                return entry.attempts
            }
            if attempts == 1 || attempts.isMultiple(of: 10) {
                logger.warning("replication: cannot apply \(key) yet (attempt \(attempts), retried): \(error)")
            }
        }
    }

    /// Retries the pending changes whose time has come.
    private func retryPending() {
        let now = Date()
        let due = pending.withLock { $0.values.filter { $0.nextAttempt <= now } }
        for entry in due.sorted(by: { $0.loggedAt < $1.loggedAt }) {
            attempt(entry.change, loggedAt: entry.loggedAt, key: "pending \(entry.change.kind.rawValue) \(entry.change.subject.joined(separator: "/"))")
        }
    }

    func apply(_ change: Change) throws {
        guard let service = services.first(where: { $0.followedKinds.contains(change.kind) }) else {
            throw MalformedChange(detail: "no service follows changes of kind \(change.kind.rawValue)")
        }
        try service.apply(change)
    }
}

/// A change that failed and waits for its next attempt.
struct PendingChange {
    let change: Change
    /// The log time of the oldest entry it stands for.
    var loggedAt: Int64
    let firstFailed: Date
    var lastFailed = Date()
    var attempts = 0
    var nextAttempt = Date()
    var lastError = ""
}

/// What a replica has not caught up with (for /health and /metrics).
public struct ReplicationBacklog: Sendable {
    public let pendingChanges: Int
    public let oldestPendingSeconds: Double?
    public let lastError: String?
}

/// A change log entry whose subject does not fit its kind.
public struct MalformedChange: Error, CustomStringConvertible {
    public let detail: String
    public var description: String { detail }

    public init(detail: String) { self.detail = detail }

    /// Throws unless `change` names exactly `count` things.
    public static func require(_ change: Change, subjectCount count: Int) throws {
        guard change.subject.count == count else {
            throw MalformedChange(detail: "change log entry \(change.kind.rawValue) names \(change.subject.joined(separator: "/"))")
        }
    }
}
