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

    /// Reads the log once and applies what is new; answers how many entries it applied. An
    /// entry that fails stops the pass there (the next pass starts again from it).
    @discardableResult
    public func pollOnce() throws -> Int {
        let (after, seen) = position.withLock { $0 }
        let entries = try shared.changes(after: after - windowMilliseconds)
        var newest = after
        var done = seen
        var count = 0
        var failure: (any Error)?
        for entry in entries where done[entry.key] == nil {
            if entry.change.replica != shared.settings.replicaID {
                do {
                    try apply(entry.change)
                } catch let error as WarehouseError {
                    // The bucket did not answer: this entry and the ones after it wait for the next pass.
                    if case .storageUnavailable = error {
                        failure = error
                        break
                    }
                    logger.error("replication: cannot apply \(entry.key) (skipped): \(error)")
                } catch {
                    // Unreadable state (a manifest that does not decode): waiting would not help.
                    logger.error("replication: cannot apply \(entry.key) (skipped): \(error)")
                }
                count += 1
            }
            done[entry.key] = entry.milliseconds
            newest = max(newest, entry.milliseconds)
        }
        // After a failure the position stays before the entry that failed, so it is retried.
        if failure != nil, let firstFailed = entries.first(where: { done[$0.key] == nil }) {
            newest = min(newest, firstFailed.milliseconds - 1)
        }
        // Entries older than a window before the position are never listed again.
        let horizon = newest - windowMilliseconds - 1
        done = done.filter { $0.value >= horizon }
        position.withLock { $0 = (newest, done) }
        if newest != after { try? catalog.setReplicationValue(Self.watermarkKey, String(newest)) }
        applied.add(count, ordering: .relaxed)
        if let failure { throw failure }
        lastPass.store(SharedBucket.milliseconds(), ordering: .relaxed)
        return count
    }

    func apply(_ change: Change) throws {
        let subject = change.subject
        func need(_ count: Int) throws {
            guard subject.count == count else {
                throw WarehouseError.invalid("change log entry \(change.kind.rawValue) names \(subject.joined(separator: "/"))")
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
