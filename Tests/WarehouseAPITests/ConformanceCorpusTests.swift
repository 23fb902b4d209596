import Foundation
import Testing
import WarehouseCrypto
import WarehouseTesting

/// The interoperability corpus (Tests/python/make_corpus.py): one model folder archived by
/// every producer users have, written by the tools themselves while the test runs. Each
/// archive round-trips byte-exact with its relative paths (upload, each file's download, the
/// whole version's ZIP read back by Python's zipfile), or is refused with a detail that says
/// why and leaves nothing behind.
@Suite struct ConformanceCorpusTests {
    struct Case: Sendable, CustomStringConvertible {
        let name: String
        let producer: String
        let archive: String
        let files: [String: String]?
        let skipped: [String]
        let refused: String?
        var description: String { name }
    }

    /// Made once per test process, by the test peers' Python (numpy and safetensors there).
    static let corpus: (directory: String, cases: [Case]) = {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("warehouse-corpus-\(getpid())").path
        let made = try? TestProcess.run(TestProcess.peer("python3"), [TestProcess.repositoryPath("Tests/python/make_corpus.py"), directory])
        guard made?.status == 0, let data = FileManager.default.contents(atPath: directory + "/corpus.json"),
              let entries = try? JSONSerialization.jsonObject(with: data) as? [[String: Any]] else {
            return (directory, [Case(name: "make_corpus.py failed", producer: made?.stderr ?? "not run", archive: "",
                                     files: nil, skipped: [], refused: nil)])
        }
        return (directory, entries.map {
            Case(name: $0["name"] as? String ?? "?", producer: $0["producer"] as? String ?? "?", archive: $0["archive"] as? String ?? "",
                 files: $0["files"] as? [String: String], skipped: $0["skipped"] as? [String] ?? [], refused: $0["refused"] as? String)
        })
    }()

    static var cases: [Case] { corpus.cases }

    @Test func everyProducerIsInTheCorpus() {
        let names = Set(Self.cases.map(\.name))
        for expected in ["python-write-deflate", "python-writestr-stored", "python-writestr-deflate", "python-writestr-bzip2",
                         "python-writestr-lzma", "python-zip64", "shutil-make-archive", "infozip", "infozip-symlink", "bsdtar",
                         "7zip", "java-style", "windows-style", "macos-finder"] {
            #expect(names.contains(expected), "\(expected) is missing: \(Self.cases.map(\.producer))")
        }
    }

    @Test(arguments: cases)
    func archiveRoundTripsOrIsRefused(_ corpusCase: Case) throws {
        try #require(FileManager.default.fileExists(atPath: corpusCase.archive), "\(corpusCase.producer)")
        let warehouse = try TestWarehouse()
        let client = warehouse.client
        let response = try client.upload("/ai-models/upload/folder", fields: [("user_id", "u"), ("model_id", corpusCase.name)],
                                         files: [("zip_file", "\(corpusCase.name).zip", .file(corpusCase.archive))])
        if let reason = corpusCase.refused {
            #expect(response.status == 400, "\(corpusCase.producer): \(response.status) \(response.text)")
            #expect(response.detail?.contains(reason) == true, "\(corpusCase.producer): \(response.text)")
            #expect(warehouse.storedObjectKeys().filter { !$0.hasPrefix("datasets/") }.isEmpty, "\(warehouse.storedObjectKeys())")
            #expect(try client.get("/ai-models/u/\(corpusCase.name)").status == 404)
            #expect(warehouse.spoolFiles().isEmpty)
            return
        }
        let expected = try #require(corpusCase.files)
        try #require(response.status == 200, "\(corpusCase.producer): \(response.text)")
        let files = response.object["files"] as? [[String: Any]] ?? []
        let stored = Dictionary(files.map { ($0["file_path"] as? String ?? "?", $0["file_hash"] as? String ?? "?") }, uniquingKeysWith: { $1 })
        #expect(stored == expected, "\(corpusCase.producer)")
        let custom = response.object["custom_metadata"] as? [String: Any] ?? [:]
        #expect((custom["skipped_entries"] as? [String] ?? []).sorted() == corpusCase.skipped, "\(corpusCase.producer)")

        // Every file downloads as the bytes the producer was given.
        for (path, hash) in expected {
            let encoded = path.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(.init(charactersIn: "/.-_")))!
            let download = try client.get("/ai-models/u/\(corpusCase.name)/download?filename=\(encoded)")
            #expect(download.status == 200 && SHA256.hex(of: download.body) == hash, "\(corpusCase.producer): \(path)")
        }
        // The whole version as a ZIP, read by Python's zipfile.
        let zipped = warehouse.directory.path + "/whole.zip"
        let whole = try client.get("/ai-models/u/\(corpusCase.name)/download?compress=deflate")
        #expect(whole.status == 200)
        FileManager.default.createFile(atPath: zipped, contents: Data(whole.body))
        #expect(try Tools.zipContents(zipped) == expected, "\(corpusCase.producer): the version's ZIP")
    }
}

