import Foundation

/// Real files of each format, built byte by byte here (no fixtures, no packages): each
/// builder follows the format's specification, so a parser that reads them right reads the
/// real thing.
enum SampleFiles {
    static func directory() -> String {
        let path = FileManager.default.temporaryDirectory.path + "/formats-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func write(_ bytes: [UInt8], _ directory: String, _ name: String) -> String {
        let path = directory + "/" + name
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
        return path
    }

    static func le64(_ value: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }
    static func le32(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }

    /// safetensors: two F32 tensors (3x4 and 4) and one F16 tensor (2x2): 20 parameters.
    static func safetensors() -> [UInt8] {
        let header = #"{"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[3,4],"data_offsets":[0,48]},"b":{"dtype":"F32","shape":[4],"data_offsets":[48,64]},"h":{"dtype":"F16","shape":[2,2],"data_offsets":[64,72]}}"#
        return le64(UInt64(header.utf8.count)) + Array(header.utf8) + [UInt8](repeating: 0, count: 72)
    }

    static func ggufString(_ text: String) -> [UInt8] { le64(UInt64(text.utf8.count)) + Array(text.utf8) }

    /// GGUF v3: architecture llama, name, file type 15 (Q4_K_M), context length 4096, a
    /// skipped token array, and two tensors (8x16 and 16): 144 parameters.
    static func gguf() -> [UInt8] {
        var bytes = Array("GGUF".utf8) + le32(3) + le64(2) + le64(5)
        bytes += ggufString("general.architecture") + le32(8) + ggufString("llama")
        bytes += ggufString("general.name") + le32(8) + ggufString("Tiny Llama")
        bytes += ggufString("general.file_type") + le32(4) + le32(15)
        bytes += ggufString("llama.context_length") + le32(4) + le32(4096)
        bytes += ggufString("tokenizer.ggml.tokens") + le32(9) + le32(8) + le64(3) + ggufString("a") + ggufString("b") + ggufString("c")
        bytes += ggufString("blk.0.w") + le32(2) + le64(8) + le64(16) + le32(12) + le64(0)
        bytes += ggufString("blk.0.b") + le32(1) + le64(16) + le32(0) + le64(512)
        return bytes + [UInt8](repeating: 0, count: 64)
    }

    /// Protocol 2 pickle of a scikit-learn estimator: GLOBAL, EMPTY_TUPLE, NEWOBJ, EMPTY_DICT, BUILD, STOP.
    static func sklearnPickle() -> [UInt8] {
        [0x80, 0x02] + Array("csklearn.ensemble._forest\nRandomForestClassifier\n".utf8) + [0x71, 0x00, 0x29, 0x81, 0x71, 0x01]
            + [0x7d, 0x71, 0x02] + Array("X".utf8) + le32(6) + Array("n_tree".utf8) + [0x4b, 0x05, 0x73, 0x62, 0x2e]
    }

    /// Protocol 4 pickle whose REDUCE would call os.system (STACK_GLOBAL with memoized strings).
    static func maliciousPickle() -> [UInt8] {
        var body: [UInt8] = [0x8c, 0x02] + Array("os".utf8) + [0x94, 0x8c, 0x06] + Array("system".utf8) + [0x94, 0x93, 0x94]
        body += [0x8c, 0x04] + Array("echo".utf8) + [0x94, 0x85, 0x94, 0x52, 0x94, 0x2e]
        return [0x80, 0x04, 0x95] + le64(UInt64(body.count)) + body
    }

    // MARK: - Protobuf (ONNX)

    static func varint(_ value: UInt64) -> [UInt8] {
        var value = value
        var out: [UInt8] = []
        repeat {
            var byte = UInt8(value & 0x7f)
            value >>= 7
            if value != 0 { byte |= 0x80 }
            out.append(byte)
        } while value != 0
        return out
    }

