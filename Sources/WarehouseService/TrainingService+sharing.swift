import Foundation
import WarehouseCatalog
import WarehouseCore
import WarehouseReplication

/// Training jobs when replicas share the bucket: each job runs under a lease
/// (`replication/leases/jobs/{id}`), its state is published as `manifests/jobs/{id}.json` for
/// the others to show, and a job whose replica died is taken over once its lease expires.
extension TrainingService {
    static func leaseName(job id: String) -> String { "jobs/\(id)" }

    /// Publishes the job's state as this catalog holds it, with `event` (its newest event).
    /// Progress is published at most every two seconds; every change of state at once.
    func publishShared(_ shared: SharedBucket, job id: String, event: String, important: Bool) {
        if leaseLost(id) { return }
        let now = Date()
        let due = published.withLock { last -> Bool in
            if !important, let previous = last[id], now.timeIntervalSince(previous) < 2 { return false }
            last[id] = now
            return true
        }
        guard due else { return }
        do {
            guard let stored = try catalog.job(id: id) else { return }
            let snapshot = SharedJob(stored, event: event, holder: shared.settings.replicaID)
            try models.store.putData(key: ObjectKeys.job(id: id), data: Array(try JSONCoding.string(snapshot).utf8))
            shared.announce(Change(.job, [id]))
        } catch {
            logger.warning("cannot publish the state of training job \(id): \(error)")
        }
        if !important { return }
        if let state = try? catalog.job(id: id)?.state, ["succeeded", "failed", "cancelled"].contains(state) {
            published.withLock { _ = $0.removeValue(forKey: id) }
        }
    }

    /// Makes the catalog's copy of a job what its latest snapshot says.
    public func syncJob(id: String) throws {
        guard let bytes = try models.store.getDataAndETag(key: ObjectKeys.job(id: id))?.bytes else { return }
        let snapshot = try JSONDecoder().decode(SharedJob.self, from: Data(bytes))
        // The replica running it knows better than any snapshot (a lost lease shows at renewal).
        if running.withLock({ $0[id] }) != nil { return }
        try catalog.applyJob(snapshot.stored, event: snapshot.event)
    }

    /// A cancel asked on another replica: stops the job if it runs here.
    public func cancelRequested(id: String) {
        running.withLock { $0[id] }?.cancel()
    }

    /// The next job this replica may run: queued, or running on a replica whose lease
    /// expired; its lease is taken first, so exactly one replica runs it.
    func claimSharedJob(_ shared: SharedBucket) -> (StoredJob, Lease, takenOver: Bool)? {
        let candidates: [StoredJob]
        do {
            candidates = try catalog.unfinishedJobs()
        } catch {
            logger.error("training worker cannot read the job queue: \(error)")
            return nil
        }
        for job in candidates where running.withLock({ $0[job.id] }) == nil {
            guard let lease = try? shared.acquireLease(Self.leaseName(job: job.id)) else { continue }
            do {
                // Its snapshot may say it ended meanwhile (the lease was released just now).
                try syncJob(id: job.id)
                if try models.store.head(key: ObjectKeys.cancel(job: job.id)) != nil {
                    try record(job.id, TrainingEvent(type: .cancelled, message: "cancelled", progress: job.progress, status: "cancelled"),
                               state: "cancelled", finishedAt: Timestamps.now())
                    shared.release(lease)
                    continue
                }
                guard let claimed = try catalog.claimJob(id: job.id, startedAt: Timestamps.now()) else {
                    shared.release(lease)
                    continue
                }
                lost.withLock { _ = $0.remove(job.id) }
                return (claimed, lease, job.state == "running")
            } catch {
                logger.warning("cannot start training job \(job.id): \(error)")
                shared.release(lease)
            }
        }
        return nil
    }

    /// Cancels a job another replica may be running: it is asked through the bucket.
    func cancelShared(_ shared: SharedBucket, id: String, current: TrainingJob) throws {
        if let lease = try shared.acquireLease(Self.leaseName(job: id)) {
            // Nobody runs it: cancelled here.
            defer { shared.release(lease) }
            try record(id, TrainingEvent(type: .cancelled, message: "cancelled", progress: current.progress, status: "cancelled"),
                       state: "cancelled", finishedAt: Timestamps.now())
            return
        }
        try models.store.putData(key: ObjectKeys.cancel(job: id), data: [])
        shared.announce(Change(.cancel, [id]))
        // The replica running it records the cancellation within a poll or two.
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            try syncJob(id: id)
            if try job(id: id).isFinished { return }
            Thread.sleep(forTimeInterval: 0.1)
        }
    }

    func leaseLost(_ id: String) -> Bool { lost.withLock { $0.contains(id) } }

    /// Another replica holds the job now: this one stops it and publishes nothing more of it.
    func leaseLostBy(_ id: String) {
        lost.withLock { _ = $0.insert(id) }
        running.withLock { $0[id] }?.cancel()
    }
}

/// A training job as published in a shared bucket.
struct SharedJob: Codable {
    let id: String
    let userID: String
    let datasetID: String
    let modelID: String
    let state: String
    let progress: Double
    let message: String
    let request: String
    let result: String?
    let error: String?
    let createdAt: String
    let startedAt: String?
    let finishedAt: String?
    /// The newest event, as SSE sends it.
    let event: String?
    /// The replica that published this.
    let holder: String

    enum CodingKeys: String, CodingKey {
        case id, userID = "user_id", datasetID = "dataset_id", modelID = "model_id", state, progress, message, request, result,
             error, createdAt = "created_at", startedAt = "started_at", finishedAt = "finished_at", event, holder
    }

    init(_ job: StoredJob, event: String?, holder: String) {
        id = job.id
        userID = job.userID
        datasetID = job.datasetID
        modelID = job.modelID
        state = job.state
        progress = job.progress
        message = job.message
        request = job.request
        result = job.result
        error = job.error
        createdAt = job.createdAt
        startedAt = job.startedAt
        finishedAt = job.finishedAt
        self.event = event
        self.holder = holder
    }

    var stored: StoredJob {
        StoredJob(id: id, userID: userID, datasetID: datasetID, modelID: modelID, state: state, progress: progress, message: message,
                  request: request, result: result, error: error, createdAt: createdAt, startedAt: startedAt, finishedAt: finishedAt)
    }
}
