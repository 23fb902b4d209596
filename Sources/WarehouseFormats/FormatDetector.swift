import Foundation
import WarehouseCore

/// Says what a file is by its bytes first and its name second, and extracts what its
/// headers tell. Reads headers only; never fails: unreadable bytes become warnings.
public enum FormatDetector {
    public static func analyze(path: String, name: String) -> FileAnalysis {
        inspect(path: path, name: name).analysis
    }

    /// The analysis and how many bytes of the file it read (headers only, whatever the size).
    public static func inspect(path: String, name: String) -> (analysis: FileAnalysis, bytesRead: UInt64) {
        guard let source = try? FileByteSource(path: path) else {
            var analysis = FileAnalysis(format: "unknown", framework: FileKinds.framework(forPath: name))
            analysis.warnings.append("\(name): could not be opened for format detection")
            return (analysis, 0)
        }
        let analysis = analyze(source: source, path: path, name: name)
        return (analysis, source.bytesRead)
    }

    static func analyze(source: FileByteSource, path: String, name: String) -> FileAnalysis {
        let fileExtension = FilePaths.fileExtension(name)
        let base = FilePaths.baseName(name).lowercased()
        let byName = FileKinds.framework(forPath: name)
        func guarded(_ format: String, _ framework: Framework?, _ body: () throws -> FileAnalysis) -> FileAnalysis {
            do {
                return try body()
            } catch {
                var analysis = FileAnalysis(format: format, framework: framework)
                analysis.warnings.append("\(name): \(format) headers could not be read (\(error))")
                return analysis
            }
        }
        let head = (try? source.read(at: 0, count: 64)) ?? []

        if Safetensors.sniff(head, fileSize: source.size) {
            return guarded("safetensors", .huggingface) { try Safetensors.analyze(source) }
        }
        if GGUF.sniff(head) { return guarded("gguf", .other) { try GGUF.analyze(source) } }
        // Two bytes (0x80, protocol) are a weak signature: an unreadable "pickle" is called one
        // only when its name says so too; otherwise detection goes on.
        let pickleNames: Set<String> = ["pkl", "pickle", "joblib", "pt", "pth", "bin", "sav", "p"]
        if Pickle.sniff(head) {
            let scanned = Result { try Pickle.analyze(source) }
            if case .success(var analysis) = scanned {
                if analysis.framework == nil { analysis.framework = byName }
                return analysis
            }
            if pickleNames.contains(fileExtension) { return guarded("pickle", byName) { try scanned.get() } }
        }
        if head.starts(with: [0x50, 0x4b, 0x03, 0x04]) || head.starts(with: [0x50, 0x4b, 0x05, 0x06]) {
            return guarded("zip", byName) { try ZipModels.analyze(path: path) }
        }
        if (try? HDF5.sniff(source)) == true { return guarded("hdf5", .keras) { try HDF5.analyze(source) } }
        if head.count >= 8, head[4..<8] == [0x54, 0x46, 0x4c, 0x33] { return FileAnalysis(format: "tflite", framework: .tensorflow) }
        if fileExtension == "onnx" || ONNX.sniff(head) {
            if let analysis = try? ONNX.analyze(source) { return analysis }
            if fileExtension == "onnx" {
                return guarded("onnx", .onnx) { try ONNX.analyze(source) }
            }
        }
        if base == "saved_model.pb" { return FileAnalysis(format: "tensorflow-savedmodel", framework: .tensorflow) }
        if fileExtension == "mlmodel", head.first == 0x08 { return FileAnalysis(format: "coreml", framework: .other) }
        if base == "model.safetensors.index.json" { return guarded("safetensors-index", .huggingface) { try Safetensors.analyzeIndex(source) } }
        if fileExtension == "json" { return guarded("json", nil) { try TextFormats.analyzeConfigJSON(source) } }
        if base == "requirements.txt" { return guarded("requirements", nil) { try TextFormats.requirements(source) } }
        if base.hasPrefix("readme") || base == "model_card.md" || base == "modelcard.md" {
            return guarded("readme", nil) { try TextFormats.readme(source) }
        }
        if TextFormats.sniffLightGBM(head) { return FileAnalysis(format: "lightgbm", framework: .other) }
        if fileExtension == "ubj", TextFormats.sniffXGBoostUBJSON(head) { return FileAnalysis(format: "xgboost", framework: .other) }
        if ["joblib"].contains(fileExtension), head.first == 0x78 || head.starts(with: [0x5a, 0x46]) {
            var analysis = FileAnalysis(format: "joblib", framework: .sklearn)
            analysis.warnings.append("\(name): compressed joblib file; its contents were not scanned")
            return analysis
        }
        var analysis = FileAnalysis(format: fileExtension.isEmpty ? "unknown" : fileExtension, framework: byName)
        if ["pkl", "pickle", "pt", "pth", "onnx", "safetensors", "h5", "hdf5", "gguf"].contains(fileExtension) {
            analysis.warnings.append("\(name): the name says .\(fileExtension) but the bytes are not that format")
        }
        return analysis
    }
}

