import Foundation
import Synchronization
import WarehouseAutoML
import WarehouseCatalog
import WarehouseCore
import WarehouseReplication
import WarehouseCrypto

/// Training jobs: persisted in the catalog, run by a pool of worker threads, reported as
/// events, and registered as model versions when they succeed.
public final class TrainingService: Sendable {
    let models: ModelService
    let datasets: DatasetService
    let lifecycle: ModelLifecycle
    let workerCount: Int
    let logger: Logger
    /// Budgets of running jobs, so a cancel reaches the learners.
    let running = Mutex<[String: TrainingBudget]>([:])
    /// When each job's state was last published to a shared bucket.
    let published = Mutex<[String: Date]>([:])
    /// Jobs whose lease another replica took: this one stops them and publishes nothing more.
    let lost = Mutex<Set<String>>([])
    private let wakeup = NSCondition()
    private let stopping = Atomic<Bool>(false)
    /// Where jobs come from: this catalog's queue, or leases in a shared bucket.
    let scheduling: any JobScheduling

    public init(models: ModelService, datasets: DatasetService, lifecycle: ModelLifecycle, workers: Int, logger: Logger) {
        scheduling = models.shared.map { LeasedJobs(shared: $0) } ?? LocalJobs()
        self.models = models
        self.datasets = datasets
        self.lifecycle = lifecycle
        workerCount = max(1, workers)
        self.logger = logger
    }

    var catalog: Catalog { models.catalog }

    // MARK: - Submitting and reading

    /// Validates the request against the dataset and queues the job. With `exclusive`, a
    /// queued or running job for the same model is a 409.
    public func submit(_ request: TrainingRequest, exclusive: Bool = false) throws -> TrainingJob {
        let dataset = try datasets.record(user: request.userID, dataset: request.datasetID, version: request.datasetVersion)
        if let target = request.targetColumn, dataset.profile.column(target) == nil {
            throw WarehouseError.invalid("target column '\(target)' is not in dataset '\(request.datasetID)' (columns: \(dataset.profile.columns.map(\.name).prefix(30).joined(separator: ", ")))")
        }
        // The dataset's own target: refused now, with why. Another target is checked when the
        // job profiles for it.
        if request.targetColumn == nil || request.targetColumn == dataset.targetColumn, request.taskType == nil,
           let refusal = dataset.profile.trainingRefusal {
            throw WarehouseError.invalid("dataset '\(request.datasetID)' \(dataset.version) cannot be trained on: \(refusal)")
        }
        try Self.checkColumns(request, profile: dataset.profile, datasetTarget: dataset.targetColumn)
        if let metric = request.metric {
            let task = request.taskType ?? (request.targetColumn == nil || request.targetColumn == dataset.targetColumn ? dataset.taskType : nil)
            if let task {
                _ = try DatasetService.translatingErrors {
                    try Metric.parse(metric, task: task, problem: task == .regression ? .regression : (dataset.profile.problemType == .binary ? .binary : .multiclass))
                }
            }
        }
        var pinned = request
        pinned.datasetVersion = dataset.version
        let id = "job_" + Hex.encode(SecureRandom.bytes(12))
        let now = Timestamps.now()
        let event = TrainingEvent(type: .status, message: "queued", progress: 0, status: "queued")
        try catalog.insertJob(id: id, user: request.userID, dataset: request.datasetID, model: request.modelID,
                              request: try JSONCoding.string(pinned), createdAt: now, firstEvent: try JSONCoding.string(event),
                              exclusive: exclusive)
        scheduling.publish(self, job: id, event: try JSONCoding.string(event), important: true)
        wakeup.lock()
        wakeup.broadcast()
        wakeup.unlock()
        return try job(id: id)
    }

