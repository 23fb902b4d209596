import WarehouseCore

/// A protobuf field as the streaming reader sees it: scalars are read, length-delimited
/// fields are only located (so weights are skipped, never read).
enum ProtoField {
    case varint(UInt64)
    case fixed64(UInt64)
    case fixed32(UInt32)
    case bytes(start: UInt64, length: UInt64)
}

extension ByteCursor {
    /// Next (field number, value) of the message ending at `end`, or nil at its end.
    func field(end: UInt64) throws -> (number: UInt64, value: ProtoField)? {
        guard position < end else { return nil }
        let key = try varint()
        let number = key >> 3
        guard number > 0 else { throw FormatError("protobuf field number 0 at offset \(position)") }
        switch key & 7 {
        case 0: return (number, .varint(try varint()))
        case 1: return (number, .fixed64(try u64()))
        case 2:
            let length = try varint()
            guard length <= end - min(end, position) else { throw FormatError("protobuf length \(length) runs past its message") }
            let start = position
            try skip(length)
            return (number, .bytes(start: start, length: length))
        case 5: return (number, .fixed32(try u32()))
        default: throw FormatError("protobuf wire type \(key & 7) is not supported")
        }
    }

    func string(_ start: UInt64, _ length: UInt64, limit: UInt64 = 4096) throws -> String {
        let saved = position
        defer { seek(saved) }
        seek(start)
        return String(decoding: try bytes(Int(min(length, limit))), as: UTF8.self)
    }
}

/// ONNX ModelProto, read field by field: opset, producer, graph inputs/outputs with shapes
/// (symbolic dimensions kept by name), operator counts, and parameters counted from the
/// initializers' dimensions (their raw data is skipped).
enum ONNX {
    static let maxNodes = 5_000_000

    /// A ModelProto starts with ir_version (field 1, varint) in every exporter we know.
    static func sniff(_ head: [UInt8]) -> Bool {
        head.count >= 4 && head[0] == 0x08 && (1...20).contains(head[1])
    }

    static func analyze(_ source: any ByteSource) throws -> FileAnalysis {
        var analysis = FileAnalysis(format: "onnx", framework: .onnx)
        let cursor = ByteCursor(source)
        var graph: (UInt64, UInt64)?
        var opsets: [String: JSONValue] = [:]
        var sawIRVersion = false
        while let (number, value) = try cursor.field(end: source.size) {
            switch (number, value) {
            case (1, .varint(let version)):
                sawIRVersion = true
                analysis.details["ir_version"] = .int(Int64(version))
            case (2, .bytes(let start, let length)): analysis.details["producer"] = .string(try cursor.string(start, length))
            case (3, .bytes(let start, let length)): analysis.details["producer_version"] = .string(try cursor.string(start, length))
            case (7, .bytes(let start, let length)): graph = (start, length)
            case (8, .bytes(let start, let length)):
                var domain = ""
                var version: Int64 = 0
                let end = start + length
                let saved = cursor.position
                cursor.seek(start)
                while let (field, item) = try cursor.field(end: end) {
                    if field == 1, case .bytes(let s, let l) = item { domain = try cursor.string(s, l) }
                    if field == 2, case .varint(let v) = item { version = Int64(v) }
                }
                cursor.seek(saved)
                opsets[domain.isEmpty ? "ai.onnx" : domain] = .int(version)
            default: break
            }
        }
        guard sawIRVersion, let (graphStart, graphLength) = graph else {
            throw FormatError("not an ONNX model (no ir_version or graph)")
        }
        if let main = opsets["ai.onnx"] { analysis.details["opset"] = main }
        analysis.details["opset_imports"] = .object(opsets)
        try readGraph(cursor, start: graphStart, end: graphStart + graphLength, into: &analysis)
        return analysis
    }

