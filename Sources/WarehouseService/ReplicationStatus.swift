import WarehouseReplication

/// What /health and /metrics say about following the other replicas: the routes read it here,
/// not from the replication module.
public protocol ReplicationStatus: Sendable {
    /// This replica's name in the shared bucket.
    var replicaID: String { get }
    /// Other replicas' changes applied since start.
    var appliedChanges: Int { get }
    /// Seconds since the change log was last read through (nil: never).
    var secondsSinceLastPass: Double? { get }
    /// Attempts to apply a change that failed, since start.
    var failedApplications: Int { get }
    /// Changes not applied yet, the oldest one's age and the last error.
    var pendingChanges: (count: Int, oldestSeconds: Double?, lastError: String?) { get }
}

extension ReplicaFollower: ReplicationStatus {
    public var replicaID: String { shared.settings.replicaID }

    public var pendingChanges: (count: Int, oldestSeconds: Double?, lastError: String?) {
        let backlog = self.backlog
        return (backlog.pendingChanges, backlog.oldestPendingSeconds, backlog.lastError)
    }
}