    /// Feature and excluded columns must name columns of the dataset other than the target;
    /// a feature column must be usable (not one the profile dropped, and why).
    static func checkColumns(_ request: TrainingRequest, profile: DatasetProfile, datasetTarget: String) throws {
        let target = request.targetColumn ?? datasetTarget
        let names = profile.columns.map(\.name)
        for (field, list) in [("feature_columns", request.featureColumns ?? []), ("exclude_columns", request.excludeColumns ?? [])] {
            for name in list {
                guard let column = profile.column(name) else {
                    throw WarehouseError.invalid("\(field): column \(Identifiers.quoted(name)) is not in the dataset (columns: \(names.prefix(30).joined(separator: ", ")))")
                }
                if name == target {
                    throw WarehouseError.invalid("\(field): \(Identifiers.quoted(name)) is the target column")
                }
                if field == "feature_columns", column.role == "dropped", let reason = column.dropReason {
                    throw WarehouseError.invalid("feature_columns: column \(Identifiers.quoted(name)) cannot be a feature (\(reason))")
                }
            }
        }
        if let features = request.featureColumns {
            let kept = features.filter { !(request.excludeColumns ?? []).contains($0) }
            if kept.isEmpty { throw WarehouseError.invalid("feature_columns minus exclude_columns leaves no feature column") }
        } else if let excluded = request.excludeColumns, request.targetColumn == nil || request.targetColumn == datasetTarget,
                  profile.features.allSatisfy(excluded.contains) {
            throw WarehouseError.invalid("exclude_columns leaves no feature column (features: \(profile.features.prefix(30).joined(separator: ", ")))")
        }
    }

    public func job(id: String) throws -> TrainingJob {
        guard let stored = try catalog.job(id: id) else { throw WarehouseError.notFound("training job '\(id)' not found") }
        return try Self.job(stored)
    }

    public func jobs(user: String, limit: Int = 100) throws -> [TrainingJob] {
        try catalog.jobs(user: user, limit: limit).map(Self.job)
    }

    static func job(_ stored: StoredJob) throws -> TrainingJob {
        let request = try JSONCoding.decode(TrainingRequest.self, stored.request)
        return TrainingJob(jobID: stored.id, userID: stored.userID, datasetID: stored.datasetID, modelID: stored.modelID,
                           status: stored.state, progress: stored.progress, message: stored.message, request: request,
                           result: try stored.result.map { try JSONCoding.decode(JSONValue.self, $0) }, error: stored.error,
                           createdAt: stored.createdAt, startedAt: stored.startedAt, finishedAt: stored.finishedAt,
                           trainingOptions: request.options)
    }

    /// Events after `after` (the SSE `Last-Event-ID`).
    public func events(job id: String, after: Int) throws -> [(id: Int, json: String)] {
        try catalog.jobEvents(id: id, after: after).map { ($0.seq, $0.data) }
    }

    /// Cancels a queued or running job; a finished job is a 409.
    public func cancel(id: String) throws -> TrainingJob {
        let current = try job(id: id)
        if current.isFinished {
            throw WarehouseError.conflict("training job '\(id)' has already \(current.status)")
        }
        if try scheduling.cancelElsewhere(self, id: id, current: current) {
            return try job(id: id)
        }
        if let budget = running.withLock({ $0[id] }) {
            budget.cancel()
            // The worker records the cancellation when the learners stop (well under a second).
            let deadline = Date().addingTimeInterval(5)
            while Date() < deadline, try !job(id: id).isFinished { Thread.sleep(forTimeInterval: 0.02) }
        } else {
            try record(id, TrainingEvent(type: .cancelled, message: "cancelled", progress: current.progress, status: "cancelled"),
                       state: "cancelled", finishedAt: Timestamps.now())
            // A worker may have claimed it meanwhile: it sees the state, or gets the cancel.
            running.withLock { $0[id] }?.cancel()
        }
        return try job(id: id)
    }

    // MARK: - Workers

    /// Marks jobs a previous process left running as failed, then starts the workers, which
    /// also pick up jobs still queued.
    public func start() throws -> [String] {
        var actions: [String] = []
        // In a shared bucket a job left running is taken over once its lease expires.
        for stale in try scheduling.interruptedJobs(catalog) {
            let reason = "interrupted: the server stopped while this job was running"
            try record(stale.id, TrainingEvent(type: .error, message: reason, progress: stale.progress, status: "failed"),
                       state: "failed", error: reason, finishedAt: Timestamps.now())
            lifecycle.trainingFailed(user: stale.userID, model: stale.modelID, jobID: stale.id, reason: reason)
            actions.append("marked interrupted training job \(stale.id) failed")
        }
        for index in 0..<workerCount {
            let thread = Thread { [self] in workerLoop() }
            thread.name = "training-worker-\(index)"
            thread.stackSize = 8 << 20
            thread.start()
        }
        return actions
    }

