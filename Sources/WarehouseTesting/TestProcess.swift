import Foundation

/// Runs a program for a test and collects what it printed (both pipes drained at once, so a
/// chatty stderr cannot block it), and finds the test peers' programs.
public enum TestProcess {
    public struct Result: Sendable {
        public let status: Int32
        public let stdout: String
        public let stderr: String
        public var output: String { stdout + stderr }
    }

    static let repository: URL = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url
    }()

    /// A file of the checkout (`Tests/python/…`).
    public static func repositoryPath(_ relative: String) -> String {
        repository.appendingPathComponent(relative).path
    }

    /// A program of the test peers' virtual environment (scripts/install-deps --test), else
    /// the name, looked up on the PATH.
    public static func peer(_ name: String) -> String {
        let path = repository.appendingPathComponent(".build/test-peers/bin/" + name).path
        return FileManager.default.isExecutableFile(atPath: path) ? path : name
    }

    /// `executable` is a path, or a name looked up on the PATH.
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                           directory: String? = nil) throws -> Result {
        let process = Process()
        if executable.contains("/") {
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
        } else {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [executable] + arguments
        }
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stderr = Collected()
        let reader = Thread { stderr.data = err.fileHandleForReading.readDataToEndOfFile(); stderr.done.signal() }
        reader.start()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        stderr.done.wait()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                      stderr: String(decoding: stderr.data, as: UTF8.self))
    }

    final class Collected: @unchecked Sendable {
        var data = Data()
        let done = DispatchSemaphore(value: 0)
    }
}