    static func field(_ number: UInt64, varint value: UInt64) -> [UInt8] { varint(number << 3) + varint(value) }
    static func field(_ number: UInt64, bytes: [UInt8]) -> [UInt8] { varint(number << 3 | 2) + varint(UInt64(bytes.count)) + bytes }
    static func field(_ number: UInt64, string: String) -> [UInt8] { field(number, bytes: Array(string.utf8)) }

    static func valueInfo(_ name: String, _ dims: [Any]) -> [UInt8] {
        let shape = dims.map { dim -> [UInt8] in
            if let size = dim as? Int { return field(1, bytes: field(1, varint: UInt64(size))) }
            return field(1, bytes: field(2, string: dim as! String))
        }.reduce([], +)
        let tensorType = field(1, varint: 1) + field(2, bytes: shape)
        return field(1, string: name) + field(2, bytes: field(1, bytes: tensorType))
    }

    /// ONNX ModelProto: Gemm + Relu, initializer W [4, 3] (12 parameters) and bias B [4]
    /// (4), input x [batch, 3] (W and B also listed as inputs, as older exporters do), output y [batch, 4].
    static func onnx(rawDataLength: UInt64 = 48) -> (prefix: [UInt8], rawDataLength: UInt64, suffix: [UInt8]) {
        let initializerHead = field(1, varint: 4) + field(1, varint: 3) + field(2, varint: 1) + field(8, string: "W")
        let bias = field(5, bytes: field(1, varint: 4) + field(2, varint: 1) + field(8, string: "B") + field(9, bytes: [UInt8](repeating: 0, count: 16)))
        let nodes = field(1, bytes: field(1, string: "x") + field(1, string: "W") + field(2, string: "h") + field(4, string: "Gemm"))
            + field(1, bytes: field(1, string: "h") + field(2, string: "y") + field(4, string: "Relu"))
        let ios = field(11, bytes: valueInfo("x", ["batch", 3])) + field(11, bytes: valueInfo("W", [4, 3]))
            + field(12, bytes: valueInfo("y", ["batch", 4]))
        // initializer W = head + raw_data (field 9) whose bytes may be huge.
        let rawDataKey = varint(9 << 3 | 2) + varint(rawDataLength)
        let initializerLength = UInt64(initializerHead.count + rawDataKey.count) + rawDataLength
        let initializerKey = varint(5 << 3 | 2) + varint(initializerLength)
        let graphLength = UInt64(nodes.count + initializerKey.count) + initializerLength + UInt64(bias.count + ios.count)
        let model = field(1, varint: 8) + field(2, string: "pytorch") + field(3, string: "2.1")
            + field(8, bytes: field(1, string: "") + field(2, varint: 17))
        let prefix = model + varint(7 << 3 | 2) + varint(graphLength) + nodes + initializerKey + initializerHead + rawDataKey
        return (prefix, rawDataLength, bias + ios)
    }

    static func onnxFile(_ directory: String, name: String = "model.onnx", rawDataLength: UInt64 = 48) throws -> String {
        let parts = onnx(rawDataLength: rawDataLength)
        let path = write(parts.prefix, directory, name)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.truncate(atOffset: UInt64(parts.prefix.count) + parts.rawDataLength)
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(parts.suffix))
        try handle.close()
        return path
    }

    /// Keras HDF5: the signature, then attributes as h5py lays them out near the start.
    static func kerasH5() -> [UInt8] {
        let config = #"{"class_name": "Sequential", "config": {"name": "seq", "layers": [{"class_name": "Dense"}, {"class_name": "Dense"}, {"class_name": "Dropout"}]}}"#
        return [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a] + [UInt8](repeating: 0, count: 200)
            + Array("keras_version".utf8) + [0, 0, 0, 0] + Array("2.13.1".utf8) + [0, 0]
            + Array("model_config".utf8) + [0, 0] + Array(config.utf8) + [UInt8](repeating: 0, count: 100)
    }

    static func tflite() -> [UInt8] { [0x1c, 0, 0, 0] + Array("TFL3".utf8) + [UInt8](repeating: 0, count: 40) }
}
