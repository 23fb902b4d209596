import Foundation
import WarehouseCatalog
import WarehouseCore
import WarehouseCrypto
import WarehouseHTTPServer
import WarehouseReplication
import WarehouseService
import WarehouseS3
import WarehouseStorage

/// The assembled service: catalog, store, use cases, routes and the HTTP daemon.
///
/// `Sendable`: every stored property is immutable and itself `Sendable`.
public final class WarehouseApplication: Sendable {
    public let configuration: WarehouseConfiguration
    public let service: ModelService
    public let uploadSessions: UploadSessions
    public let datasets: DatasetService
    public let training: TrainingService
    public let predictions: PredictionService
    public let lifecycle: ModelLifecycle
    public let feedback: FeedbackService
    public let metrics = ServiceMetrics()
    /// Whether this process runs training workers (maintenance commands do not).
    let runsTraining: Bool
    public let router: Router
    public let access: AccessControl
    let server: HTTPServer
    let logger: Logger
    /// Follows the other replicas' changes when the bucket is shared (nil: the only replica).
    public let follower: ReplicaFollower?

    public var dataDirectory: String { configuration.dataDirectory }
    public var spoolDirectory: String { configuration.dataDirectory + "/tmp" }
    /// The port actually bound (useful with port 0).
    public var port: UInt16 { server.port }

