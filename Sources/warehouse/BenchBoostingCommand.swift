import Foundation
import WarehouseAutoML

/// `warehouse bench-boosting DATA.csv`: our gradient boosting alone, for `bench/training`.
struct BenchBoostingCommand: WarehouseCommand {
    static let name = "bench-boosting"
    static let abstract = "Fit gradient boosting alone on a CSV (fixed rounds and leaves) and print timings as JSON."
    static let usage = "warehouse bench-boosting DATA.csv [--rounds 100] [--leaves 31] [--learning-rate 0.1]"

    let path: String
    let rounds: Int
    let leaves: Int
    let learningRate: Double

    init(arguments: [String]) throws {
        let options = try OptionParser(arguments, options: ["rounds", "leaves", "learning-rate"])
        guard options.positional.count == 1 else { throw UsageError(description: "name one CSV file") }
        path = options.positional[0]
        guard let rounds = Int(options.values["rounds"] ?? "100"), rounds > 0,
              let leaves = Int(options.values["leaves"] ?? "31"), leaves > 1,
              let rate = Double(options.values["learning-rate"] ?? "0.1"), rate > 0 else {
            throw UsageError(description: "--rounds and --leaves take positive integers (leaves ≥ 2), --learning-rate a positive number")
        }
        self.rounds = rounds
        self.leaves = leaves
        learningRate = rate
    }

    func run() throws -> Int32 {
        let result = try BoostingBenchmark.run(path: path, rounds: rounds, leaves: leaves, learningRate: learningRate)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        FileHandle.standardOutput.write(try encoder.encode(result) + Data("\n".utf8))
        return 0
    }
}
