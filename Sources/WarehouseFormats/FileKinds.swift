import WarehouseCore

/// What a file name says about a file: its framework (the seed's extension table) and the
/// content type to serve it with. Content sniffing comes on top of this.
public enum FileKinds {
    /// The seed's mapping: .pkl/.joblib → sklearn, .onnx → onnx, .h5/.hdf5 → keras,
    /// .pb → tensorflow, .pth/.pt → pytorch, .bin/.safetensors → huggingface.
    public static func framework(forPath path: String) -> Framework? {
        switch FilePaths.fileExtension(path) {
        case "pkl", "pickle", "joblib": return .sklearn
        case "onnx": return .onnx
        case "h5", "hdf5", "keras": return .keras
        case "pb", "tflite": return .tensorflow
        case "pth", "pt": return .pytorch
        case "bin", "safetensors": return .huggingface
        default: return nil
        }
    }

    /// The framework of a whole version: the primary file's, else the first file that says one.
    public static func framework(forPaths paths: [String], primary: String?) -> Framework {
        if let primary, let framework = framework(forPath: primary) { return framework }
        return paths.lazy.compactMap(framework(forPath:)).first ?? .other
    }

    /// Extensions of files that hold weights (candidates for a folder's primary file).
    static let weightsExtensions: Set<String> = [
        "safetensors", "bin", "pt", "pth", "ckpt", "onnx", "h5", "hdf5", "keras", "pb", "tflite", "pkl", "pickle",
        "joblib", "gguf", "ggml", "msgpack", "mlmodel", "npz", "pdparams", "params", "caffemodel", "pte", "model",
    ]

    public static func isWeightsFile(_ path: String) -> Bool {
        weightsExtensions.contains(FilePaths.fileExtension(path))
    }

    /// The framework of a folder: a SavedModel is tensorflow; config.json beside weights or
    /// tokenizer files is a Hugging Face checkout; else what the primary file says.
    public static func framework(forFolder paths: [String], primary: String?) -> Framework {
        let names = Set(paths.map(FilePaths.baseName))
        if names.contains("saved_model.pb") || names.contains("saved_model.pbtxt") { return .tensorflow }
        if names.contains("config.json"),
           paths.contains(where: { ["safetensors", "bin"].contains(FilePaths.fileExtension($0)) })
            || names.contains("tokenizer.json") || names.contains("model.safetensors.index.json") {
            return .huggingface
        }
        return framework(forPaths: paths.sorted(), primary: primary)
    }

    /// A content type for serving the file.
    public static func contentType(forPath path: String) -> String {
        switch FilePaths.fileExtension(path) {
        case "json": return "application/json"
        case "txt", "md", "csv", "yaml", "yml", "cfg", "ini", "toml":
            return FilePaths.fileExtension(path) == "csv" ? "text/csv" : "text/plain; charset=utf-8"
        case "zip", "keras": return "application/zip"
        case "gz", "tgz": return "application/gzip"
        case "tar": return "application/x-tar"
        case "onnx": return "application/x-onnx"
        case "h5", "hdf5": return "application/x-hdf5"
        default: return "application/octet-stream"
        }
    }
}