/// What a whole version's files say together (DESIGN: framework detected when not given).
public struct VersionAnalysis: Sendable {
    public var framework: Framework
    public var numParameters: Int64?
    public var inputShape: JSONValue?
    public var outputShape: JSONValue?
    public var dependencies: [String] = []
    public var description: String?
    public var details: [String: JSONValue] = [:]
    public var warnings: [String] = []
    /// Formats of the files, distinct and sorted.
    public var formats: [String] = []

    /// Folder rules first (SavedModel → tensorflow; a Hugging Face config.json beside weights or
    /// tokenizer files → huggingface), then the primary file's format, then any file's, then names.
    public init(files: [(path: String, analysis: FileAnalysis)], primary: String?) {
        let names = Set(files.map { FilePaths.baseName($0.path) })
        let byPath = Dictionary(files.map { ($0.path, $0.analysis) }, uniquingKeysWith: { first, _ in first })
        let weightsFormats: Set<String> = ["safetensors", "pytorch", "pickle", "pytorch-legacy"]
        if names.contains("saved_model.pb") || names.contains("saved_model.pbtxt") {
            framework = .tensorflow
        } else if files.contains(where: { FilePaths.baseName($0.path) == "config.json" && $0.analysis.format == "hf-config" }),
                  // Only a config that names a model type or architecture: `config.json` is a
                  // common name, and `{}` beside `model.pth` is a PyTorch folder.
                  files.contains(where: { weightsFormats.contains($0.analysis.format) || FilePaths.fileExtension($0.path) == "bin" })
                    || names.contains("tokenizer.json") || names.contains("model.safetensors.index.json") {
            framework = .huggingface
        } else if let primary, let detected = byPath[primary]?.framework, detected != .other {
            framework = detected
        } else if let detected = files.lazy.compactMap({ $0.analysis.framework }).first(where: { $0 != .other }) {
            framework = detected
        } else {
            framework = FileKinds.framework(forFolder: files.map(\.path), primary: primary)
        }
        formats = Array(Set(files.map(\.analysis.format))).sorted()

        // Parameters: all safetensors shards together, else the primary file's count.
        let shards = files.filter { $0.analysis.format == "safetensors" }
        if !shards.isEmpty {
            numParameters = shards.compactMap(\.analysis.numParameters).reduce(0, +)
            var byDType: [String: Int64] = [:]
            for shard in shards {
                if case .object(let counts)? = shard.analysis.details["parameters_by_dtype"] {
                    for (dtype, count) in counts { if case .int(let value) = count { byDType[dtype, default: 0] += value } }
                }
            }
            details["parameters_by_dtype"] = .object(byDType.mapValues(JSONValue.int))
            details["dtypes"] = .array(byDType.keys.sorted().map(JSONValue.string))
            details["tensor_count"] = .int(shards.reduce(Int64(0)) { total, shard in
                if case .int(let count)? = shard.analysis.details["tensor_count"] { return total + count }
                return total
            })
        } else {
            let main = primary.flatMap { byPath[$0] } ?? files.first { $0.analysis.numParameters != nil }?.analysis
            numParameters = main?.numParameters
        }
        let shaped = primary.flatMap { byPath[$0] }.flatMap { $0.inputShape == nil ? nil : $0 }
            ?? files.first { $0.analysis.inputShape != nil }?.analysis
        inputShape = shaped?.inputShape
        outputShape = shaped?.outputShape

        // Details: the primary file's first, then the others' (first one wins per key).
        let ordered = files.sorted { ($0.path == primary ? 0 : 1, $0.path) < ($1.path == primary ? 0 : 1, $1.path) }
        for (_, analysis) in ordered {
            for (key, value) in analysis.details where details[key] == nil && key != "summary" && key != "dependencies" {
                details[key] = value
            }
            warnings += analysis.warnings
        }
        if let requirements = files.first(where: { FilePaths.baseName($0.path).lowercased() == "requirements.txt" }),
           case .array(let lines)? = requirements.analysis.details["dependencies"] {
            dependencies = lines.compactMap(\.stringValue)
        }
        if let readme = ordered.first(where: { $0.analysis.format == "readme" }), case .string(let summary)? = readme.analysis.details["summary"] {
            description = summary
        }
        // Pickles anywhere make the version unsafe to load.
        if files.contains(where: { $0.analysis.details["pickle_safety"] == .string("unsafe") }) {
            details["pickle_safety"] = .string("unsafe")
        }
    }
}