    /// True once the service is shutting down (event streams end then).
    public var isStopping: Bool { stopping.load(ordering: .relaxed) }

    public func stop() {
        stopping.store(true, ordering: .relaxed)
        running.withLock { for budget in $0.values { budget.cancel() } }
        wakeup.lock()
        wakeup.broadcast()
        wakeup.unlock()
    }

    private func workerLoop() {
        while !stopping.load(ordering: .relaxed) {
            guard let run = scheduling.claimNext(self) else {
                wakeup.lock()
                _ = wakeup.wait(until: Date().addingTimeInterval(1))
                wakeup.unlock()
                continue
            }
            run()
        }
    }

    // MARK: - Running one job

    func record(_ id: String, _ event: TrainingEvent, state: String? = nil, result: String? = nil,
                error: String? = nil, finishedAt: String? = nil) throws {
        let text = try JSONCoding.string(event)
        try catalog.recordJobEvent(id: id, event: text, progress: event.progress,
                                   message: event.message, state: state, result: result, error: error, finishedAt: finishedAt)
        scheduling.publish(self, job: id, event: text, important: state != nil || event.type != .progress || event.candidate != nil)
    }

    /// Runs a job under its lease: renewed while it runs, released when it ends. A lease lost
    /// (this replica stalled past it and another took the job) stops the run.
    func run(_ stored: StoredJob, lease: Lease, takenOver: Bool, in shared: SharedBucket) {
        let current = Mutex(lease)
        let done = Atomic<Bool>(false)
        let renewer = Thread { [self] in
            while !done.load(ordering: .relaxed) {
                Thread.sleep(forTimeInterval: min(1, shared.settings.leaseSeconds / 6))
                if done.load(ordering: .relaxed) { break }
                let held = current.withLock { $0 }
                guard Double(held.expiresAt - SharedBucket.milliseconds()) < shared.settings.leaseSeconds * 2000 / 3 else { continue }
                do {
                    if let renewed = try shared.renew(held) {
                        current.withLock { $0 = renewed }
                    } else {
                        logger.warning("training job \(stored.id): another replica took its lease; stopping here")
                        leaseLostBy(stored.id)
                        break
                    }
                } catch {
                    logger.warning("training job \(stored.id): cannot renew its lease (retried): \(error)")
                }
            }
        }
        renewer.start()
        if takenOver {
            try? record(stored.id, TrainingEvent(type: .status, message: "taken over by replica \(shared.settings.replicaID): the replica running it stopped renewing its lease",
                                                 progress: 0, status: "running"))
        }
        run(stored)
        done.store(true, ordering: .relaxed)
        if !leaseLost(stored.id) { shared.release(current.withLock { $0 }) }
        try? models.store.delete(key: ObjectKeys.cancel(job: stored.id))
    }

