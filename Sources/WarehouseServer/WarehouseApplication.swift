import Foundation
import WarehouseHub
import WarehouseMLflow
import WarehouseAPI
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
        datasets = DatasetService(catalog: catalog, store: store, spoolDirectory: dataDirectory + "/tmp", replication: service.replication)
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

        let admin = try AccessControl.adminToken(configured: configuration.adminToken, dataDirectory: dataDirectory)
        if admin.created, let path = admin.path {
            logger.info("generated the admin token into \(path) (mode 0600); set WAREHOUSE_ADMIN_TOKEN to choose one")
        } else if let path = admin.path {
            logger.info("admin token: \(path)")
        }
        let access = AccessControl(catalog: catalog, adminToken: admin.token, replication: service.replication)
        self.access = access
        // Versions and aliases first (as reindex), then datasets, tokens, notifications, jobs.
        let followed: [any ReplicatedService] = [service, datasets, access, lifecycle, training]
        follower = shared.map { ReplicaFollower(shared: $0, services: followed, position: CatalogFollowerPosition(catalog: catalog),
                                                logger: logger) }
        let routes = WarehouseRoutes(
            services: ServedServices(models: service, uploadSessions: uploadSessions, datasets: datasets, training: training,
                                     predictions: predictions, lifecycle: lifecycle, feedback: feedback, access: access,
                                     follower: follower,
                                     chat: DatasetChat(training: training, settings: DatasetChat.Settings(
                                        url: configuration.llmURL, model: configuration.llmModel, apiKey: configuration.llmAPIKey))),
            metrics: metrics, storageName: configuration.storage.rawValue, spoolDirectory: dataDirectory + "/tmp", logger: logger)
        router = routes.router
        var hubSettings = HubSettings(spoolDirectory: dataDirectory + "/tmp")
        hubSettings.regularUploadMaxBytes = configuration.hfRegularUploadMaxBytes
        hubSettings.redirectDownloads = configuration.hfDownloadRedirect
        hubSettings.largeFilePartSize = max(configuration.s3PartSize, 8 << 20)
        let hub = HubRoutes(models: service, lifecycle: lifecycle, access: access,
                            check: routes.storedObjectCheck,
                            settings: hubSettings, logger: logger)
        let mlflow = MLflowRoutes(models: service, lifecycle: lifecycle, access: access, check: routes.storedObjectCheck,
                                  settings: MLflowSettings(spoolDirectory: dataDirectory + "/tmp"), logger: logger)
        var serverConfiguration = HTTPServerConfiguration(host: configuration.host, port: configuration.port)
        serverConfiguration.maxBodyBytes = configuration.maxUploadBytes
        serverConfiguration.observer = metrics
        serverConfiguration.connectionTimeoutSeconds = configuration.connectionTimeoutSeconds
        serverConfiguration.connectionLimit = configuration.connectionLimit
        serverConfiguration.minBodyBytesPerSecond = configuration.minUploadBytesPerSecond
        serverConfiguration.slowBodyGraceSeconds = configuration.slowBodyGraceSeconds
        let surfaces = SurfaceHandler(api: routes.handler, hub: hub, mlflow: mlflow)
        server = HTTPServer(configuration: serverConfiguration,
                            handler: CORSHandler(origins: configuration.corsOrigins, inner: surfaces, logger: logger))
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

/// The surfaces one server answers: the Hub protocol under `/hf`, the warehouse's API elsewhere.
struct SurfaceHandler: HTTPHandler {
    let api: any HTTPHandler
    let hub: HubRoutes
    let mlflow: MLflowRoutes

    func plan(for head: HTTPRequestHead) -> HTTPRequestPlan {
        if HubRoutes.serves(head.path) { return hub.plan(for: head) }
        if MLflowRoutes.serves(head.path) { return mlflow.plan(for: head) }
        return api.plan(for: head)
    }
}
