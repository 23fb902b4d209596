import Foundation
import WarehouseAPI
import WarehouseServer
import WarehouseCore

/// Opens the configured warehouse without serving it and without startup recovery, so these
/// commands are safe beside a running server.
func openWarehouse(_ settings: SettingOptions) throws -> WarehouseApplication {
    try WarehouseApplication(configuration: settings.configuration(), logger: Logger(label: "warehouse", minimumLevel: .warning),
                             recover: false)
}

func say(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }

/// The options of a maintenance verb that takes no arguments: `--data-dir`, `--config`, and `flags`.
func maintenanceOptions(_ arguments: [String], flags: Set<String> = []) throws -> (SettingOptions, Set<String>) {
    let options = try OptionParser(arguments, options: ["data-dir", "config"], flags: flags)
    guard options.positional.isEmpty else { throw UsageError(description: "unexpected argument '\(options.positional[0])'") }
    return (SettingOptions(options), options.flags)
}

/// `warehouse reindex`: rebuilds the catalog from the manifests in storage.
struct ReindexCommand: WarehouseCommand {
    static let name = "reindex"
    static let abstract = "Rebuild the catalog from the manifests in storage."
    static let usage = "warehouse reindex [--data-dir storage] [--config FILE]"
    let settings: SettingOptions

    init(arguments: [String]) throws {
        settings = try maintenanceOptions(arguments).0
    }

    func run() throws -> Int32 {
        let report = try openWarehouse(settings).service.reindex()
        for version in report.imported { say("imported \(version)") }
        for alias in report.aliases { say("restored alias \(alias)") }
        for problem in report.unreadable { say("unreadable manifest \(problem)") }
        say("reindex: \(report.imported.count) version(s) imported, \(report.aliases.count) alias(es) restored, \(report.unreadable.count) manifest(s) unreadable")
        return report.unreadable.isEmpty ? 0 : 1
    }
}

/// `warehouse gc [--dry-run]`: removes what no committed version references.
struct GarbageCollectCommand: WarehouseCommand {
    static let name = "gc"
    static let abstract = "Remove objects no manifest references and manifests the catalog lacks (--dry-run: report only)."
    static let usage = "warehouse gc [--dry-run] [--data-dir storage] [--config FILE]"
    let settings: SettingOptions
    let dryRun: Bool

    init(arguments: [String]) throws {
        let (settings, flags) = try maintenanceOptions(arguments, flags: ["dry-run"])
        self.settings = settings
        dryRun = flags.contains("dry-run")
    }

    func run() throws -> Int32 {
        let report = try openWarehouse(settings).uploadSessions.collectGarbage(dryRun: dryRun)
        let verb = dryRun ? "would remove" : "removed"
        for key in report.orphanManifests { say("\(verb) manifest \(key) (no catalog version)") }
        for key in report.orphanObjects { say("\(verb) object \(key) (no manifest references it)") }
        for line in report.expiredSessions { say(dryRun ? "would expire upload session \(line)" : line) }
        for line in report.abandonedUploads { say(dryRun ? "would remove \(line)" : line) }
        say("gc: \(verb) \(report.orphanManifests.count) manifest(s), \(report.orphanObjects.count) object(s), "
            + "\(report.expiredSessions.count) expired upload session(s) and \(report.abandonedUploads.count) abandoned parted upload(s)")
        return 0
    }
}

/// `warehouse fsck`: checks every stored file against the catalog's size and SHA-256.
struct FsckCommand: WarehouseCommand {
    static let name = "fsck"
    static let abstract = "Check that every stored file's size and SHA-256 match the catalog."
    static let usage = "warehouse fsck [--data-dir storage] [--config FILE]"
    let settings: SettingOptions

    init(arguments: [String]) throws {
        settings = try maintenanceOptions(arguments).0
    }

    func run() throws -> Int32 {
        let application = try openWarehouse(settings)
        let integrity = try application.service.catalog.integrityCheck()
        if integrity != "ok" { say("catalog integrity_check: \(integrity)") }
        let (mismatches, checked) = try application.service.fsck()
        for mismatch in mismatches { say("mismatch \(mismatch)") }
        say("fsck: \(checked) file(s) checked, \(mismatches.count) mismatch(es), catalog \(integrity == "ok" ? "ok" : "damaged")")
        return mismatches.isEmpty && integrity == "ok" ? 0 : 1
    }
}
