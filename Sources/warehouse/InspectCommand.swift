import Foundation
import WarehouseCore
import WarehouseFormats

/// `warehouse inspect FILE…`: what format detection says about local files, as JSON, and how
/// many bytes it read to say it.
struct InspectCommand: WarehouseCommand {
    static let name = "inspect"
    static let abstract = "Detect the format of model files and print what their headers say."
    static let usage = "warehouse inspect FILE [FILE…]"

    let paths: [String]

    init(arguments: [String]) throws {
        let options = try OptionParser(arguments, options: [])
        guard !options.positional.isEmpty else { throw UsageError(description: "name at least one file") }
        paths = options.positional
    }

    func run() throws -> Int32 {
        var results: [JSONValue] = []
        for path in paths {
            guard FileManager.default.isReadableFile(atPath: path) else { throw WarehouseError.notFound("cannot read \(path)") }
            let started = Date()
            let (analysis, bytesRead) = FormatDetector.inspect(path: path, name: (path as NSString).lastPathComponent)
            let size = ((try? FileManager.default.attributesOfItem(atPath: path)[.size]) as? NSNumber)?.int64Value ?? 0
            var entry: [String: JSONValue] = [
                "path": .string(path), "size": .int(size), "format": .string(analysis.format),
                "bytes_read": .int(Int64(bytesRead)), "seconds": .double(Date().timeIntervalSince(started)),
                "details": .object(analysis.details), "warnings": .array(analysis.warnings.map(JSONValue.string)),
            ]
            if let framework = analysis.framework { entry["framework"] = .string(framework.rawValue) }
            if let parameters = analysis.numParameters { entry["num_parameters"] = .int(parameters) }
            if let shape = analysis.inputShape { entry["input_shape"] = shape }
            if let shape = analysis.outputShape { entry["output_shape"] = shape }
            results.append(.object(entry))
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        FileHandle.standardOutput.write(try encoder.encode(results.count == 1 ? results[0] : .array(results)))
        FileHandle.standardOutput.write(Data("\n".utf8))
        return 0
    }
}
