import Foundation
import Testing
import WarehouseTesting

/// Runs the built `warehouse` binary, as a user would.
@Suite struct ServeCommandTests {
    static var binary: String {
        // The test runner sits in the same build folder as the executable.
        let runner = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var directory = runner.deletingLastPathComponent()
        while directory.path != "/", !FileManager.default.fileExists(atPath: directory.path + "/warehouse") {
            directory = directory.deletingLastPathComponent()
        }
        return directory.path + "/warehouse"
    }

    func run(_ arguments: [String], environment: [String: String] = [:]) throws -> TestProcess.Result {
        try TestProcess.run(Self.binary, arguments, environment: environment)
    }

    @Test func usageErrorsExitWith64() throws {
        let none = try run([])
        #expect(none.status == 64)
        #expect(none.stderr.contains("serve"))
        #expect(try run(["bogus"]).status == 64)
        let badOption = try run(["serve", "--bogus"])
        #expect(badOption.status == 64)
        #expect(badOption.stderr.contains("--bogus"))
        let help = try run(["serve", "--help"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("--data-dir"))
    }

    @Test func badSettingsNameTheSetting() throws {
        let badPort = try run(["serve", "--port", "eighty"])
        #expect(badPort.status == 1)
        #expect(badPort.stderr.contains("port"))
        let badEnvironment = try run(["serve"], environment: ["WAREHOUSE_STORAGE": "floppy"])
        #expect(badEnvironment.status == 1)
        #expect(badEnvironment.stderr.contains("WAREHOUSE_STORAGE"))
    }

    @Test func serveStartsAnswersAndStopsOnSIGTERM() throws {
        let directory = try TemporaryDirectory()
        let server = try ServerProcess(dataDirectory: directory.path + "/data")
        #expect(try TestClient(port: server.port).get("/health").status == 200)
        server.process.terminate()
        server.process.waitUntilExit()
        #expect(server.process.terminationStatus == 0)
        #expect(FileManager.default.fileExists(atPath: directory.path + "/data/catalog.sqlite3"))
    }
}
