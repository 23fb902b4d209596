import Foundation
import WarehouseCatalog
import WarehouseCore
import WarehouseReplication

/// How training jobs are handed to workers: from this catalog's queue (`LocalJobs`, the only
/// replica), or under leases in the shared bucket (`LeasedJobs`). Picked once, when the
/// training service is made; the service never asks which it has.
protocol JobScheduling: Sendable {
    /// Jobs a previous process left running that must be failed now (a leased job is taken
    /// over once its lease expires instead).
    func interruptedJobs(_ catalog: Catalog) throws -> [StoredJob]

    /// Claims the next job this replica may run and answers how to run it; nil when none.
    func claimNext(_ training: TrainingService) -> (() -> Void)?

    /// Cancels job `id` when it may run on another replica; false when the local path applies.
    func cancelElsewhere(_ training: TrainingService, id: String, current: TrainingJob) throws -> Bool

    /// A job stopped because this replica stops: handed back for another run (true), or failed.
    var handsBackOnStop: Bool { get }

    /// Publishes a job's state for the other replicas to show.
    func publish(_ training: TrainingService, job id: String, event: String, important: Bool)
}

/// The only replica: jobs come from the catalog's queue, and nobody else needs to hear of them.
struct LocalJobs: JobScheduling {
    func interruptedJobs(_ catalog: Catalog) throws -> [StoredJob] { try catalog.runningJobs() }

    func claimNext(_ training: TrainingService) -> (() -> Void)? {
        do {
            guard let job = try training.catalog.claimNextJob(startedAt: Timestamps.now()) else { return nil }
            return { training.run(job) }
        } catch {
            training.logger.error("training worker cannot read the job queue: \(error)")
            return nil
        }
    }

    func cancelElsewhere(_ training: TrainingService, id: String, current: TrainingJob) throws -> Bool { false }

    var handsBackOnStop: Bool { false }

    func publish(_ training: TrainingService, job id: String, event: String, important: Bool) {}
}

/// Replicas on one bucket: each job runs under its lease, its state is published, and a job
/// whose replica died is taken over once the lease expires (see `TrainingService+sharing`).
struct LeasedJobs: JobScheduling {
    let shared: SharedBucket

    func interruptedJobs(_ catalog: Catalog) throws -> [StoredJob] { [] }

    func claimNext(_ training: TrainingService) -> (() -> Void)? {
        guard let (job, lease, takenOver) = training.claimSharedJob(shared) else { return nil }
        return { training.run(job, lease: lease, takenOver: takenOver, in: shared) }
    }

    func cancelElsewhere(_ training: TrainingService, id: String, current: TrainingJob) throws -> Bool {
        guard training.running.withLock({ $0[id] }) == nil else { return false }
        try training.cancelShared(shared, id: id, current: current)
        return true
    }

    var handsBackOnStop: Bool { true }

    func publish(_ training: TrainingService, job id: String, event: String, important: Bool) {
        training.publishShared(shared, job: id, event: event, important: important)
    }
}
