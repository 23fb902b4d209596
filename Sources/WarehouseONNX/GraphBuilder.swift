/// Collects nodes and constants for one graph, naming every value uniquely: names the graph
/// already uses (its inputs and outputs, which are column names) are never handed out.
struct GraphBuilder {
    static let mlDomain = "ai.onnx.ml"

    private(set) var nodes: [ONNXNode] = []
    private(set) var initializers: [ONNXTensor] = []
    private var taken: Set<String>
    private var counter = 0

    init(reserved: Set<String>) {
        taken = reserved
    }

    mutating func fresh(_ hint: String) -> String {
        var name: String
        repeat {
            counter += 1
            name = "\(hint)_\(counter)"
        } while taken.contains(name)
        taken.insert(name)
        return name
    }

    /// A constant tensor (an initializer); one-dimensional unless `dims` says otherwise.
    mutating func constant(_ hint: String, _ values: ONNXTensor.Values, dims: [Int64]? = nil) -> String {
        let name = fresh(hint)
        var tensor = ONNXTensor(name: name, values)
        if let dims { tensor.dims = dims }
        initializers.append(tensor)
        return name
    }

    mutating func doubles(_ hint: String, _ values: [Double]) -> String {
        constant(hint, .doubles(values))
    }

    mutating func int64s(_ hint: String, _ values: [Int64]) -> String {
        constant(hint, .int64s(values))
    }

    /// Adds a node with one output and returns the output's name.
    @discardableResult
    mutating func node(_ opType: String, _ inputs: [String], domain: String = "", output: String? = nil,
                       _ attributes: [ONNXAttribute] = []) -> String {
        let result = output ?? fresh(opType.lowercased())
        nodes.append(ONNXNode(opType: opType, domain: domain, name: fresh(opType), inputs: inputs, outputs: [result],
                              attributes: attributes))
        return result
    }

    mutating func cast(_ input: String, to type: ONNXDataType, output: String? = nil) -> String {
        node("Cast", [input], output: output, [ONNXAttribute("to", .int(type.rawValue))])
    }

    mutating func concat(_ inputs: [String], axis: Int64) -> String {
        inputs.count == 1 ? inputs[0] : node("Concat", inputs, [ONNXAttribute("axis", .int(axis))])
    }

    /// Columns of a [N, F] tensor.
    mutating func columns(_ input: String, _ indices: [Int]) -> String {
        node("Gather", [input, int64s("columns", indices.map(Int64.init))], [ONNXAttribute("axis", .int(1))])
    }
}
