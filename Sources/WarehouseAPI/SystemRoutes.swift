import Foundation
import WarehouseCore
import WarehouseHTTPServer
import WarehouseService

/// /health, /metrics and other service-level routes.
struct SystemRoutes {
    let service: ModelService
    let storage: String
    let metrics: ServiceMetrics
    let follower: (any ReplicationStatus)?

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
                let statistics = try service.statistics()
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
                     [([], Double(follower.pendingChanges.count))]),
                    ("warehouse_replication_oldest_pending_seconds", "Age of the oldest pending change (0: none).",
                     [([], follower.pendingChanges.oldestSeconds ?? 0)]),
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
                if let follower {
                    checks["replication"] = "on: replica \(follower.replicaID)"
                    let backlog = follower.pendingChanges
                    if backlog.count > 0 {
                        // Still serving, so not a 503: what it shows may be stale for these things.
                        behind = "\(backlog.count) change(s) of other replicas not applied yet, the oldest for "
                            + "\(Int(backlog.oldestSeconds ?? 0)) s (retried); last error: \(backlog.lastError ?? "?")"
                        checks["replication"] = "behind: " + behind!
                    }
                }
                do { try service.checkCatalog(); checks["catalog"] = "ok" } catch {
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