    func run(_ stored: StoredJob) {
        let request: TrainingRequest
        do {
            request = try JSONCoding.decode(TrainingRequest.self, stored.request)
        } catch {
            try? record(stored.id, TrainingEvent(type: .error, message: "unreadable job request", progress: 0, status: "failed"),
                        state: "failed", error: "unreadable job request: \(error)", finishedAt: Timestamps.now())
            return
        }
        let budget = TrainingBudget(seconds: request.timeLimit)
        running.withLock { $0[stored.id] = budget }
        defer { running.withLock { _ = $0.removeValue(forKey: stored.id) } }
        // A cancel that arrived between claiming the job and registering its budget.
        if (try? catalog.job(id: stored.id))??.state == "cancelled" { return }
        let state = Mutex<(progress: Double, message: String)>((0, "starting"))
        try? record(stored.id, TrainingEvent(type: .status, message: "running", progress: 0, status: "running", elapsedSeconds: 0))

        // A heartbeat at least every second while the job runs.
        let finished = Atomic<Bool>(false)
        let heartbeat = Thread { [self] in
            while !finished.load(ordering: .relaxed) {
                Thread.sleep(forTimeInterval: 1)
                if finished.load(ordering: .relaxed) { break }
                let (progress, message) = state.withLock { $0 }
                try? record(stored.id, TrainingEvent(type: .progress, message: message, progress: progress, status: "running",
                                                     elapsedSeconds: budget.elapsed))
            }
        }
        heartbeat.start()
        defer { finished.store(true, ordering: .relaxed) }

        do {
            let outcome = try train(request, jobID: stored.id, budget: budget) { fraction, message, candidate in
                let percent = (fraction * 1000).rounded() / 10
                state.withLock { $0 = (percent, message) }
                if candidate != nil {
                    try? self.record(stored.id, TrainingEvent(type: .progress, message: message, progress: percent, status: "running",
                                                              elapsedSeconds: budget.elapsed, candidate: candidate))
                }
            }
            finished.store(true, ordering: .relaxed)
            let resultText = try JSONCoding.string(outcome)
            try record(stored.id, TrainingEvent(type: .complete, message: "registered \(request.modelID) \(outcome.string("version") ?? "")",
                                                progress: 100, status: "succeeded", elapsedSeconds: budget.elapsed, result: outcome),
                       state: "succeeded", result: resultText, finishedAt: Timestamps.now())
            logger.info("training job \(stored.id) succeeded: \(request.userID)/\(request.modelID) in \(String(format: "%.1f", budget.elapsed)) s")
        } catch is TrainingCancelled where stopping.load(ordering: .relaxed) {
            finished.store(true, ordering: .relaxed)
            // Shared bucket: the lease is released, and another replica (or this one after its
            // restart) trains the job again instead of it failing.
            if scheduling.handsBackOnStop {
                logger.info("training job \(stored.id) handed back: this replica is stopping")
                return
            }
            let reason = "interrupted: the server stopped while this job was running"
            let progress = state.withLock { $0.progress }
            try? record(stored.id, TrainingEvent(type: .error, message: reason, progress: progress, status: "failed",
                                                 elapsedSeconds: budget.elapsed),
                        state: "failed", error: reason, finishedAt: Timestamps.now())
            lifecycle.trainingFailed(user: request.userID, model: request.modelID, jobID: stored.id, reason: reason)
        } catch is TrainingCancelled {
            finished.store(true, ordering: .relaxed)
            let progress = state.withLock { $0.progress }
            try? record(stored.id, TrainingEvent(type: .cancelled, message: "cancelled", progress: progress, status: "cancelled",
                                                 elapsedSeconds: budget.elapsed),
                        state: "cancelled", finishedAt: Timestamps.now())
        } catch {
            finished.store(true, ordering: .relaxed)
            let reason = Self.describe(error)
            let progress = state.withLock { $0.progress }
            try? record(stored.id, TrainingEvent(type: .error, message: reason, progress: progress, status: "failed",
                                                 elapsedSeconds: budget.elapsed),
                        state: "failed", error: reason, finishedAt: Timestamps.now())
            lifecycle.trainingFailed(user: request.userID, model: request.modelID, jobID: stored.id, reason: reason)
            logger.warning("training job \(stored.id) failed: \(reason)")
        }
    }

    static func describe(_ error: any Error) -> String {
        switch error {
        case let error as WarehouseError: return error.description
        case let error as CSVError: return error.description
        case let error as ProfileError: return error.description
        default: return "\(error)"
        }
    }

