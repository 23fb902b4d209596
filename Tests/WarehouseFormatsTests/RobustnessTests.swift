import Foundation
import Testing
import WarehouseCore
@testable import WarehouseFormats

/// Parsers meet truncated, mutated and random bytes, and 10 GiB files.
@Suite struct RobustnessTests {
    let directory = SampleFiles.directory()

    /// Every sample, under every name, cut at many points and with random bytes flipped:
    /// detection must return (warnings allowed), never crash, hang or allocate wildly.
    @Test func truncatedAndMutatedSamplesNeverCrash() throws {
        let onnx = SampleFiles.onnx()
        let samples: [(String, [UInt8])] = [
            ("model.safetensors", SampleFiles.safetensors()), ("tiny.gguf", SampleFiles.gguf()),
            ("model.pkl", SampleFiles.sklearnPickle()), ("evil.pkl", SampleFiles.maliciousPickle()),
            ("model.onnx", onnx.prefix + [UInt8](repeating: 0, count: Int(onnx.rawDataLength)) + onnx.suffix),
            ("model.h5", SampleFiles.kerasH5()), ("model.tflite", SampleFiles.tflite()),
        ]
        var generator = SeededGenerator(seed: 42)
        var runs = 0
        for (name, bytes) in samples {
            var variants: [[UInt8]] = (0..<bytes.count).filter { $0 % max(1, bytes.count / 40) == 0 }.map { Array(bytes.prefix($0)) }
            for _ in 0..<40 {
                var mutated = bytes
                for _ in 0..<Int.random(in: 1...8, using: &generator) {
                    mutated[Int.random(in: 0..<mutated.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
                }
                variants.append(mutated)
            }
            for (index, variant) in variants.enumerated() {
                for alias in [name, "weights.bin"] {
                    let path = SampleFiles.write(variant, directory, "v\(index)-\(alias)")
                    let (analysis, read) = FormatDetector.inspect(path: path, name: alias)
                    #expect(!analysis.format.isEmpty)
                    #expect(read <= UInt64(variant.count) * 4 + 65_536, "\(alias) variant \(index) read \(read) bytes")
                    runs += 1
                }
            }
        }
        #expect(runs > 500)
    }

    @Test func randomBytesUnderEveryName() {
        var generator = SeededGenerator(seed: 7)
        for name in ["a.safetensors", "a.gguf", "a.pkl", "a.onnx", "a.h5", "a.keras", "a.pt", "config.json", "a.joblib",
                     "requirements.txt", "README.md", "saved_model.pb", "a.mlmodel", "a.ubj"] {
            for size in [0, 1, 7, 8, 9, 64, 1000, 70_000] {
                let bytes = (0..<size).map { _ in UInt8.random(in: 0...255, using: &generator) }
                _ = FormatDetector.analyze(path: SampleFiles.write(bytes, directory, "r\(size)-\(name)"), name: name)
            }
        }
        // Lying lengths: a safetensors header claiming 99 MiB in a tiny file, a GGUF with
        // 2^60 keys, a pickle BINBYTES of 2^40 bytes.
        let lying = SampleFiles.le64(99 << 20) + Array("{\"a\":1}".utf8)
        #expect(!FormatDetector.analyze(path: SampleFiles.write(lying, directory, "lie.safetensors"), name: "lie.safetensors").format.isEmpty)
        let gguf = Array("GGUF".utf8) + SampleFiles.le32(3) + SampleFiles.le64(1) + SampleFiles.le64(1 << 60)
        #expect(!FormatDetector.analyze(path: SampleFiles.write(gguf, directory, "lie.gguf"), name: "lie.gguf").warnings.isEmpty)
        let pickle: [UInt8] = [0x80, 0x04, 0x8e] + SampleFiles.le64(1 << 40) + [0x2e]
        #expect(!FormatDetector.analyze(path: SampleFiles.write(pickle, directory, "lie.pkl"), name: "lie.pkl").warnings.isEmpty)
    }

    /// 10 GiB files (sparse): detection reads their headers and nothing else.
    @Test func tenGigabyteFilesCostOnlyTheirHeaders() throws {
        let tenGiB: UInt64 = 10 << 30
        // safetensors: the header, then 10 GiB of (sparse) tensor data.
        let header = #"{"w":{"dtype":"BF16","shape":[5368709120],"data_offsets":[0,10737418240]}}"#
        let safetensors = SampleFiles.write(SampleFiles.le64(UInt64(header.utf8.count)) + Array(header.utf8), directory, "big.safetensors")
        try extend(safetensors, to: tenGiB)
        let (st, stRead) = FormatDetector.inspect(path: safetensors, name: "big.safetensors")
        #expect(st.numParameters == 5_368_709_120)
        #expect(stRead < 100_000, "read \(stRead) bytes")

        // ONNX: a 10 GiB initializer inside the graph, the graph's inputs after it.
        let onnx = try SampleFiles.onnxFile(directory, name: "big.onnx", rawDataLength: tenGiB)
        let (model, onnxRead) = FormatDetector.inspect(path: onnx, name: "big.onnx")
        #expect(model.outputShape == .array([.string("batch"), .int(4)]), "\(model.warnings)")
        #expect(model.numParameters == 16)
        #expect(onnxRead < 300_000, "read \(onnxRead) bytes")

        // A pickle holding 10 GiB of bytes (BINBYTES8) before its STOP.
        let pickle = SampleFiles.write([0x80, 0x04] + Array("cnumpy\nndarray\n".utf8) + [0x8e] + SampleFiles.le64(tenGiB), directory, "big.pkl")
        try extend(pickle, to: 2 + 15 + 9 + tenGiB)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: pickle))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data([0x2e]))
        try handle.close()
        let (scanned, pickleRead) = FormatDetector.inspect(path: pickle, name: "big.pkl")
        #expect(scanned.details["pickle_imports"] == .array([.string("numpy.ndarray")]))
        #expect(pickleRead < 300_000, "read \(pickleRead) bytes")
        try? FileManager.default.removeItem(atPath: directory)
    }

    func extend(_ path: String, to size: UInt64) throws {
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.truncate(atOffset: size)
        try handle.close()
    }
}

/// A small deterministic generator (SplitMix64), so failures reproduce.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
