import Foundation
import WarehouseAPI
import WarehouseServer
import WarehouseCore

/// `warehouse serve`: runs the HTTP service until SIGINT or SIGTERM.
struct ServeCommand: WarehouseCommand {
    static let name = "serve"
    static let abstract = "Start the HTTP service."
    static let usage = """
        warehouse serve [--host 127.0.0.1] [--port 8000] [--data-dir storage] [--config FILE]

        Settings come from config/warehouse.json (or --config FILE), then WAREHOUSE_* environment
        variables, then these options.
        """

    let settings: SettingOptions

    init(arguments: [String]) throws {
        let options = try OptionParser(arguments, options: ["host", "port", "data-dir", "config"])
        guard options.positional.isEmpty else {
            throw UsageError(description: "unexpected argument '\(options.positional[0])'")
        }
        settings = SettingOptions(options)
    }

    func configuration() throws -> WarehouseConfiguration {
        try settings.configuration()
    }

    func run() throws -> Int32 {
        let configuration = try configuration()
        // Block the stop signals before any thread starts, so every thread inherits the mask
        // and only sigwait below receives them.
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGINT)
        sigaddset(&signals, SIGTERM)
        pthread_sigmask(SIG_BLOCK, &signals, nil)
        signal(SIGPIPE, SIG_IGN)

        let application = try WarehouseApplication(configuration: configuration)
        try application.start()
        var received: Int32 = 0
        sigwait(&signals, &received)
        let logger = Logger(label: "warehouse")
        logger.info("signal \(received) received; stopping (a second SIGTERM or SIGINT stops at once)")
        let stopping = Thread {
            application.shutdown()
            exit(0)
        }
        stopping.name = "shutdown"
        stopping.start()
        // A second signal while the graceful stop runs: out now. What was in flight is
        // rolled back by startup recovery.
        sigwait(&signals, &received)
        logger.warning("signal \(received) received again; exiting without waiting")
        _exit(128 + received)
    }
}

/// `--config FILE` and setting options shared by every command that opens a warehouse.
struct SettingOptions {
    var configFile: String?
    var overrides: [(String, String)] = []

    init(_ options: OptionParser) {
        configFile = options.values["config"]
        for name in ["host", "port", "data-dir"] {
            if let value = options.values[name] { overrides.append((name.replacingOccurrences(of: "-", with: "_"), value)) }
        }
    }

    func configuration() throws -> WarehouseConfiguration {
        var configuration = try WarehouseConfiguration.load(file: configFile, environment: ProcessInfo.processInfo.environment)
        for (name, value) in overrides {
            try configuration.set(name, value, source: "option --\(name.replacingOccurrences(of: "_", with: "-"))")
        }
        return configuration
    }
}