    /// Loads the dataset, runs the search and registers the result. Returns the job result.
    func train(_ request: TrainingRequest, jobID: String, budget: TrainingBudget,
               progress: @escaping @Sendable (Double, String, LeaderboardEntry?) -> Void) throws -> JSONValue {
        let dataset = try datasets.record(user: request.userID, dataset: request.datasetID, version: request.datasetVersion)
        var local = try datasets.localCopy(dataset)
        defer { if local.temporary { try? FileManager.default.removeItem(atPath: local.path) } }
        var feedbackRows = 0
        if request.includeFeedback == true {
            let examples = try catalog.feedbackExamples(user: request.userID, model: request.modelID)
            if !examples.isEmpty {
                let augmented = try DatasetService.translatingErrors {
                    try FeedbackRows.append(examples, to: local.path, target: request.targetColumn ?? dataset.targetColumn,
                                            directory: models.spoolDirectory)
                }
                if local.temporary { try? FileManager.default.removeItem(atPath: local.path) }
                local = (augmented, true)
                feedbackRows = examples.count
            }
        }
        progress(0.01, "reading \(dataset.filename) (\(dataset.rows) rows\(feedbackRows > 0 ? " + \(feedbackRows) feedback rows" : ""))", nil)
        let sameTarget = request.targetColumn == nil || request.targetColumn == dataset.targetColumn
        let fullProfile = try sameTarget && (request.taskType == nil || request.taskType == dataset.taskType) && feedbackRows == 0
            ? dataset.profile
            : DatasetService.translatingErrors {
                try DatasetProfile.profile(path: local.path, targetColumn: request.targetColumn ?? dataset.targetColumn,
                                           taskType: request.taskType)
            }
        let profile = request.featureColumns == nil && request.excludeColumns == nil ? fullProfile
            : fullProfile.selectingFeatures(include: request.featureColumns, exclude: request.excludeColumns ?? [])
        if let refusal = profile.trainingRefusal {
            throw WarehouseError.invalid("dataset '\(request.datasetID)' \(dataset.version) cannot be trained on: \(refusal)")
        }
        try budget.checkCancelled()
        let table = try DatasetService.translatingErrors { try TrainingTable.load(path: local.path, profile: profile) }
        try budget.checkCancelled()
        var settings = AutoMLSettings()
        settings.timeLimit = request.timeLimit
        settings.seed = request.seed
        settings.testFraction = request.testFraction
        settings.preset = request.preset ?? .balanced
        settings.families = request.algorithms.map(Set.init)
        settings.validation = request.validation
        settings.excludedColumns = request.excludeColumns ?? []
        if let metric = request.metric {
            settings.metric = try DatasetService.translatingErrors {
                try Metric.parse(metric, task: profile.taskType, problem: profile.problemType)
            }
        }
        let result = try DatasetService.translatingErrors {
            try AutoML(table: table, problem: profile.problemType, settings: settings, budget: budget, progress: progress).run()
        }
        try budget.checkCancelled()
        progress(0.97, "registering \(request.modelID)", nil)
        let record = try TrainedModelRegistration(models: models).register(
            result: result, request: request, dataset: dataset, profile: profile, jobID: jobID, feedbackRows: feedbackRows)
        let promotion = lifecycle.promoteAfterTraining(record, report: result.report, jobID: jobID)
        return .object([
            "promoted": .bool(promotion.promoted), "promotion": .string(promotion.reason),
            "feedback_rows": .int(Int64(feedbackRows)),
            "model_id": .string(record.modelID), "user_id": .string(record.userID), "version": .string(record.version),
            "best_model": .string(result.report.bestModel), "metric": .string(result.report.metric),
            "validation_score": .double(result.report.validationScore),
            "test_metrics": .object(result.report.testMetrics.mapValues(JSONValue.double)),
            // The seed's name for the held-out metrics (the same values as test_metrics).
            "metrics": .object(result.report.testMetrics.mapValues(JSONValue.double)),
            "validation_method": .string(result.report.validationMethod),
            "leaderboard": try JSONValue.from(result.report.leaderboard),
            "elapsed_s": .double(budget.elapsed),
            "training_options": try JSONValue.from(result.report.options),
            "train_rows": .int(Int64(result.report.trainRows)),
        ])
    }
}

extension JSONValue {
    func string(_ key: String) -> String? {
        if case .object(let object) = self, case .string(let text)? = object[key] { return text }
        return nil
    }

    static func from<T: Encodable>(_ value: T) throws -> JSONValue {
        try JSONCoding.decode(JSONValue.self, try JSONCoding.string(value))
    }
}
