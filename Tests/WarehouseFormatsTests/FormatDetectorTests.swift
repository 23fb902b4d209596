import Foundation
import Testing
import WarehouseCore
@testable import WarehouseFormats
import WarehouseZip

@Suite struct FormatDetectorTests {
    let directory = SampleFiles.directory()

    func analyze(_ bytes: [UInt8], _ name: String) -> FileAnalysis {
        FormatDetector.analyze(path: SampleFiles.write(bytes, directory, name), name: name)
    }

    /// A ZIP written with our own writer (stored entries).
    func zip(_ entries: [(String, [UInt8])], _ name: String) throws -> String {
        let writer = try ZipStreamWriter(compression: .store)
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        func drain() { while writer.pendingCount > 0 { let n = buffer.withUnsafeMutableBytes { writer.take(into: $0) }; output += buffer[0..<n] } }
        for (path, bytes) in entries {
            try writer.beginEntry(path: path, size: UInt64(bytes.count))
            try bytes.withUnsafeBytes { try writer.write($0) }
            try writer.finishEntry()
            drain()
        }
        try writer.finish()
        drain()
        return SampleFiles.write(output, directory, name)
    }

    @Test func safetensorsHeaderGivesParametersAndDTypes() {
        let analysis = analyze(SampleFiles.safetensors(), "model.safetensors")
        #expect(analysis.format == "safetensors")
        #expect(analysis.framework == .huggingface)
        #expect(analysis.numParameters == 20)
        #expect(analysis.details["tensor_count"] == .int(3))
        #expect(analysis.details["parameters_by_dtype"] == .object(["F32": .int(16), "F16": .int(4)]))
        #expect(analysis.details["dtypes"] == .array([.string("F16"), .string("F32")]))
        #expect(analysis.warnings.isEmpty)
        // The name does not matter: bytes first.
        #expect(analyze(SampleFiles.safetensors(), "weights.bin").format == "safetensors")
    }

    @Test func ggufMetadataAndParameters() {
        let analysis = analyze(SampleFiles.gguf(), "tiny.gguf")
        #expect(analysis.format == "gguf")
        #expect(analysis.details["architecture"] == .string("llama"))
        #expect(analysis.details["model_name"] == .string("Tiny Llama"))
        #expect(analysis.details["file_type"] == .string("Q4_K_M"))
        #expect(analysis.details["context_length"] == .int(4096))
        #expect(analysis.numParameters == 144)
    }

    @Test func onnxGraphShapesOperatorsAndParameters() throws {
        let path = try SampleFiles.onnxFile(directory)
        let analysis = FormatDetector.analyze(path: path, name: "model.onnx")
        #expect(analysis.format == "onnx", "\(analysis.warnings)")
        #expect(analysis.framework == .onnx)
        #expect(analysis.details["opset"] == .int(17))
        #expect(analysis.details["producer"] == .string("pytorch"))
        #expect(analysis.inputShape == .array([.string("batch"), .int(3)]))
        #expect(analysis.outputShape == .array([.string("batch"), .int(4)]))
        #expect(analysis.details["operator_counts"] == .object(["Gemm": .int(1), "Relu": .int(1)]))
        #expect(analysis.numParameters == 16)
    }

    @Test func picklesAreScannedNotRun() {
        let model = analyze(SampleFiles.sklearnPickle(), "model.pkl")
        #expect(model.format == "pickle")
        #expect(model.framework == .sklearn)
        #expect(model.details["top_level_class"] == .string("sklearn.ensemble._forest.RandomForestClassifier"))
        #expect(model.details["pickle_safety"] == .string("safe"))

        let hostile = analyze(SampleFiles.maliciousPickle(), "model.pkl")
        #expect(hostile.details["pickle_imports"] == .array([.string("os.system")]))
        #expect(hostile.details["pickle_safety"] == .string("unsafe"))
        #expect(hostile.warnings.contains { $0.contains("os.system") })
    }

