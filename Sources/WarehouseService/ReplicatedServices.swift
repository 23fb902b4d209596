import Foundation
import WarehouseCatalog
import WarehouseCore
import WarehouseReplication

/// Each service applies the changes of its own kinds that other replicas make, and reads all
/// of its state from the bucket when the catalog never followed (see `ReplicaFollower`).

/// Runs `sync` on every key under `prefix` that parses; answers for how many it returned true.
func syncEach(in store: any ObjectStore, prefix: String, _ sync: (ObjectKeys.Parsed) throws -> Bool) throws -> Int {
    try store.list(prefix: prefix).reduce(0) { count, object in
        guard let parsed = ObjectKeys.parse(object.key) else { return count }
        return try sync(parsed) ? count + 1 : count
    }
}

extension ModelService: ReplicatedService {
    public var followedKinds: [Change.Kind] { [.version, .aliases, .model] }

    public func apply(_ change: Change) throws {
        let subject = change.subject
        switch change.kind {
        case .version:
            try MalformedChange.require(change, subjectCount: 3)
            try syncVersion(user: subject[0], model: subject[1], version: subject[2])
        case .model:
            try MalformedChange.require(change, subjectCount: 2)
            try syncRegisteredModel(user: subject[0], model: subject[1])
        default:
            try MalformedChange.require(change, subjectCount: 2)
            try syncAliases(user: subject[0], model: subject[1])
        }
    }

    public func readAll() throws -> [String: Int] {
        let report = try reindex()
        return ["versions": report.imported.count, "aliases": report.aliases.count]
    }
}

extension DatasetService: ReplicatedService {
    public var followedKinds: [Change.Kind] { [.dataset] }

    public func apply(_ change: Change) throws {
        try MalformedChange.require(change, subjectCount: 3)
        try syncDataset(user: change.subject[0], dataset: change.subject[1], version: change.subject[2])
    }

    public func readAll() throws -> [String: Int] {
        ["datasets": try syncEach(in: store, prefix: ObjectKeys.datasetManifests) { parsed in
            guard case .datasetManifest(let user, let dataset, let version) = parsed else { return false }
            try syncDataset(user: user, dataset: dataset, version: version)
            return true
        }]
    }
}

extension AccessControl: ReplicatedService {
    public var followedKinds: [Change.Kind] { [.token] }

    public func apply(_ change: Change) throws {
        try MalformedChange.require(change, subjectCount: 1)
        try sharedToken(hash: change.subject[0])
    }

    public func readAll() throws -> [String: Int] {
        var count = 0
        for key in try replication.listPublished(prefix: ObjectKeys.tokens) {
            guard case .token(let hash)? = ObjectKeys.parse(key) else { continue }
            try sharedToken(hash: hash)
            count += 1
        }
        return ["tokens": count]
    }
}

extension ModelLifecycle: ReplicatedService {
    public var followedKinds: [Change.Kind] { [.notification] }

    public func apply(_ change: Change) throws {
        try MalformedChange.require(change, subjectCount: 2)
        try syncNotification(user: change.subject[0], id: change.subject[1])
    }

    public func readAll() throws -> [String: Int] {
        ["notifications": try syncEach(in: models.store, prefix: ObjectKeys.notifications) { parsed in
            guard case .notification(let user, let id) = parsed else { return false }
            try syncNotification(user: user, id: id)
            return true
        }]
    }

    func syncNotification(user: String, id: String) throws {
        guard let bytes = try models.store.getDataAndETag(key: ObjectKeys.notification(user: user, id: id))?.bytes else { return }
        let notification = try JSONDecoder().decode(SharedNotification.self, from: Data(bytes))
        try catalog.insertSharedNotification(sharedID: id, user: notification.userID, model: notification.modelID,
                                             data: notification.data, createdAt: notification.createdAt)
    }
}

extension TrainingService: ReplicatedService {
    public var followedKinds: [Change.Kind] { [.job, .cancel] }

    public func apply(_ change: Change) throws {
        try MalformedChange.require(change, subjectCount: 1)
        if change.kind == .cancel {
            cancelRequested(id: change.subject[0])
        } else {
            try syncJob(id: change.subject[0])
        }
    }

    public func readAll() throws -> [String: Int] {
        ["jobs": try syncEach(in: models.store, prefix: ObjectKeys.jobs) { parsed in
            guard case .job(let id) = parsed else { return false }
            try syncJob(id: id)
            return true
        }]
    }
}

/// The follower's position in the change log, kept in the catalog so a restart goes on from it.
public struct CatalogFollowerPosition: FollowerPosition {
    static let key = "changes.after"
    let catalog: Catalog

    public init(catalog: Catalog) { self.catalog = catalog }

    public func load() throws -> Int64? { try catalog.replicationValue(Self.key).flatMap(Int64.init) }
    public func save(_ milliseconds: Int64) throws { try catalog.setReplicationValue(Self.key, String(milliseconds)) }
}