    static func readGraph(_ cursor: ByteCursor, start: UInt64, end: UInt64, into analysis: inout FileAnalysis) throws {
        cursor.seek(start)
        var operators: [String: Int64] = [:]
        var nodes = 0
        var parameters: Int64 = 0
        var initializerNames = Set<String>()
        var inputs: [(String, JSONValue, String?)] = []
        var outputs: [(String, JSONValue, String?)] = []
        while let (number, value) = try cursor.field(end: end) {
            guard case .bytes(let fieldStart, let length) = value else { continue }
            let saved = cursor.position
            defer { cursor.seek(saved) }
            cursor.seek(fieldStart)
            let fieldEnd = fieldStart + length
            switch number {
            case 1: // NodeProto: op_type is field 4
                nodes += 1
                guard nodes <= maxNodes else { throw FormatError("ONNX graph has more than \(maxNodes) nodes") }
                while let (field, item) = try cursor.field(end: fieldEnd) {
                    if field == 4, case .bytes(let s, let l) = item { operators[try cursor.string(s, l, limit: 128), default: 0] += 1 }
                }
            case 5: // TensorProto initializer: dims (1), name (8)
                var count: Int64 = 1
                while let (field, item) = try cursor.field(end: fieldEnd) {
                    switch (field, item) {
                    case (1, .varint(let dimension)):
                        let (product, overflow) = count.multipliedReportingOverflow(by: Int64(min(dimension, UInt64(Int64.max))))
                        count = overflow ? Int64.max : product
                    case (1, .bytes(let s, let l)): // packed dims
                        let inner = cursor.position
                        cursor.seek(s)
                        while cursor.position < s + l {
                            let dimension = try cursor.varint()
                            let (product, overflow) = count.multipliedReportingOverflow(by: Int64(min(dimension, UInt64(Int64.max))))
                            count = overflow ? Int64.max : product
                        }
                        cursor.seek(inner)
                    case (8, .bytes(let s, let l)): initializerNames.insert(try cursor.string(s, l))
                    default: break
                    }
                }
                parameters = parameters.addingReportingOverflow(count).overflow ? Int64.max : parameters + count
            case 11, 12: // ValueInfoProto
                let info = try valueInfo(cursor, end: fieldEnd)
                if number == 11 { inputs.append(info) } else { outputs.append(info) }
            default: break
            }
        }
        let realInputs = inputs.filter { !initializerNames.contains($0.0) }
        analysis.numParameters = parameters
        analysis.inputShape = realInputs.first?.1
        analysis.outputShape = outputs.first?.1
        func described(_ info: (String, JSONValue, String?)) -> JSONValue {
            var object: [String: JSONValue] = ["name": .string(info.0), "shape": info.1]
            if let type = info.2 { object["dtype"] = .string(type) }
            return .object(object)
        }
        analysis.details["inputs"] = .array(realInputs.map(described))
        analysis.details["outputs"] = .array(outputs.map(described))
        analysis.details["operator_counts"] = .object(operators.mapValues(JSONValue.int))
        analysis.details["node_count"] = .int(Int64(nodes))
    }

    /// name (1) and type (2) → tensor_type (1) → shape (2) → dim (1) → dim_value (1) | dim_param (2).
    /// Name, shape and element type (nil when not a known tensor type).
    static func valueInfo(_ cursor: ByteCursor, end: UInt64) throws -> (String, JSONValue, String?) {
        var name = ""
        var shape: [JSONValue] = []
        var hasShape = false
        var elementType: Int?
        while let (field, item) = try cursor.field(end: end) {
            guard case .bytes(let start, let length) = item else { continue }
            if field == 1 { name = try cursor.string(start, length) }
            guard field == 2 else { continue }
            let saved = cursor.position
            cursor.seek(start)
            while let (typeField, typeItem) = try cursor.field(end: start + length) {
                guard typeField == 1, case .bytes(let tStart, let tLength) = typeItem else { continue }
                let inner = cursor.position
                cursor.seek(tStart)
                while let (tensorField, tensorItem) = try cursor.field(end: tStart + tLength) {
                    if tensorField == 1, case .varint(let type) = tensorItem { elementType = Int(truncatingIfNeeded: type) }
                    guard tensorField == 2, case .bytes(let sStart, let sLength) = tensorItem else { continue }
                    hasShape = true
                    let shapeSaved = cursor.position
                    cursor.seek(sStart)
                    while let (dimField, dimItem) = try cursor.field(end: sStart + sLength) {
                        guard dimField == 1, case .bytes(let dStart, let dLength) = dimItem else { continue }
                        let dimSaved = cursor.position
                        cursor.seek(dStart)
                        var dimension: JSONValue = .int(-1)
                        while let (valueField, value) = try cursor.field(end: dStart + dLength) {
                            if valueField == 1, case .varint(let size) = value { dimension = .int(Int64(bitPattern: size)) }
                            if valueField == 2, case .bytes(let ps, let pl) = value { dimension = .string(try cursor.string(ps, pl, limit: 128)) }
                        }
                        shape.append(dimension)
                        cursor.seek(dimSaved)
                    }
                    cursor.seek(shapeSaved)
                }
                cursor.seek(inner)
            }
            cursor.seek(saved)
        }
        return (name, hasShape ? .array(shape) : .null, elementType.flatMap { elementTypeNames[$0] })
    }

    /// TensorProto.DataType numbers, by the numpy dtype names MLflow's signatures use.
    static let elementTypeNames: [Int: String] = [
        1: "float32", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32", 7: "int64", 8: "str", 9: "bool",
        10: "float16", 11: "float64", 12: "uint32", 13: "uint64",
    ]
}
