import Synchronization

/// Told about every request: when its headers arrive and when it is over (answered and sent,
/// or abandoned by the client). `route` is the matched route pattern (`/ai-models/{user_id}/…`),
/// or `unmatched`.
public protocol HTTPRequestObserver: Sendable {
    func requestBegan(method: String, route: String)
    /// `status` is nil when the client went away before a response was queued; `bytesOut`
    /// counts what was handed to the connection.
    func requestEnded(method: String, route: String, status: Int?, seconds: Double, bytesIn: UInt64, bytesOut: UInt64)
}

/// Bytes of one response handed to libmicrohttpd; shared by the request and its body reader.
final class SentBytes: Sendable {
    private let total = Atomic<UInt64>(0)
    func add(_ count: Int) { total.add(UInt64(count), ordering: .relaxed) }
    var count: UInt64 { total.load(ordering: .relaxed) }
}
