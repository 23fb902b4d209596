import Foundation

/// A command shaped like swift-argument-parser's: parse, `validate()`, `run()`.
protocol WarehouseCommand {
    static var name: String { get }
    static var abstract: String { get }
    static var usage: String { get }
    init(arguments: [String]) throws
    func validate() throws
    func run() throws -> Int32
}

extension WarehouseCommand {
    func validate() throws {}
}

/// A usage error: printed with the command's usage, exit code 64 (EX_USAGE).
struct UsageError: Error, CustomStringConvertible {
    let description: String
}

/// Splits `--name value` and `--name=value` options; rejects unknown ones.
struct OptionParser {
    private(set) var values: [String: String] = [:]
    private(set) var flags: Set<String> = []
    private(set) var positional: [String] = []
    /// Every value of a repeatable option, in order (`--tag a --tag b`).
    private(set) var lists: [String: [String]] = [:]

    init(_ arguments: [String], options: Set<String>, flags knownFlags: Set<String> = [], repeatable: Set<String> = []) throws {
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            if argument.hasPrefix("--") {
                var name = String(argument.dropFirst(2))
                var value: String?
                if let equals = name.firstIndex(of: "=") {
                    value = String(name[name.index(after: equals)...])
                    name = String(name[..<equals])
                }
                if knownFlags.contains(name), value == nil {
                    flags.insert(name)
                } else if options.contains(name) {
                    if value == nil {
                        index += 1
                        guard index < arguments.count else { throw UsageError(description: "option --\(name) needs a value") }
                        value = arguments[index]
                    }
                    values[name] = value
                    if repeatable.contains(name), let value { lists[name, default: []].append(value) }
                } else {
                    throw UsageError(description: "unknown option --\(name)")
                }
            } else {
                positional.append(argument)
            }
            index += 1
        }
    }
}
