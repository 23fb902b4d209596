import Foundation
import Synchronization

/// Thrown when a training job is cancelled.
public struct TrainingCancelled: Error, CustomStringConvertible, Sendable {
    public init() {}
    public var description: String { "training was cancelled" }
}

/// The wall-clock limit and the cancel switch every learner checks between rounds or trees.
public final class TrainingBudget: Sendable {
    public let start: ContinuousClock.Instant
    public let limit: Duration
    private let cancelled = Atomic<Bool>(false)
    /// Milliseconds after `start` when learners must stop (the search phase ends before the
    /// hard limit to leave time for refits and evaluation); -1 for the hard limit.
    private let softLimitMilliseconds = Atomic<Int64>(-1)

    public init(seconds: Double) {
        start = .now
        limit = .milliseconds(Int64(seconds * 1000))
    }

    public func cancel() { cancelled.store(true, ordering: .relaxed) }
    public var isCancelled: Bool { cancelled.load(ordering: .relaxed) }

    public var elapsed: Double { Self.seconds(ContinuousClock.now - start) }
    public var limitSeconds: Double { Self.seconds(limit) }
    public var remaining: Double { limitSeconds - elapsed }

    /// Learners stop at `seconds` after the start instead of at the hard limit (nil: hard limit).
    public func setSoftLimit(_ seconds: Double?) {
        softLimitMilliseconds.store(seconds.map { Int64(min($0, limitSeconds) * 1000) } ?? -1, ordering: .relaxed)
    }

    var effectiveLimit: Double {
        let soft = softLimitMilliseconds.load(ordering: .relaxed)
        return soft < 0 ? limitSeconds : Double(soft) / 1000
    }

    /// True once learners must wrap up, or the job is cancelled.
    public func exhausted() -> Bool {
        isCancelled || elapsed >= effectiveLimit
    }

    public func checkCancelled() throws {
        if isCancelled { throw TrainingCancelled() }
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
    }
}
