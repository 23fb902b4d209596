import WarehouseCore

/// What one file's bytes say about it.
public struct FileAnalysis: Sendable, Equatable {
    /// Detected format: safetensors, onnx, gguf, pickle, joblib, pytorch, pytorch-legacy, keras,
    /// keras-h5, hdf5, tflite, tensorflow-savedmodel, coreml, xgboost, lightgbm, json, text, unknown.
    public var format: String
    /// The framework the format implies, when it implies one.
    public var framework: Framework?
    public var numParameters: Int64?
    public var inputShape: JSONValue?
    public var outputShape: JSONValue?
    /// Format-specific facts (opset, architecture, imports, dtypes…), for custom_metadata.
    public var details: [String: JSONValue] = [:]
    public var warnings: [String] = []

    public init(format: String, framework: Framework? = nil) {
        self.format = format
        self.framework = framework
    }
}
