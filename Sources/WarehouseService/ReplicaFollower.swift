import Foundation
import Synchronization
import WarehouseCatalog
import WarehouseCore

/// Keeps this replica's catalog following the others: a thread reads the change log every
/// poll interval and re-reads from the bucket each thing a change names; it also beats the
/// replica's heartbeat and writes log entries that could not be written at commit.
///
/// A catalog that never followed (or was away longer than the log is kept) first reads every
/// manifest, as `reindex` does, then follows from the time that reading began.
public final class ReplicaFollower: Sendable {
    let shared: SharedBucket
    let models: ModelService
    let datasets: DatasetService
    let training: TrainingService
    let access: AccessControl
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

    static let watermarkKey = "changes.after"

    public init(shared: SharedBucket, models: ModelService, datasets: DatasetService, training: TrainingService,
                access: AccessControl, logger: Logger) {
        self.shared = shared
        self.models = models
        self.datasets = datasets
        self.training = training
        self.access = access
        self.logger = logger
    }

    var catalog: Catalog { models.catalog }
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
        let stored = try catalog.replicationValue(Self.watermarkKey).flatMap(Int64.init)
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
        try catalog.setReplicationValue(Self.watermarkKey, String(start))
        _ = try pollOnce()
        return ["read the shared bucket: \(report)"]
    }

    /// Every manifest into the catalog: versions and aliases (as `reindex`), datasets, tokens,
    /// notifications and jobs.
    func fullSync() throws -> String {
        let versions = try models.reindex()
        var counts: [String: Int] = ["versions": versions.imported.count, "aliases": versions.aliases.count]
        for object in try models.store.list(prefix: "manifests/datasets/") where object.key.hasSuffix(".json") {
            let parts = object.key.dropFirst("manifests/datasets/".count).dropLast(5).split(separator: "/").map(String.init)
            guard parts.count == 3 else { continue }
            try datasets.syncDataset(user: parts[0], dataset: parts[1], version: parts[2])
            counts["datasets", default: 0] += 1
        }
        for object in try models.store.list(prefix: "manifests/tokens/") where object.key.hasSuffix(".json") {
            try access.sharedToken(hash: String(object.key.dropFirst("manifests/tokens/".count).dropLast(5)))
            counts["tokens", default: 0] += 1
        }
        for object in try models.store.list(prefix: "manifests/notifications/") where object.key.hasSuffix(".json") {
            let parts = object.key.dropFirst("manifests/notifications/".count).dropLast(5).split(separator: "/").map(String.init)
            guard parts.count == 2 else { continue }
            try syncNotification(user: parts[0], id: parts[1])
            counts["notifications", default: 0] += 1
        }
        for object in try models.store.list(prefix: "manifests/jobs/") where object.key.hasSuffix(".json") {
            try training.syncJob(id: String(object.key.dropFirst("manifests/jobs/".count).dropLast(5)))
            counts["jobs", default: 0] += 1
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
        if newest != after || oldestPending != nil { try? catalog.setReplicationValue(Self.watermarkKey, String(stored)) }
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
        let subject = change.subject
        func need(_ count: Int) throws {
            guard subject.count == count else {
                throw MalformedChange(detail: "change log entry \(change.kind.rawValue) names \(subject.joined(separator: "/"))")
            }
        }
        switch change.kind {
        case .version:
            try need(3)
            try models.syncVersion(user: subject[0], model: subject[1], version: subject[2])
        case .aliases:
            try need(2)
            try models.syncAliases(user: subject[0], model: subject[1])
        case .dataset:
            try need(3)
            try datasets.syncDataset(user: subject[0], dataset: subject[1], version: subject[2])
        case .token:
            try need(1)
            try access.sharedToken(hash: subject[0])
        case .notification:
            try need(2)
            try syncNotification(user: subject[0], id: subject[1])
        case .job:
            try need(1)
            try training.syncJob(id: subject[0])
        case .cancel:
            try need(1)
            training.cancelRequested(id: subject[0])
        }
    }

    func syncNotification(user: String, id: String) throws {
        guard let bytes = try models.store.getDataAndETag(key: ObjectKeys.notification(user: user, id: id))?.bytes else { return }
        let notification = try JSONDecoder().decode(SharedNotification.self, from: Data(bytes))
        try catalog.insertSharedNotification(sharedID: id, user: notification.userID, model: notification.modelID,
                                             data: notification.data, createdAt: notification.createdAt)
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
struct MalformedChange: Error, CustomStringConvertible {
    let detail: String
    var description: String { detail }
}