    /// `recover` runs startup recovery; maintenance commands that may run beside a live
    /// server pass false (recovery would take that server's in-flight uploads for leftovers).
    /// `storeInterceptor` runs around every store call, beneath the metrics (tests inject faults).
    public init(configuration: WarehouseConfiguration, logger: Logger = Logger(label: "warehouse"), recover: Bool = true,
                storeInterceptor: (any ObjectStoreInterceptor)? = nil) throws {
        self.configuration = configuration
        self.logger = logger
        let dataDirectory = configuration.dataDirectory
        do {
            try FileManager.default.createDirectory(atPath: dataDirectory + "/tmp", withIntermediateDirectories: true)
        } catch {
            throw WarehouseError.storageUnavailable("cannot create data directory \(dataDirectory): \(error.localizedDescription)")
        }
        let backend: any ObjectStore
        switch configuration.storage {
        case .filesystem:
            backend = try FileSystemStore(root: dataDirectory + "/objects", temporaryDirectory: dataDirectory + "/tmp")
        case .s3:
            backend = try Self.makeS3Store(configuration, logger: logger)
        }
        let intercepted = storeInterceptor.map { InterceptedObjectStore(backend, interceptor: $0) } ?? backend
        let store = InterceptedObjectStore(intercepted, interceptor: StorageErrorMeter(metrics: metrics))
        let shared = try Self.sharing(configuration, store: store, logger: logger, serving: recover)
        let catalog = try Catalog(path: dataDirectory + "/catalog.sqlite3")
        service = ModelService(catalog: catalog, store: store, spoolDirectory: dataDirectory + "/tmp",
                               zipLimits: configuration.zipLimits, shared: shared)
        datasets = DatasetService(catalog: catalog, store: store, spoolDirectory: dataDirectory + "/tmp", shared: shared)
        uploadSessions = UploadSessions(service: service, lifetimeSeconds: configuration.uploadSessionLifetimeSeconds)
        lifecycle = ModelLifecycle(models: service, logger: logger)
        training = TrainingService(models: service, datasets: datasets, lifecycle: lifecycle, workers: configuration.trainingWorkers,
                                   logger: logger)
        predictions = PredictionService(models: service, capacity: configuration.predictionCacheSize)
        feedback = FeedbackService(models: service, training: training, lifecycle: lifecycle, defaults: configuration.retraining)
        runsTraining = recover
        do {
            // Sessions first: the versions they reserve are pending rows that recovery must leave.
            let sessionActions = recover ? try uploadSessions.recover() : []
            for action in try sessionActions + (recover ? service.recover(spoolDirectory: dataDirectory + "/tmp") + datasets.recover() : []) {
                logger.info("recovery: \(action)")
            }
        } catch {
            // Storage may be down at start; the service still starts and /health says why.
            logger.warning("startup recovery incomplete (retried at next start): \(error)")
        }

        var multipart = MultipartConfiguration(spoolDirectory: dataDirectory + "/tmp", makeDigest: { SHA256Digest() })
        // A local store keeps the spool file itself (renamed into place): write it back early.
        multipart.startsWriteback = !service.store.streamsUploads
        var staging = multipart
        let admin = try AccessControl.adminToken(configured: configuration.adminToken, dataDirectory: dataDirectory)
        if admin.created, let path = admin.path {
            logger.info("generated the admin token into \(path) (mode 0600); set WAREHOUSE_ADMIN_TOKEN to choose one")
        } else if let path = admin.path {
            logger.info("admin token: \(path)")
        }
        let access = AccessControl(catalog: catalog, adminToken: admin.token, shared: shared)
        self.access = access
        let (models, datasets, training, lifecycle) = (service, self.datasets, self.training, self.lifecycle)
        // Versions and aliases first (as reindex), then datasets, tokens, notifications, jobs.
        let followed: [any ReplicatedService] = [models, datasets, access, lifecycle, training]
        follower = shared.map { ReplicaFollower(shared: $0, services: followed, position: CatalogFollowerPosition(catalog: catalog),
                                                logger: logger) }
        staging.observeFile = { [service] head, fieldsSoFar, file in
            // Stage only for a caller allowed in the namespace the early fields name.
            guard file.fieldName == "file",
                  let user = fieldsSoFar.first(where: { $0.name == "user_id" })?.value,
                  (try? head.principal().authorize(user: user)) != nil,
                  let staged = StagedUpload(service: service, fieldsSoFar: fieldsSoFar, filename: file.filename) else { return nil }
            return StagedUploadObserver(staged)
        }
        let storedObjectCheck = StoredObjectCheck(service: service) { [metrics, logger] detail in
            metrics.storageError(operation: "download", kind: "drift")
            logger.error("download refused: \(detail)")
        }
        let routes = ModelRoutes(service: service, access: access, uploadBody: .multipart(multipart),
                                 stagedUploadBody: .multipart(staging), storedObjectCheck: storedObjectCheck).definitions
            + SystemRoutes(service: service, storage: configuration.storage.rawValue, metrics: metrics, follower: follower).definitions
            + TokenRoutes(access: access).definitions
            + UploadSessionRoutes(sessions: uploadSessions, access: access).definitions
            + DatasetRoutes(datasets: datasets, training: training, access: access, uploadBody: .multipart(multipart)).definitions
            + TrainingRoutes(training: training, predictions: predictions, access: access).definitions
            + LifecycleRoutes(lifecycle: lifecycle, feedback: feedback, training: training, models: service, access: access).definitions
            + WebRoutes(service: service, datasets: datasets, training: training, lifecycle: lifecycle, access: access,
                        uploadBody: .multipart(multipart), storedObjectCheck: storedObjectCheck, logger: logger).definitions
        router = Router(routes: routes) { [logger] error, head in
            ErrorResponses.response(for: error, head: head, logger: logger)
        }
        var serverConfiguration = HTTPServerConfiguration(host: configuration.host, port: configuration.port)
        serverConfiguration.maxBodyBytes = configuration.maxUploadBytes
        serverConfiguration.observer = metrics
        serverConfiguration.connectionTimeoutSeconds = configuration.connectionTimeoutSeconds
        serverConfiguration.connectionLimit = configuration.connectionLimit
        serverConfiguration.minBodyBytesPerSecond = configuration.minUploadBytesPerSecond
        serverConfiguration.slowBodyGraceSeconds = configuration.slowBodyGraceSeconds
        server = HTTPServer(configuration: serverConfiguration,
                            handler: AuthenticatingHandler(router: router, access: access, logger: logger))
    }

    static func makeS3Store(_ configuration: WarehouseConfiguration, logger: Logger) throws -> S3Store {
        func required(_ value: String?, _ name: String) throws -> String {
            guard let value, !value.isEmpty else {
                throw WarehouseError.invalid("WAREHOUSE_STORAGE=s3 needs \(name)")
            }
            return value
        }
        var s3 = S3Configuration(
            endpoint: try required(configuration.s3Endpoint, "WAREHOUSE_S3_ENDPOINT"),
            bucket: try required(configuration.s3Bucket, "WAREHOUSE_S3_BUCKET"),
            region: configuration.s3Region,
            accessKey: try required(configuration.s3AccessKey, "WAREHOUSE_S3_ACCESS_KEY"),
            secretKey: try required(configuration.s3SecretKey, "WAREHOUSE_S3_SECRET_KEY"),
            pathStyle: configuration.s3PathStyle)
        s3.partSize = configuration.s3PartSize
        s3.concurrentParts = configuration.s3ConcurrentParts
        s3.signPartPayloads = configuration.s3SignPartPayloads
        do {
            return try S3Store(configuration: s3, prefix: configuration.s3Prefix, createBucket: true)
        } catch WarehouseError.storageUnavailable(let detail) {
            logger.warning("S3 is not usable yet (\(detail)); serving anyway, /health reports it")
            return try S3Store(configuration: s3, prefix: configuration.s3Prefix, createBucket: false)
        }
    }

