import Foundation
import WarehouseCore
import WarehouseCrypto
import WarehouseHTTPServer
import WarehouseService

/// The services the HTTP surface serves.
public struct ServedServices: Sendable {
    public let models: ModelService
    public let uploadSessions: UploadSessions
    public let datasets: DatasetService
    public let training: TrainingService
    public let predictions: PredictionService
    public let lifecycle: ModelLifecycle
    public let feedback: FeedbackService
    public let access: AccessControl
    /// Follows the other replicas (nil: this replica is the only one), for /health and /metrics.
    public let follower: (any ReplicationStatus)?
    public let chat: DatasetChat

    public init(models: ModelService, uploadSessions: UploadSessions, datasets: DatasetService, training: TrainingService,
                predictions: PredictionService, lifecycle: ModelLifecycle, feedback: FeedbackService, access: AccessControl,
                follower: (any ReplicationStatus)?, chat: DatasetChat) {
        self.chat = chat
        self.models = models
        self.uploadSessions = uploadSessions
        self.datasets = datasets
        self.training = training
        self.predictions = predictions
        self.lifecycle = lifecycle
        self.feedback = feedback
        self.access = access
        self.follower = follower
    }
}

/// The whole HTTP surface over the services: every route, the caller resolved once when the
/// headers arrive, and the one error table. Routes see services only.
public struct WarehouseRoutes: Sendable {
    public let router: Router
    /// What the HTTP server runs: authentication, then the router.
    public let handler: any HTTPHandler
    /// The check every download makes of its stored object (other surfaces serve files too).
    public let storedObjectCheck: StoredObjectCheck

    /// `storageName` is what /health reports; `spoolDirectory` receives upload bodies.
    public init(services: ServedServices, metrics: ServiceMetrics, storageName: String, spoolDirectory: String, logger: Logger) {
        let (service, access) = (services.models, services.access)
        var multipart = MultipartConfiguration(spoolDirectory: spoolDirectory, makeDigest: { SHA256Digest() })
        // A local store keeps the spool file itself (renamed into place): write it back early.
        multipart.startsWriteback = !service.store.streamsUploads
        var staging = multipart
        staging.observeFile = { head, fieldsSoFar, file in
            // Stage only for a caller allowed in the namespace the early fields name.
            guard file.fieldName == "file",
                  let user = fieldsSoFar.first(where: { $0.name == "user_id" })?.value,
                  (try? head.principal().authorize(user: user)) != nil,
                  head.values[StagedUploadKey.self] == nil,
                  let staged = StagedUpload(service: service, fieldsSoFar: fieldsSoFar, filename: file.filename) else { return nil }
            let observer = StagedUploadObserver(staged)
            head.values[StagedUploadKey.self] = observer
            return observer
        }
        storedObjectCheck = StoredObjectCheck(service: service) { detail in
            metrics.storageError(operation: "download", kind: "drift")
            logger.error("download refused: \(detail)")
        }
        let routes = ModelRoutes(service: service, access: access, uploadBody: .multipart(multipart),
                                 stagedUploadBody: .multipart(staging), storedObjectCheck: storedObjectCheck).definitions
            + SystemRoutes(service: service, storage: storageName, metrics: metrics, follower: services.follower).definitions
            + TokenRoutes(access: access).definitions
            + UploadSessionRoutes(sessions: services.uploadSessions, access: access).definitions
            + DatasetRoutes(datasets: services.datasets, training: services.training, access: access, uploadBody: .multipart(multipart)).definitions
            + ChatRoutes(chat: services.chat).definitions
            + TrainingRoutes(training: services.training, predictions: services.predictions, access: access,
                             tickets: EventTickets(access: access)).definitions
            + LifecycleRoutes(lifecycle: services.lifecycle, feedback: services.feedback, training: services.training, models: service,
                              access: access).definitions
            + WebRoutes(service: service, datasets: services.datasets, training: services.training, lifecycle: services.lifecycle,
                        access: access, uploadBody: .multipart(multipart), storedObjectCheck: storedObjectCheck, logger: logger).definitions
        router = Router(routes: routes) { error, head in
            ErrorResponses.response(for: error, head: head, logger: logger)
        }
        handler = AuthenticatingHandler(router: router, access: access, logger: logger)
    }
}

/// SHA-256 as the multipart parser's streaming digest.
final class SHA256Digest: UploadDigest {
    private let hasher = SHA256()
    func update(_ buffer: UnsafeRawBufferPointer) { hasher.update(buffer) }
    func finalizeHex() -> String { Hex.encode(hasher.finalize()) }
}
