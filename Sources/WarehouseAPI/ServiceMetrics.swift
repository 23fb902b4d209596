import Foundation
import Synchronization
import WarehouseCore
import WarehouseHTTPServer

/// The numbers behind `GET /metrics`: requests by route and status, latency histograms,
/// bytes in and out, requests (and uploads) in flight, storage errors by operation and kind.
/// Gauges that live elsewhere (training jobs, catalog size) are read at scrape time.
public final class ServiceMetrics: HTTPRequestObserver {
    /// Latency bucket bounds in seconds (Prometheus `le`).
    static let buckets: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300]
    /// Routes whose requests are uploads (`warehouse_uploads_in_flight`).
    static let uploadRoutes: Set<String> = ["/ai-models/upload/single", "/ai-models/upload/folder", "/datasets/upload"]

    struct RouteKey: Hashable { let method: String, route: String }
    struct StatusKey: Hashable { let method: String, route: String, status: String }
    struct StorageKey: Hashable { let operation: String, kind: String }

    struct Histogram {
        var counts = [UInt64](repeating: 0, count: ServiceMetrics.buckets.count)
        var sum = 0.0
        var count: UInt64 = 0
    }

    struct State {
        var requests: [StatusKey: UInt64] = [:]
        var latency: [RouteKey: Histogram] = [:]
        var bytesIn: [RouteKey: UInt64] = [:]
        var bytesOut: [RouteKey: UInt64] = [:]
        var inFlight: [RouteKey: Int] = [:]
        var storageErrors: [StorageKey: UInt64] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    public func requestBegan(method: String, route: String) {
        state.withLock { $0.inFlight[RouteKey(method: method, route: route), default: 0] += 1 }
    }

    public func requestEnded(method: String, route: String, status: Int?, seconds: Double, bytesIn: UInt64, bytesOut: UInt64) {
        let key = RouteKey(method: method, route: route)
        state.withLock { state in
            state.inFlight[key, default: 1] -= 1
            state.requests[StatusKey(method: method, route: route, status: status.map(String.init) ?? "aborted"), default: 0] += 1
            var histogram = state.latency[key] ?? Histogram()
            if let bucket = Self.buckets.firstIndex(where: { seconds <= $0 }) { histogram.counts[bucket] += 1 }
            histogram.sum += seconds
            histogram.count += 1
            state.latency[key] = histogram
            state.bytesIn[key, default: 0] += bytesIn
            state.bytesOut[key, default: 0] += bytesOut
        }
    }

    /// Requests of `route` that ended (answered or abandoned) since start.
    public func requestsEnded(route: String) -> UInt64 {
        state.withLock { $0.requests.filter { $0.key.route == route }.values.reduce(0, +) }
    }

    func storageError(operation: String, kind: String) {
        state.withLock { $0.storageErrors[StorageKey(operation: operation, kind: kind), default: 0] += 1 }
    }

    /// The Prometheus text exposition (version 0.0.4). `gauges` are (name, help, labelled values).
    func exposition(gauges: [(name: String, help: String, values: [([(String, String)], Double)])]) -> String {
        let snapshot = state.withLock { $0 }
        var out = ""
        func family(_ name: String, _ type: String, _ help: String) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
        }
        func sample(_ name: String, _ labels: [(String, String)], _ value: Double) {
            let rendered = labels.isEmpty ? "" : "{" + labels.map { "\($0.0)=\"\(Self.escape($0.1))\"" }.joined(separator: ",") + "}"
            out += "\(name)\(rendered) \(Self.number(value))\n"
        }
        family("warehouse_http_requests_total", "counter", "HTTP requests answered, by method, route pattern and status (aborted: the client left first).")
        for (key, count) in snapshot.requests.sorted(by: { ($0.key.route, $0.key.method, $0.key.status) < ($1.key.route, $1.key.method, $1.key.status) }) {
            sample("warehouse_http_requests_total", [("method", key.method), ("route", key.route), ("status", key.status)], Double(count))
        }
        let routes = snapshot.latency.keys.sorted { ($0.route, $0.method) < ($1.route, $1.method) }
        family("warehouse_http_request_duration_seconds", "histogram", "Time from a request's headers to the end of its response.")
        for key in routes {
            let histogram = snapshot.latency[key]!
            let labels = [("method", key.method), ("route", key.route)]
            var cumulative: UInt64 = 0
            for (index, bound) in Self.buckets.enumerated() {
                cumulative += histogram.counts[index]
                sample("warehouse_http_request_duration_seconds_bucket", labels + [("le", Self.number(bound))], Double(cumulative))
            }
            sample("warehouse_http_request_duration_seconds_bucket", labels + [("le", "+Inf")], Double(histogram.count))
            sample("warehouse_http_request_duration_seconds_sum", labels, histogram.sum)
            sample("warehouse_http_request_duration_seconds_count", labels, Double(histogram.count))
        }
        family("warehouse_http_request_bytes_total", "counter", "Request body bytes received, by route.")
        for key in routes { sample("warehouse_http_request_bytes_total", [("method", key.method), ("route", key.route)], Double(snapshot.bytesIn[key] ?? 0)) }
        family("warehouse_http_response_bytes_total", "counter", "Response body bytes sent, by route.")
        for key in routes { sample("warehouse_http_response_bytes_total", [("method", key.method), ("route", key.route)], Double(snapshot.bytesOut[key] ?? 0)) }
        family("warehouse_http_requests_in_flight", "gauge", "Requests being received or answered, by route.")
        for (key, count) in snapshot.inFlight.sorted(by: { ($0.key.route, $0.key.method) < ($1.key.route, $1.key.method) }) {
            sample("warehouse_http_requests_in_flight", [("method", key.method), ("route", key.route)], Double(count))
        }
        family("warehouse_uploads_in_flight", "gauge", "Model and dataset uploads being received or stored.")
        sample("warehouse_uploads_in_flight", [], Double(snapshot.inFlight.filter { Self.uploadRoutes.contains($0.key.route) }.values.reduce(0, +)))
        family("warehouse_storage_errors_total", "counter", "Failed object-store operations, by operation and kind.")
        for (key, count) in snapshot.storageErrors.sorted(by: { ($0.key.operation, $0.key.kind) < ($1.key.operation, $1.key.kind) }) {
            sample("warehouse_storage_errors_total", [("operation", key.operation), ("kind", key.kind)], Double(count))
        }
        for gauge in gauges {
            family(gauge.name, "gauge", gauge.help)
            for (labels, value) in gauge.values { sample(gauge.name, labels, value) }
        }
        return out
    }

    /// Label values escape backslash, double quote and line feed.
    static func escape(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }

    static func number(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }
}