    /// The shared bucket, when `WAREHOUSE_REPLICATION=on`: refused on a store without
    /// conditional writes. With replication off, refused while shared replicas serve the bucket.
    static func sharing(_ configuration: WarehouseConfiguration, store: any ObjectStore, logger: Logger,
                        serving: Bool) throws -> SharedBucket? {
        guard configuration.replication else {
            if serving, configuration.storage == .s3,
               let live = try? SharedBucket.liveReplicas(store, leaseSeconds: configuration.leaseSeconds), !live.isEmpty {
                throw WarehouseError.invalid("replicas \(live.map(\.replica).sorted().joined(separator: ", ")) share this bucket "
                    + "(WAREHOUSE_REPLICATION=on); start this one with WAREHOUSE_REPLICATION=on too, or its catalog would not follow theirs")
            }
            return nil
        }
        guard configuration.storage == .s3 else {
            throw WarehouseError.invalid("WAREHOUSE_REPLICATION=on needs an S3 bucket (WAREHOUSE_STORAGE=s3): replicas share the bucket, not a local folder")
        }
        let id = try configuration.replicaID ?? Self.replicaID(dataDirectory: configuration.dataDirectory)
        let probe = ObjectKeys.probe(replica: id, nonce: Hex.encode(SecureRandom.bytes(4)))
        guard try SharedBucket.supportsConditionalWrites(store, probeKey: probe) else {
            throw WarehouseError.invalid("\(configuration.s3Endpoint ?? "the S3 endpoint") does not honour conditional writes "
                + "(a second PutObject with If-None-Match: * was not refused; rclone serve s3 ignores it), so several replicas on it "
                + "could create the same version twice: this replica refuses to share it. Run one replica with WAREHOUSE_REPLICATION=off, "
                + "or use AWS S3, MinIO or another store with conditional writes")
        }
        var settings = ReplicationSettings(replicaID: id)
        settings.pollSeconds = configuration.replicationPollSeconds
        settings.leaseSeconds = configuration.leaseSeconds
        settings.retentionSeconds = configuration.changeRetentionSeconds
        logger.info("replication on: replica \(id) shares bucket \(configuration.s3Bucket ?? "?") (change log read every \(settings.pollSeconds) s, leases of \(settings.leaseSeconds) s)")
        return SharedBucket(store: store, settings: settings, logger: logger)
    }

    /// `DATA_DIR/replica-id`, generated at first start.
    static func replicaID(dataDirectory: String) throws -> String {
        let path = dataDirectory + "/replica-id"
        if let text = try? String(contentsOfFile: path, encoding: .utf8) {
            let id = text.trimmingCharacters(in: .whitespacesAndNewlines)
            if ReplicationSettings.validReplicaID(id) { return id }
        }
        let id = "r-" + Hex.encode(SecureRandom.bytes(4))
        do {
            try (id + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            throw WarehouseError.storageUnavailable("cannot write \(path): \(error.localizedDescription)")
        }
        return id
    }

    public func start() throws {
        if let follower, runsTraining {
            do {
                for action in try follower.catchUp() { logger.info("replication: \(action)") }
            } catch {
                logger.warning("replication: catching up with the bucket failed (the follower keeps trying): \(error)")
            }
            follower.start()
        }
        if runsTraining {
            for action in try training.start() { logger.info("recovery: \(action)") }
        }
        try server.start()
        logger.info("listening on http://\(configuration.host):\(port) with \(configuration.storage.rawValue) storage in \(configuration.dataDirectory)")
    }

    public func stop() {
        // Training first: open event streams end when their jobs stop, so the server's
        // connection threads can finish.
        training.stop()
        server.stop()
        follower?.stop()
    }

    /// A graceful stop (SIGTERM): no new connections; training stops (its event streams end);
    /// requests in flight get `shutdown_grace_seconds` to finish; then the ones left are
    /// cancelled and roll back what they began, and the server exits.
    public func shutdown() {
        let grace = configuration.shutdownGraceSeconds
        logger.info("stopping: no new connections; \(server.activeRequests) request(s) in flight get up to \(grace) s")
        server.shutdown(grace: grace) { training.stop() }
        follower?.stop()
    }
}

/// SHA-256 as the multipart parser's streaming digest.
final class SHA256Digest: UploadDigest {
    private let hasher = SHA256()
    func update(_ buffer: UnsafeRawBufferPointer) { hasher.update(buffer) }
    func finalizeHex() -> String { Hex.encode(hasher.finalize()) }
}

/// /health, /metrics and other service-level routes.
struct SystemRoutes {
    let service: ModelService
    let storage: String
    let metrics: ServiceMetrics
    let follower: ReplicaFollower?

