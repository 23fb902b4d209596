/// The part of ONNX's ModelProto that an exported pipeline uses, as plain values that encode
/// themselves (field numbers from onnx.proto).
public struct ONNXModel: Sendable {
    public var irVersion: Int64
    public var opsets: [(domain: String, version: Int64)]
    public var producerName: String
    public var producerVersion: String
    public var docString: String
    public var graph: ONNXGraph
    public var metadata: [(key: String, value: String)]

    public func encoded() -> [UInt8] {
        var writer = ProtobufWriter()
        writer.int(1, irVersion)
        writer.string(2, producerName)
        writer.string(3, producerVersion)
        writer.string(6, docString)
        writer.message(7) { graph.encode(into: &$0) }
        for opset in opsets {
            writer.message(8) {
                $0.string(1, opset.domain)
                $0.int(2, opset.version)
            }
        }
        for entry in metadata {
            writer.message(14) {
                $0.string(1, entry.key)
                $0.string(2, entry.value)
            }
        }
        return writer.bytes
    }
}

public enum ONNXDataType: Int64, Sendable {
    case float = 1, uint8 = 2, int64 = 7, string = 8, bool = 9, double = 11
}

public struct ONNXTensor: Sendable {
    public enum Values: Sendable {
        case doubles([Double]), floats([Float]), int64s([Int64]), strings([String]), uint8s([UInt8])
    }
    public var name: String
    public var dims: [Int64]
    public var values: Values

    public var dataType: ONNXDataType {
        switch values {
        case .doubles: return .double
        case .floats: return .float
        case .int64s: return .int64
        case .strings: return .string
        case .uint8s: return .uint8
        }
    }

    /// A one-dimensional tensor.
    public init(name: String = "", _ values: Values) {
        self.name = name
        self.values = values
        switch values {
        case .doubles(let v): dims = [Int64(v.count)]
        case .floats(let v): dims = [Int64(v.count)]
        case .int64s(let v): dims = [Int64(v.count)]
        case .strings(let v): dims = [Int64(v.count)]
        case .uint8s(let v): dims = [Int64(v.count)]
        }
    }

    public init(name: String, dims: [Int64], _ values: Values) {
        self.name = name
        self.dims = dims
        self.values = values
    }

    /// Numbers go in `raw_data` (little-endian), strings in `string_data`.
    func encode(into writer: inout ProtobufWriter) {
        writer.packedInts(1, dims)
        writer.int(2, dataType.rawValue)
        if !name.isEmpty { writer.string(8, name) }
        switch values {
        case .strings(let strings):
            for string in strings { writer.string(6, string) }
        case .doubles(let values):
            var raw = ProtobufWriter()
            for value in values { raw.append(littleEndian: value.bitPattern) }
            writer.bytes(9, raw.bytes)
        case .floats(let values):
            var raw = ProtobufWriter()
            for value in values { raw.append(littleEndian: value.bitPattern) }
            writer.bytes(9, raw.bytes)
        case .int64s(let values):
            var raw = ProtobufWriter()
            for value in values { raw.append(littleEndian: UInt64(bitPattern: value)) }
            writer.bytes(9, raw.bytes)
        case .uint8s(let values):
            writer.bytes(9, values)
        }
    }
}

public struct ONNXAttribute: Sendable {
    public enum Value: Sendable {
        case int(Int64), float(Float), string(String), ints([Int64]), floats([Float]), strings([String]), tensor(ONNXTensor)
    }
    public var name: String
    public var value: Value

    public init(_ name: String, _ value: Value) {
        self.name = name
        self.value = value
    }

    /// AttributeProto: name (1), type (20), then the one value field the type names.
    func encode(into writer: inout ProtobufWriter) {
        writer.string(1, name)
        switch value {
        case .float(let value):
            writer.float(2, value)
            writer.int(20, 1)
        case .int(let value):
            writer.int(3, value)
            writer.int(20, 2)
        case .string(let value):
            writer.string(4, value)
            writer.int(20, 3)
        case .tensor(let tensor):
            writer.message(5) { tensor.encode(into: &$0) }
            writer.int(20, 4)
        case .floats(let values):
            writer.packedFloats(7, values)
            writer.int(20, 6)
        case .ints(let values):
            writer.packedInts(8, values)
            writer.int(20, 7)
        case .strings(let values):
            for value in values { writer.string(9, value) }
            writer.int(20, 8)
        }
    }
}

public struct ONNXNode: Sendable {
    public var opType: String
    public var domain: String
    public var name: String
    public var inputs: [String]
    public var outputs: [String]
    public var attributes: [ONNXAttribute]

    func encode(into writer: inout ProtobufWriter) {
        for input in inputs { writer.string(1, input) }
        for output in outputs { writer.string(2, output) }
        writer.string(3, name)
        writer.string(4, opType)
        for attribute in attributes { writer.message(5) { attribute.encode(into: &$0) } }
        if !domain.isEmpty { writer.string(7, domain) }
    }
}

/// A graph input or output: a tensor of one element type; nil dimensions are symbolic ("N").
public struct ONNXValueInfo: Sendable {
    public var name: String
    public var elementType: ONNXDataType
    public var shape: [Int64?]
    public var docString: String

    public init(name: String, elementType: ONNXDataType, shape: [Int64?], docString: String = "") {
        self.name = name
        self.elementType = elementType
        self.shape = shape
        self.docString = docString
    }

    /// ValueInfoProto → TypeProto.tensor_type (1) → elem_type (1), shape (2) → dim (1).
    func encode(into writer: inout ProtobufWriter) {
        writer.string(1, name)
        writer.message(2) { type in
            type.message(1) { tensor in
                tensor.int(1, elementType.rawValue)
                tensor.message(2) { shape in
                    for dimension in self.shape {
                        shape.message(1) { dim in
                            if let dimension { dim.int(1, dimension) } else { dim.string(2, "N") }
                        }
                    }
                }
            }
        }
        if !docString.isEmpty { writer.string(3, docString) }
    }
}

public struct ONNXGraph: Sendable {
    public var name: String
    public var nodes: [ONNXNode]
    public var initializers: [ONNXTensor]
    public var inputs: [ONNXValueInfo]
    public var outputs: [ONNXValueInfo]
    public var docString: String

    func encode(into writer: inout ProtobufWriter) {
        for node in nodes { writer.message(1) { node.encode(into: &$0) } }
        writer.string(2, name)
        for tensor in initializers { writer.message(5) { tensor.encode(into: &$0) } }
        if !docString.isEmpty { writer.string(10, docString) }
        for input in inputs { writer.message(11) { input.encode(into: &$0) } }
        for output in outputs { writer.message(12) { output.encode(into: &$0) } }
    }
}
