import Foundation

/// Entry point: dispatches to a subcommand; prints usage for none or `--help`.
let commands: [any WarehouseCommand.Type] = [
    ServeCommand.self, PushCommand.self, PullCommand.self, ListCommand.self, SearchCommand.self, TrainCommand.self, PredictCommand.self,
    InspectCommand.self, ReindexCommand.self, GarbageCollectCommand.self, FsckCommand.self, TokenCommand.self, BenchBoostingCommand.self,
]

@MainActor func printUsage(to handle: FileHandle) {
    var text = "usage: warehouse <command> [options]\n\ncommands:\n"
    for command in commands {
        text += "  \(command.name.padding(toLength: 10, withPad: " ", startingAt: 0)) \(command.abstract)\n"
    }
    text += "\nRun 'warehouse <command> --help' for a command's options.\n"
    handle.write(Data(text.utf8))
}

let arguments = Array(CommandLine.arguments.dropFirst())
guard let name = arguments.first, name != "--help", name != "-h", name != "help" else {
    printUsage(to: arguments.isEmpty ? .standardError : .standardOutput)
    exit(arguments.isEmpty ? 64 : 0)
}
guard let command = commands.first(where: { $0.name == name }) else {
    FileHandle.standardError.write(Data("error: unknown command '\(name)'\n".utf8))
    printUsage(to: .standardError)
    exit(64)
}
let rest = Array(arguments.dropFirst())
if rest.contains("--help") || rest.contains("-h") {
    print("usage: \(command.usage)")
    exit(0)
}
do {
    let instance = try command.init(arguments: rest)
    try instance.validate()
    exit(try instance.run())
} catch let error as UsageError {
    FileHandle.standardError.write(Data("error: \(error)\nusage: \(command.usage)\n".utf8))
    exit(64)
} catch {
    FileHandle.standardError.write(Data("error: \(error)\n".utf8))
    exit(1)
}
