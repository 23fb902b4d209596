import Foundation
import WarehouseCore

/// safetensors: an 8-byte little-endian header length, a JSON header of
/// `{name: {dtype, shape, data_offsets}}` (plus `__metadata__`), then the raw tensors.
/// Only the header is read.
enum Safetensors {
    static let maxHeaderBytes: UInt64 = 100 << 20

    /// Whether the first bytes look like a safetensors header.
    static func sniff(_ head: [UInt8], fileSize: UInt64) -> Bool {
        guard head.count >= 10 else { return false }
        let length = (0..<8).reduce(UInt64(0)) { $0 | UInt64(head[$1]) << (8 * UInt64($1)) }
        return length >= 2 && length <= maxHeaderBytes && 8 + length <= fileSize && head[8] == UInt8(ascii: "{")
    }

    static func analyze(_ source: any ByteSource) throws -> FileAnalysis {
        var analysis = FileAnalysis(format: "safetensors", framework: .huggingface)
        let cursor = ByteCursor(source)
        let length = try cursor.u64()
        guard length <= maxHeaderBytes else {
            analysis.warnings.append("safetensors header of \(length) bytes is over the \(maxHeaderBytes)-byte limit; not read")
            return analysis
        }
        let header = try cursor.bytes(Int(length))
        guard let json = try? JSONSerialization.jsonObject(with: Data(header)) as? [String: Any] else {
            analysis.warnings.append("safetensors header is not a JSON object")
            return analysis
        }
        var parameters: Int64 = 0
        var byDType: [String: Int64] = [:]
        var tensors = 0
        var dataEnd: UInt64 = 0
        for (name, value) in json where name != "__metadata__" {
            guard let tensor = value as? [String: Any], let dtype = tensor["dtype"] as? String,
                  let shape = tensor["shape"] as? [Any] else { continue }
            tensors += 1
            var count: Int64 = 1
            for dimension in shape {
                let size = (dimension as? NSNumber)?.int64Value ?? 0
                let (product, overflow) = count.multipliedReportingOverflow(by: max(size, 0))
                count = overflow ? Int64.max : product
            }
            parameters = parameters.addingReportingOverflow(count).overflow ? Int64.max : parameters + count
            byDType[dtype, default: 0] += count
            if let offsets = tensor["data_offsets"] as? [NSNumber], offsets.count == 2 {
                dataEnd = max(dataEnd, offsets[1].uint64Value)
            }
        }
        if 8 + length + dataEnd > source.size {
            analysis.warnings.append("safetensors header describes \(dataEnd) bytes of tensors but the file is shorter")
        }
        analysis.numParameters = parameters
        analysis.details["tensor_count"] = .int(Int64(tensors))
        analysis.details["parameters_by_dtype"] = .object(byDType.mapValues { .int($0) })
        analysis.details["dtypes"] = .array(byDType.keys.sorted().map(JSONValue.string))
        if let metadata = json["__metadata__"] as? [String: String], let format = metadata["format"] {
            analysis.details["safetensors_format"] = .string(format)
        }
        return analysis
    }

    /// `model.safetensors.index.json` of a sharded checkpoint: total size and shard names.
    static func analyzeIndex(_ source: any ByteSource) throws -> FileAnalysis {
        var analysis = FileAnalysis(format: "safetensors-index", framework: .huggingface)
        guard source.size <= 64 << 20,
              let json = try? JSONSerialization.jsonObject(with: Data(source.read(at: 0, count: Int(source.size)))) as? [String: Any] else {
            analysis.warnings.append("safetensors index is not a JSON object")
            return analysis
        }
        if let map = json["weight_map"] as? [String: String] {
            analysis.details["tensor_count"] = .int(Int64(map.count))
            analysis.details["shards"] = .array(Set(map.values).sorted().map(JSONValue.string))
        }
        if let metadata = json["metadata"] as? [String: Any], let total = (metadata["total_size"] as? NSNumber)?.int64Value {
            analysis.details["total_size"] = .int(total)
        }
        return analysis
    }
}