/// Checkpoints as the frameworks write them (Tests/python/make_checkpoints.py, run with the
/// test peers' torch, safetensors, keras, transformers, onnx, gguf and joblib): each upload's
/// record says the format, framework and parameter count the framework itself reported.
@Suite struct CheckpointCorpusTests {
    struct Checkpoint: Sendable, CustomStringConvertible {
        let name: String
        let producer: String
        let path: String
        let folder: Bool
        let format: String
        let framework: String
        let numParameters: Int?
        let custom: [String: String]
        var description: String { name }
    }

    static let checkpoints: [Checkpoint] = {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("warehouse-checkpoints-\(getpid())").path
        let made = try? TestProcess.run(TestProcess.peer("python3"), [TestProcess.repositoryPath("Tests/python/make_checkpoints.py"), directory])
        guard made?.status == 0, let data = FileManager.default.contents(atPath: directory + "/checkpoints.json"),
              let entries = try? JSONSerialization.jsonObject(with: data) as? [[String: Any]] else {
            return [Checkpoint(name: "make_checkpoints.py failed", producer: made?.stderr ?? "not run", path: "", folder: false,
                               format: "", framework: "", numParameters: nil, custom: [:])]
        }
        return entries.map { entry in
            let custom = (entry["custom"] as? [String: Any] ?? [:]).mapValues(Self.text)
            return Checkpoint(name: entry["name"] as? String ?? "?", producer: entry["producer"] as? String ?? "?",
                              path: entry["path"] as? String ?? "", folder: entry["upload"] as? String == "folder",
                              format: entry["format"] as? String ?? "?", framework: entry["framework"] as? String ?? "?",
                              numParameters: entry["num_parameters"] as? Int, custom: custom)
        }
    }()

    /// A JSON value as comparable text: strings as they are, numbers printed, the rest as JSON.
    static func text(_ value: Any) -> String {
        if let string = value as? String { return string }
        if let number = value as? NSNumber { return number.stringValue }
        return String(decoding: (try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys])) ?? Data(), as: UTF8.self)
    }

    @Test func theCorpusHoldsEveryFramework() {
        let names = Set(Self.checkpoints.map(\.name))
        for expected in ["torch-zip-pt", "torch-zip-pth", "torch-zip-ckpt", "torch-zip-bin", "torch-zip-noext", "torch-legacy-pt",
                         "lightning-ckpt", "safetensors-sharded", "save-pretrained", "keras-v3", "onnx-external-data", "gguf",
                         "joblib-zlib"] {
            #expect(names.contains(expected), "\(expected) is missing: \(Self.checkpoints.map(\.producer))")
        }
    }

    @Test(arguments: checkpoints)
    func recordSaysWhatTheFrameworkWrote(_ checkpoint: Checkpoint) throws {
        try #require(FileManager.default.fileExists(atPath: checkpoint.path), "\(checkpoint.producer)")
        let warehouse = try TestWarehouse()
        let filename = URL(fileURLWithPath: checkpoint.path).lastPathComponent
        let response = checkpoint.folder
            ? try warehouse.client.upload("/ai-models/upload/folder", fields: [("user_id", "u"), ("model_id", checkpoint.name)],
                                          files: [("zip_file", filename, .file(checkpoint.path))])
            : try warehouse.uploadSingle([("user_id", "u"), ("model_id", checkpoint.name)],
                                         filename: filename.replacingOccurrences(of: "zip-", with: "").replacingOccurrences(of: "legacy-", with: ""),
                                         content: .file(checkpoint.path))
        try #require(response.status == 200, "\(checkpoint.producer): \(response.text)")
        let record = response.object
        #expect(record["framework"] as? String == checkpoint.framework, "\(checkpoint.producer)")
        let files = record["files"] as? [[String: Any]] ?? []
        let primary = files.first { $0["is_primary"] as? Bool == true }
        #expect(primary?["format"] as? String == checkpoint.format, "\(checkpoint.producer): \(files)")
        #expect(record["num_parameters"] as? Int == checkpoint.numParameters, "\(checkpoint.producer)")
        let custom = record["custom_metadata"] as? [String: Any] ?? [:]
        for (key, value) in checkpoint.custom {
            #expect(custom[key].map(Self.text) == value, "\(checkpoint.producer): custom_metadata.\(key)")
        }
        let warnings = (custom["warnings"] as? [String] ?? []).filter { !$0.contains("compressed joblib") }
        if checkpoint.custom["pickle_safety"] == "unsafe" {
            #expect(warnings.contains { $0.contains("posix.system") || $0.contains("os.system") }, "\(checkpoint.producer): \(warnings)")
        } else {
            #expect(warnings.isEmpty, "\(checkpoint.producer): \(custom)")
        }
    }
}