    @Test func zippedPyTorchAndKeras() throws {
        let dataPickle: [UInt8] = [0x80, 0x02] + Array("ctorch._utils\n_rebuild_tensor_v2\n".utf8) + [0x71, 0x00, 0x29, 0x52, 0x2e]
        let torch = try zip([("archive/data.pkl", dataPickle), ("archive/version", Array("3\n".utf8)),
                             ("archive/data/0", [UInt8](repeating: 1, count: 64))], "model.pt")
        let torchAnalysis = FormatDetector.analyze(path: torch, name: "model.pt")
        #expect(torchAnalysis.format == "pytorch")
        #expect(torchAnalysis.framework == .pytorch)
        #expect(torchAnalysis.details["pickle_imports"] == .array([.string("torch._utils._rebuild_tensor_v2")]))
        #expect(torchAnalysis.details["pickle_safety"] == .string("safe"))

        let keras = try zip([("metadata.json", Array(#"{"keras_version": "3.3.3"}"#.utf8)),
                             ("config.json", Array(#"{"class_name": "Sequential", "config": {"layers": [{}, {}]}}"#.utf8)),
                             ("model.weights.h5", SampleFiles.kerasH5())], "model.keras")
        let kerasAnalysis = FormatDetector.analyze(path: keras, name: "model.keras")
        #expect(kerasAnalysis.format == "keras")
        #expect(kerasAnalysis.details["keras_version"] == .string("3.3.3"))
        #expect(kerasAnalysis.details["layer_count"] == .int(2))
    }

    @Test func hdf5TFLiteAndTextFormats() {
        let h5 = analyze(SampleFiles.kerasH5(), "model.h5")
        #expect(h5.format == "keras-h5")
        #expect(h5.details["keras_version"] == .string("2.13.1"))
        #expect(h5.details["layer_count"] == .int(3))
        #expect(analyze(SampleFiles.tflite(), "model.tflite").format == "tflite")
        #expect(analyze(Array("tree\nversion=v4\nnum_class=1\n".utf8), "model.txt").format == "lightgbm")

        let config = analyze(Array(#"{"architectures": ["BertForMaskedLM"], "model_type": "bert", "hidden_size": 768, "num_hidden_layers": 12}"#.utf8), "config.json")
        #expect(config.format == "hf-config")
        #expect(config.details["architectures"] == .array([.string("BertForMaskedLM")]))
        #expect(config.details["num_hidden_layers"] == .int(12))
        let xgboost = analyze(Array(#"{"learner": {}, "version": [2, 0, 3]}"#.utf8), "model.json")
        #expect(xgboost.format == "xgboost")
        let requirements = analyze(Array("torch>=2.0  # the runtime\n\n-e .\ntransformers==4.40\n".utf8), "requirements.txt")
        #expect(requirements.details["dependencies"] == .array([.string("torch>=2.0"), .string("transformers==4.40")]))
        let readme = analyze(Array("---\nlicense: mit\n---\n# Tiny BERT\n\nA small BERT for tests.\nIt is tiny.\n\nMore.".utf8), "README.md")
        #expect(readme.details["summary"] == .string("A small BERT for tests. It is tiny."))
    }

    @Test func namesThatLieAreReported() {
        let fake = analyze(Array("not a pickle at all".utf8), "model.pkl")
        #expect(fake.framework == .sklearn) // the seed's extension rule still applies
        #expect(!fake.warnings.isEmpty)
    }

    @Test func foldersFollowTheirRules() {
        let hf = VersionAnalysis(files: [
            ("config.json", FileAnalysis(format: "hf-config", framework: .huggingface)),
            ("model-1.safetensors", { var a = FileAnalysis(format: "safetensors", framework: .huggingface); a.numParameters = 10; a.details["parameters_by_dtype"] = .object(["F32": .int(10)]); return a }()),
            ("model-2.safetensors", { var a = FileAnalysis(format: "safetensors", framework: .huggingface); a.numParameters = 5; a.details["parameters_by_dtype"] = .object(["F16": .int(5)]); return a }()),
            ("requirements.txt", { var a = FileAnalysis(format: "requirements"); a.details["dependencies"] = .array([.string("torch")]); return a }()),
        ], primary: "model-1.safetensors")
        #expect(hf.framework == .huggingface)
        #expect(hf.numParameters == 15)
        #expect(hf.details["parameters_by_dtype"] == .object(["F32": .int(10), "F16": .int(5)]))
        #expect(hf.dependencies == ["torch"])
        let savedModel = VersionAnalysis(files: [("saved_model.pb", FileAnalysis(format: "tensorflow-savedmodel")),
                                                 ("variables/variables.index", FileAnalysis(format: "index"))], primary: nil)
        #expect(savedModel.framework == .tensorflow)
    }

    /// `config.json` is a common name: without `model_type` or `architectures` it does not make
    /// a folder a Hugging Face model (a PyTorch checkpoint beside `{}` stays PyTorch).
    @Test func aConfigWithoutAModelTypeIsNotHuggingFace() {
        let config = analyze(Array("{}".utf8), "config.json")
        #expect(config.format == "json")
        let folder = VersionAnalysis(files: [
            ("model.pth", FileAnalysis(format: "pytorch", framework: .pytorch)),
            ("config.json", config),
            ("requirements.txt", analyze(Array("torch==2.4\n".utf8), "requirements.txt")),
        ], primary: "model.pth")
        #expect(folder.framework == .pytorch)
        let named = VersionAnalysis(files: [
            ("model.pth", FileAnalysis(format: "pytorch", framework: .pytorch)),
            ("config.json", analyze(Array(#"{"model_type": "bert"}"#.utf8), "config.json")),
        ], primary: "model.pth")
        #expect(named.framework == .huggingface)
    }
}
