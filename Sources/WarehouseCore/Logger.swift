import Foundation
import Synchronization

/// A small logger shaped like swift-log's: levels, a label, lazy messages, metadata.
/// Writes one line per event to standard error; tests can swap in a capturing handler.
public struct Logger: Sendable {
    public enum Level: Int, Sendable, Comparable, CustomStringConvertible {
        case debug, info, notice, warning, error

        public static func < (lhs: Level, rhs: Level) -> Bool { lhs.rawValue < rhs.rawValue }
        public var description: String {
            switch self {
            case .debug: "debug"
            case .info: "info"
            case .notice: "notice"
            case .warning: "warning"
            case .error: "error"
            }
        }
    }

    public typealias Handler = @Sendable (_ level: Level, _ label: String, _ message: String, _ metadata: [String: String]) -> Void

    public let label: String
    public var minimumLevel: Level
    private let handler: Handler

    public init(label: String, minimumLevel: Level = .info, handler: Handler? = nil) {
        self.label = label
        self.minimumLevel = minimumLevel
        self.handler = handler ?? Logger.standardError
    }

    public func log(level: Level, _ message: @autoclosure () -> String, metadata: [String: String] = [:]) {
        guard level >= minimumLevel else { return }
        handler(level, label, message(), metadata)
    }

    public func info(_ message: @autoclosure () -> String, metadata: [String: String] = [:]) {
        log(level: .info, message(), metadata: metadata)
    }

    public func warning(_ message: @autoclosure () -> String, metadata: [String: String] = [:]) {
        log(level: .warning, message(), metadata: metadata)
    }

    public func error(_ message: @autoclosure () -> String, metadata: [String: String] = [:]) {
        log(level: .error, message(), metadata: metadata)
    }

    private static let outputLock = Mutex<Void>(())

    public static let standardError: Handler = { level, label, message, metadata in
        var line = "\(Timestamps.now()) \(level) \(label): \(message)"
        if !metadata.isEmpty {
            line += " " + metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        }
        line += "\n"
        outputLock.withLock { _ in FileHandle.standardError.write(Data(line.utf8)) }
    }
}
