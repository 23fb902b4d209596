import Foundation
import WarehouseCore
import WarehouseService

/// An `MLmodel` for a version that has none, so `mlflow.pyfunc.load_model("models:/…")` loads
/// it: listed and served with the version's files, never stored. ONNX files at the version's
/// root get the `onnx` flavor (the warehouse's trained models with a tensor signature that
/// names each column input and shapes it `(-1, 1)`, as their graphs take them); a pickled
/// scikit-learn model the `sklearn` flavor. Other versions have none and download as files.
enum MLflowModelFile {
    /// The files to add to a version's root listing (name → bytes); empty when the version
    /// has its own `MLmodel` or no flavor fits.
    static func synthesized(_ record: ModelVersionRecord, onnxInputs: (ModelFile) -> [JSONValue]?) -> [String: [UInt8]] {
        let rootFiles = record.files.filter { !$0.filePath.contains("/") }
        guard !rootFiles.contains(where: { $0.filePath == "MLmodel" }) else { return [:] }
        var files: [String: String] = [:]
        let primary = rootFiles.first { $0.filePath == record.primaryFilePath }
        if let onnx = [rootFiles.first { $0.filePath == "model.onnx" }, primary].compactMap({ $0 }).first(where: { $0.format == "onnx" || $0.fileType == "onnx" }) {
            files["MLmodel"] = onnxModel(onnx, inputs: onnxInputs(onnx), record: record)
            files["requirements.txt"] = "mlflow\nonnx\nonnxruntime\nnumpy\npandas\n"
        } else if let pickled = [primary].compactMap({ $0 }).first(where: { isSklearnPickle($0, record: record) }) {
            files["MLmodel"] = sklearnModel(pickled, record: record)
            files["requirements.txt"] = "mlflow\nscikit-learn\nnumpy\npandas\n"
        } else {
            return [:]
        }
        files["python_env.yaml"] = "python: \"3.11\"\nbuild_dependencies:\n- pip\ndependencies:\n- -r requirements.txt\n"
        // A version's own environment files win.
        for name in ["requirements.txt", "python_env.yaml"] where rootFiles.contains(where: { $0.filePath == name }) {
            files[name] = nil
        }
        return files.mapValues { Array($0.utf8) }
    }

    /// A plain pickle of a scikit-learn model (joblib's files cannot be read by the flavor).
    static func isSklearnPickle(_ file: ModelFile, record: ModelVersionRecord) -> Bool {
        let isPickle = file.format == "pickle" || ["pkl", "pickle"].contains(file.fileType)
        return isPickle && record.framework == .sklearn && !["joblib"].contains(file.fileType)
    }

    static func onnxModel(_ file: ModelFile, inputs: [JSONValue]?, record: ModelVersionRecord) -> String {
        var text = flavors(loader: "mlflow.onnx", dataKey: "data", path: file.filePath, flavor: "onnx", [
            "data: \(quoted(file.filePath))", "providers:", "- CPUExecutionProvider", "code: null",
        ])
        if let signature = tensorSignature(inputs) { text += signature }
        return text + footer(record)
    }

    /// `flavors:` with `python_function` (the loader module, where it finds the file, the
    /// environment) and the flavor's own block.
    static func flavors(loader: String, dataKey: String, path: String, flavor: String, _ lines: [String]) -> String {
        "flavors:\n  python_function:\n    loader_module: \(loader)\n    \(dataKey): \(quoted(path))\n"
            + "    env:\n      virtualenv: python_env.yaml\n  \(flavor):\n" + lines.map { "    \($0)\n" }.joined() + "\n"
    }

    /// `signature:` with one tensor per graph input, `(-1, 1)` where the graph takes a column:
    /// pyfunc then hands each DataFrame column to its input in the shape the graph wants.
    static func tensorSignature(_ inputs: [JSONValue]?) -> String? {
        guard let inputs, !inputs.isEmpty else { return nil }
        var specs: [String] = []
        for input in inputs {
            guard case .object(let info) = input, let name = info["name"]?.stringValue, let type = info["dtype"]?.stringValue,
                  case .array(let dimensions)? = info["shape"] else { return nil }
            let shape = dimensions.map { dimension -> String in
                if case .int(let size) = dimension, size > 0 { return String(size) }
                return "-1"
            }
            specs.append("{\"type\": \"tensor\", \"tensor-spec\": {\"dtype\": \"\(type)\", \"shape\": [\(shape.joined(separator: ", "))]}, \"name\": \(jsonString(name))}")
        }
        return "signature:\n  inputs: \(quoted("[" + specs.joined(separator: ", ") + "]"))\n  outputs: null\n  params: null\n"
    }

    static func sklearnModel(_ file: ModelFile, record: ModelVersionRecord) -> String {
        flavors(loader: "mlflow.sklearn", dataKey: "model_path", path: file.filePath, flavor: "sklearn", [
            "pickled_model: \(quoted(file.filePath))", "serialization_format: pickle", "code: null",
        ]) + footer(record)
    }

    /// Where it came from; no `model_id` (the client would look that up as a logged model).
    static func footer(_ record: ModelVersionRecord) -> String {
        "utc_time_created: \(quoted(record.createdAt))\n"
            + "metadata:\n  warehouse_model: \(quoted("\(record.userID)/\(record.modelID)"))\n  warehouse_version: \(quoted(record.version))\n"
    }

    /// A YAML scalar in single quotes (any text is safe so).
    static func quoted(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "''") + "'"
    }

    static func jsonString(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