    var definitions: [RouteDefinition] {
        let service = self.service
        let storage = self.storage
        let metrics = self.metrics
        let follower = self.follower
        return [
            RouteDefinition("GET", "/openapi.json") { _ in
                JSON.response(OpenAPIDocument.document())
            },
            RouteDefinition("GET", "/metrics") { _ in
                let statistics = try service.catalog.statistics()
                let states = ["queued", "running", "succeeded", "failed", "cancelled"]
                let text = metrics.exposition(gauges: [
                    ("warehouse_training_jobs", "Training jobs by state.",
                     states.map { ([("state", $0)], Double(statistics.jobsByState[$0] ?? 0)) }),
                    ("warehouse_catalog_models", "Models with at least one ready version.", [([], Double(statistics.models))]),
                    ("warehouse_catalog_versions", "Ready versions.", [([], Double(statistics.versions))]),
                    ("warehouse_catalog_files", "Files of ready versions.", [([], Double(statistics.files))]),
                    ("warehouse_catalog_stored_bytes", "Bytes of the files of ready versions.", [([], Double(statistics.storedBytes))]),
                    ("warehouse_catalog_datasets", "Datasets with at least one ready version.", [([], Double(statistics.datasets))]),
                ] + (follower.map { follower in [
                    ("warehouse_replication_changes_applied", "Other replicas' changes applied since start.",
                     [([], Double(follower.appliedChanges))]),
                    ("warehouse_replication_seconds_since_last_pass", "Seconds since the change log was last read through (-1: never).",
                     [([], follower.secondsSinceLastPass ?? -1)]),
                    ("warehouse_replication_pending_changes", "Other replicas' changes that failed to apply and are retried.",
                     [([], Double(follower.backlog.pendingChanges))]),
                    ("warehouse_replication_oldest_pending_seconds", "Age of the oldest pending change (0: none).",
                     [([], follower.backlog.oldestPendingSeconds ?? 0)]),
                    ("warehouse_replication_failed_applications", "Attempts to apply a change that failed, since start.",
                     [([], Double(follower.failedApplications))]),
                ] } ?? []))
                var headers = HTTPHeaders()
                headers.add("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
                return HTTPResponse(status: 200, headers: headers, body: .bytes(Array(text.utf8)))
            },
            RouteDefinition("GET", "/health") { _ in
                var checks: [String: String] = [:]
                var failure: String?
                do { try service.store.checkHealth(); checks["storage"] = "ok" } catch {
                    checks["storage"] = "\(error)"
                    failure = "storage: \(error)"
                }
                var behind: String?
                if let shared = service.shared {
                    checks["replication"] = "on: replica \(shared.settings.replicaID)"
                    if let backlog = follower?.backlog, backlog.pendingChanges > 0 {
                        // Still serving, so not a 503: what it shows may be stale for these things.
                        behind = "\(backlog.pendingChanges) change(s) of other replicas not applied yet, the oldest for "
                            + "\(Int(backlog.oldestPendingSeconds ?? 0)) s (retried); last error: \(backlog.lastError ?? "?")"
                        checks["replication"] = "behind: " + behind!
                    }
                }
                do { _ = try service.catalog.integrityCheckQuick(); checks["catalog"] = "ok" } catch {
                    checks["catalog"] = "\(error)"
                    failure = failure ?? "catalog: \(error)"
                }
                let body = HealthDTO(status: failure != nil ? "unavailable" : behind != nil ? "behind" : "ok", storage: storage,
                                     checks: checks, detail: failure ?? behind.map { "replication: " + $0 })
                return JSON.response(body, status: failure == nil ? 200 : 503)
            },
        ]
    }
}

struct HealthDTO: Encodable {
    let status: String
    let storage: String
    let checks: [String: String]
    let detail: String?
}
