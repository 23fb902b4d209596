import Foundation
import WarehouseCore
import WarehouseZip

/// Zipped model formats: PyTorch's `torch.save` archives (`*/data.pkl` + `*/version`) and
/// Keras v3 `.keras` files (`config.json` + `model.weights.h5`). Only the small members are read.
enum ZipModels {
    static let maxMemberBytes: UInt64 = 64 << 20

    static func analyze(path: String) throws -> FileAnalysis {
        let entries = try ZipCentralDirectory.read(path: path, maxEntries: 100_000)
        let names = entries.map(\.name)
        if let dataPickle = names.first(where: { $0 == "data.pkl" || $0.hasSuffix("/data.pkl") }),
           names.contains(where: { $0 == "version" || $0.hasSuffix("/version") || $0.hasSuffix("/.format_version") }) {
            var analysis = FileAnalysis(format: "pytorch", framework: .pytorch)
            if let bytes = try member(dataPickle, of: path) {
                let scanned = try Pickle.scanTensors(ByteCursor(MemoryByteSource(bytes)))
                Pickle.describe(scanned.imports, into: &analysis)
                scanned.tensors.describe(into: &analysis)
                analysis.framework = .pytorch
            }
            analysis.details["tensor_storages"] = .int(Int64(names.filter { $0.contains("/data/") }.count))
            return analysis
        }
        if names.contains("config.json"), names.contains(where: { $0.hasSuffix(".weights.h5") }) || names.contains("metadata.json") {
            var analysis = FileAnalysis(format: "keras", framework: .keras)
            if let bytes = try member("metadata.json", of: path),
               let metadata = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any],
               let version = metadata["keras_version"] as? String {
                analysis.details["keras_version"] = .string(version)
            }
            if let bytes = try member("config.json", of: path),
               let config = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] {
                KerasConfig.describe(config, into: &analysis)
            }
            return analysis
        }
        return FileAnalysis(format: "zip")
    }

    private struct Found: Error { let bytes: [UInt8] }

    /// One member's bytes (nil when it is too large or absent), found without reading the others.
    static func member(_ name: String, of path: String) throws -> [UInt8]? {
        let extractor = try ZipExtractor(path: path, limits: ZipLimits())
        guard let entry = extractor.files.first(where: { $0.path == name }), entry.size <= maxMemberBytes else { return nil }
        do {
            try extractor.extract { file, stream in
                guard file.path == name else { return }
                var bytes: [UInt8] = []
                var buffer = [UInt8](repeating: 0, count: 1 << 16)
                while true {
                    let count = try buffer.withUnsafeMutableBytes { try stream.read(into: $0) }
                    if count == 0 { break }
                    bytes += buffer[0..<count]
                }
                throw Found(bytes: bytes)
            }
        } catch let found as Found {
            return found.bytes
        }
        return nil
    }
}

/// Keras model configs (`{"class_name": …, "config": {"layers": […]}}`).
enum KerasConfig {
    static func describe(_ config: [String: Any], into analysis: inout FileAnalysis) {
        if let className = config["class_name"] as? String { analysis.details["keras_class"] = .string(className) }
        if let inner = config["config"] as? [String: Any], let layers = inner["layers"] as? [Any] {
            analysis.details["layer_count"] = .int(Int64(layers.count))
        }
    }
}

/// HDF5 files; Keras ones carry `keras_version` and a `model_config` JSON attribute near the
/// start, which are found by scanning the first 4 MiB (HDF5 itself is not parsed).
enum HDF5 {
    static let signature: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]

    static func sniff(_ source: any ByteSource) throws -> Bool {
        for offset: UInt64 in [0, 512, 1024, 2048] where try source.read(at: offset, count: 8) == signature { return true }
        return false
    }

    static func analyze(_ source: any ByteSource) throws -> FileAnalysis {
        let head = try source.read(at: 0, count: 4 << 20)
        guard let versionAt = find(Array("keras_version".utf8), in: head) else {
            return FileAnalysis(format: "hdf5")
        }
        var analysis = FileAnalysis(format: "keras-h5", framework: .keras)
        let after = head[versionAt..<min(head.count, versionAt + 256)]
        let text = String(decoding: after.map { (32..<127).contains($0) ? $0 : 32 }, as: UTF8.self)
        if let match = text.firstMatch(of: /[0-9]+\.[0-9]+\.[0-9]+/) {
            analysis.details["keras_version"] = .string(String(match.output))
        }
        if let configAt = find(Array("{\"class_name\"".utf8), in: head), let json = balancedJSON(head, from: configAt),
           let config = try? JSONSerialization.jsonObject(with: Data(json)) as? [String: Any] {
            KerasConfig.describe(config, into: &analysis)
        }
        return analysis
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard needle.count <= haystack.count else { return nil }
        var index = 0
        while index <= haystack.count - needle.count {
            if haystack[index] == needle[0], Array(haystack[index..<(index + needle.count)]) == needle { return index }
            index += 1
        }
        return nil
    }

    /// The JSON object starting at `start`, by matching braces outside strings.
    static func balancedJSON(_ bytes: [UInt8], from start: Int) -> [UInt8]? {
        var depth = 0
        var inString = false
        var escaped = false
        for index in start..<bytes.count {
            let byte = bytes[index]
            if inString {
                if escaped { escaped = false } else if byte == 92 { escaped = true } else if byte == 34 { inString = false }
                continue
            }
            if byte == 34 { inString = true }
            if byte == 123 { depth += 1 }
            if byte == 125 {
                depth -= 1
                if depth == 0 { return Array(bytes[start...index]) }
            }
        }
        return nil
    }
}

