import WarehouseCore

/// GGUF (llama.cpp): `GGUF` magic, version, tensor count, key/value count, the key/values,
/// then tensor infos. Reads the metadata and tensor infos only, never the tensor data.
enum GGUF {
    static let maxCount: UInt64 = 1_000_000
    static let maxString: UInt64 = 1 << 20

    static func sniff(_ head: [UInt8]) -> Bool {
        head.count >= 4 && head[0..<4] == [0x47, 0x47, 0x55, 0x46]
    }

    /// llama.cpp's `general.file_type` values.
    static let fileTypes = [0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K",
                            11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S",
                            17: "Q5_K_M", 18: "Q6_K", 19: "IQ2_XXS", 20: "IQ2_XS", 24: "IQ1_S", 25: "IQ4_NL",
                            26: "IQ3_S", 28: "IQ4_XS", 32: "BF16"]

    static func analyze(_ source: any ByteSource) throws -> FileAnalysis {
        var analysis = FileAnalysis(format: "gguf", framework: .other)
        let cursor = ByteCursor(source, at: 4)
        let version = try cursor.u32()
        guard (2...3).contains(version) else {
            analysis.warnings.append("GGUF version \(version) is not supported (2 and 3 are)")
            return analysis
        }
        let tensorCount = try cursor.u64()
        let keyCount = try cursor.u64()
        guard tensorCount <= maxCount, keyCount <= maxCount else {
            analysis.warnings.append("GGUF header declares \(tensorCount) tensors and \(keyCount) keys; not read")
            return analysis
        }
        analysis.details["gguf_version"] = .int(Int64(version))
        var values: [String: JSONValue] = [:]
        for _ in 0..<keyCount {
            let key = try string(cursor)
            let type = try cursor.u32()
            if let value = try value(cursor, type: type, depth: 0) { values[key] = value }
        }
        let architecture = values["general.architecture"]?.stringValue
        if let architecture { analysis.details["architecture"] = .string(architecture) }
        if let name = values["general.name"]?.stringValue { analysis.details["model_name"] = .string(name) }
        if case .int(let type)? = values["general.file_type"] {
            analysis.details["file_type"] = .string(fileTypes[Int(type)] ?? "type \(type)")
        }
        if let architecture, let context = values["\(architecture).context_length"] {
            analysis.details["context_length"] = context
        }
        var parameters: Int64 = 0
        for _ in 0..<tensorCount {
            _ = try string(cursor)
            let dimensions = try cursor.u32()
            guard dimensions <= 8 else { throw FormatError("GGUF tensor with \(dimensions) dimensions") }
            var count: Int64 = 1
            for _ in 0..<dimensions {
                let size = try cursor.u64()
                let (product, overflow) = count.multipliedReportingOverflow(by: Int64(min(size, UInt64(Int64.max))))
                count = overflow ? Int64.max : product
            }
            _ = try cursor.u32() // type
            _ = try cursor.u64() // offset
            parameters = parameters.addingReportingOverflow(count).overflow ? Int64.max : parameters + count
        }
        analysis.numParameters = parameters
        analysis.details["tensor_count"] = .int(Int64(tensorCount))
        return analysis
    }

    static func string(_ cursor: ByteCursor) throws -> String {
        let length = try cursor.u64()
        guard length <= maxString else { throw FormatError("GGUF string of \(length) bytes") }
        return String(decoding: try cursor.bytes(Int(length)), as: UTF8.self)
    }

    /// A metadata value; arrays are skipped (returned as nil) since tokenizer vocabularies
    /// are large and say nothing we index.
    static func value(_ cursor: ByteCursor, type: UInt32, depth: Int) throws -> JSONValue? {
        switch type {
        case 0: return .int(Int64(try cursor.u8()))
        case 1: return .int(Int64(Int8(bitPattern: try cursor.u8())))
        case 2: let b = try cursor.bytes(2); return .int(Int64(UInt16(b[0]) | UInt16(b[1]) << 8))
        case 3: let b = try cursor.bytes(2); return .int(Int64(Int16(bitPattern: UInt16(b[0]) | UInt16(b[1]) << 8)))
        case 4: return .int(Int64(try cursor.u32()))
        case 5: return .int(Int64(Int32(bitPattern: try cursor.u32())))
        case 6: return .double(Double(try cursor.f32()))
        case 7: return .bool(try cursor.u8() != 0)
        case 8: return .string(try string(cursor))
        case 9:
            let elementType = try cursor.u32()
            let count = try cursor.u64()
            guard count <= 10_000_000, depth < 4 else { throw FormatError("GGUF array of \(count) elements") }
            let fixed: [UInt32: UInt64] = [0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8]
            if let width = fixed[elementType] {
                try cursor.skip(width * count)
            } else {
                for _ in 0..<count { _ = try value(cursor, type: elementType, depth: depth + 1) }
            }
            return nil
        case 10: return .int(Int64(bitPattern: try cursor.u64()))
        case 11: return .int(Int64(bitPattern: try cursor.u64()))
        case 12: return .double(try cursor.f64())
        default: throw FormatError("GGUF value of unknown type \(type)")
        }
    }
}