/// Counts a store's failures into `ServiceMetrics` by operation and kind.
public struct StorageErrorMeter: ObjectStoreInterceptor {
    let metrics: ServiceMetrics

    public init(metrics: ServiceMetrics) { self.metrics = metrics }

    public func intercept<T>(_ operation: ObjectStoreOperation, key: String?, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let lost as ConditionalWriteLost {
            // Another replica wrote first: the protocol working, not the store failing.
            throw lost
        } catch {
            metrics.storageError(operation: operation.rawValue, kind: Self.kind(of: error))
            throw error
        }
    }

    public func intercept(streamingUpload: any StreamingObjectUpload) -> any StreamingObjectUpload {
        MeteredStreamingUpload(inner: streamingUpload, metrics: metrics)
    }

    static func kind(of error: any Error) -> String {
        guard let error = error as? WarehouseError else { return "other" }
        switch error {
        case .storageUnavailable: return "unavailable"
        case .notFound: return "not_found"
        case .invalid: return "invalid"
        case .tooLarge: return "too_large"
        default: return "other"
        }
    }
}

final class MeteredStreamingUpload: StreamingObjectUpload {
    let inner: any StreamingObjectUpload
    let metrics: ServiceMetrics
    init(inner: any StreamingObjectUpload, metrics: ServiceMetrics) {
        self.inner = inner
        self.metrics = metrics
    }
    func available(_ bytes: UnsafeRawBufferPointer, path: String, size: UInt64) { inner.available(bytes, path: path, size: size) }
    func finish(path: String, size: UInt64, sha256: String) throws {
        do { try inner.finish(path: path, size: size, sha256: sha256) } catch {
            metrics.storageError(operation: "put", kind: StorageErrorMeter.kind(of: error))
            throw error
        }
    }
    func abort() { inner.abort() }
}