/// Text and JSON files that describe a folder: Hugging Face configs, requirements, READMEs,
/// XGBoost and LightGBM models.
enum TextFormats {
    static func analyzeConfigJSON(_ source: any ByteSource) throws -> FileAnalysis {
        guard source.size <= 16 << 20,
              let config = try? JSONSerialization.jsonObject(with: Data(source.read(at: 0, count: Int(source.size)))) as? [String: Any] else {
            return FileAnalysis(format: "json")
        }
        if config["learner"] != nil { return xgboost(config) }
        guard config["architectures"] != nil || config["model_type"] != nil else {
            var analysis = FileAnalysis(format: "json")
            if config["class_name"] != nil { KerasConfig.describe(config, into: &analysis) }
            return analysis
        }
        var analysis = FileAnalysis(format: "hf-config", framework: .huggingface)
        if let architectures = config["architectures"] as? [String] {
            analysis.details["architectures"] = .array(architectures.map(JSONValue.string))
        }
        if let type = config["model_type"] as? String { analysis.details["hf_model_type"] = .string(type) }
        for (key, names) in [("hidden_size", ["hidden_size", "d_model", "n_embd"]),
                             ("num_hidden_layers", ["num_hidden_layers", "n_layer", "num_layers"]),
                             ("vocab_size", ["vocab_size"])] {
            if let value = names.lazy.compactMap({ (config[$0] as? NSNumber)?.int64Value }).first {
                analysis.details[key] = .int(value)
            }
        }
        return analysis
    }

    static func xgboost(_ config: [String: Any]) -> FileAnalysis {
        var analysis = FileAnalysis(format: "xgboost", framework: .other)
        if let version = config["version"] as? [NSNumber] {
            analysis.details["xgboost_version"] = .string(version.map(\.stringValue).joined(separator: "."))
        }
        return analysis
    }

    /// requirements.txt lines, without comments, options and blanks.
    static func requirements(_ source: any ByteSource) throws -> FileAnalysis {
        var analysis = FileAnalysis(format: "requirements")
        let text = String(decoding: try source.read(at: 0, count: 1 << 20), as: UTF8.self)
        let lines = text.split(whereSeparator: \.isNewline)
            .map { $0.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0].trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("-") }
        analysis.details["dependencies"] = .array(lines.prefix(500).map(JSONValue.string))
        return analysis
    }

    /// A README or model card: its first prose paragraph (after YAML front matter and headings).
    static func readme(_ source: any ByteSource) throws -> FileAnalysis {
        var analysis = FileAnalysis(format: "readme")
        var text = String(decoding: try source.read(at: 0, count: 256 << 10), as: UTF8.self)
        if text.hasPrefix("---"), let end = text.range(of: "\n---", range: text.index(text.startIndex, offsetBy: 3)..<text.endIndex) {
            text = String(text[end.upperBound...])
        }
        let paragraphs = text.components(separatedBy: "\n\n").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        if let paragraph = paragraphs.first(where: { !$0.isEmpty && !$0.hasPrefix("#") && !$0.hasPrefix("<") && !$0.hasPrefix("!") && !$0.hasPrefix("```") }) {
            let flat = paragraph.split(whereSeparator: \.isNewline).joined(separator: " ")
            analysis.details["summary"] = .string(String(flat.prefix(1000)))
        }
        return analysis
    }

    static func sniffLightGBM(_ head: [UInt8]) -> Bool {
        String(decoding: head.prefix(64), as: UTF8.self).hasPrefix("tree\nversion=v")
    }

    /// UBJSON XGBoost models: an object whose first keys include "learner".
    static func sniffXGBoostUBJSON(_ head: [UInt8]) -> Bool {
        head.first == UInt8(ascii: "{") && head.count > 2 && head[1] != UInt8(ascii: "\"") && head[1] != 10
            && HDF5.find(Array("learner".utf8), in: Array(head.prefix(4096))) != nil
    }
}
