import Foundation
import Synchronization
import WarehouseCore
import WarehouseCrypto
import WarehouseService

/// Short-lived tickets that let an `EventSource` (which cannot send headers) follow one job's
/// events without a token in its URL: `{job}.{expiry ms}.{nonce}.{signature}`, signed like the
/// service's other signed URLs (any replica configured alike verifies it), good for 60 s and
/// one stream: a nonce is remembered here once used, until it expires.
final class EventTickets: Sendable {
    static let lifetimeSeconds = 60.0
    let access: AccessControl
    private let used = Mutex<[String: Double]>([:])

    init(access: AccessControl) {
        self.access = access
    }

    func issue(job: String) -> (ticket: String, expiresAt: String) {
        let expires = Date().addingTimeInterval(Self.lifetimeSeconds)
        let milliseconds = Int64((expires.timeIntervalSince1970 * 1000).rounded())
        let message = "events-ticket/1\n\(job)\n\(milliseconds)\n" + Hex.encode(SecureRandom.bytes(12))
        let parts = message.split(separator: "\n").dropFirst().joined(separator: ".")
        return (parts + "." + access.signature(of: message), Timestamps.string(from: expires))
    }

    /// Checks the ticket for this job and spends it; the reason when it cannot be used.
    func redeem(_ ticket: String, job: String) throws {
        let parts = ticket.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 4, let milliseconds = Int64(parts[1]),
              access.isSigned("events-ticket/1\n\(parts[0])\n\(parts[1])\n\(parts[2])", signature: parts[3]) else {
            throw WarehouseError.unauthorized("invalid events ticket: ask POST /training/jobs/{job_id}/events-ticket for one")
        }
        guard parts[0] == job else { throw WarehouseError.unauthorized("this events ticket is for another job") }
        let now = Date().timeIntervalSince1970 * 1000
        guard Double(milliseconds) > now else {
            throw WarehouseError.unauthorized("the events ticket has expired (tickets last \(Int(Self.lifetimeSeconds)) s): ask for a new one")
        }
        try used.withLock { used in
            used = used.filter { $0.value > now }
            guard used[parts[2]] == nil else {
                throw WarehouseError.unauthorized("the events ticket was already used (one stream per ticket): ask for a new one")
            }
            used[parts[2]] = Double(milliseconds)
        }
    }
}
