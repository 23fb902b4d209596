import Foundation
import Testing
import WarehouseCrypto
import WarehouseTesting

/// Runs helper programs (python3, unzip) for the folder tests.
enum Tools {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path + "/Fixtures"

    @discardableResult
    static func run(_ executable: String, _ arguments: [String], directory: String? = nil) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [executable] + arguments
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let output = Pipe()
        process.standardOutput = output
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let errorText = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw TestClientError("\(executable) \(arguments.joined(separator: " ")) failed: \(errorText)")
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// Writes an archive of `kind` (see Fixtures/make_zip.py) and returns its path.
    static func makeZip(_ kind: String, in directory: String, source: String? = nil) throws -> String {
        let path = directory + "/\(kind).zip"
        try run("python3", [fixtures + "/make_zip.py", kind, path] + (source.map { [$0] } ?? []))
        return path
    }

    /// Every file entry of a ZIP with its SHA-256, read by Python's zipfile.
    static func zipContents(_ path: String) throws -> [String: String] {
        let script = """
            import hashlib, json, sys, zipfile
            result = {}
            with zipfile.ZipFile(sys.argv[1]) as archive:
                for entry in archive.infolist():
                    if entry.is_dir(): continue
                    digest = hashlib.sha256()
                    with archive.open(entry) as handle:
                        for block in iter(lambda: handle.read(1 << 20), b""): digest.update(block)
                    result[entry.filename] = digest.hexdigest()
            print(json.dumps(result))
            """
        let output = try run("python3", ["-c", script, path])
        return try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: String] ?? [:]
    }
}

@Suite struct FolderTests {
    func upload(_ warehouse: TestWarehouse, _ archive: String, fields: [(String, String)] = []) throws -> TestResponse {
        try warehouse.client.upload("/ai-models/upload/folder",
                                    fields: [("user_id", "u"), ("model_id", "folder")] + fields,
                                    files: [("zip_file", "model.zip", .file(archive))])
    }

    func paths(_ response: TestResponse) -> [String] {
        (response.object["files"] as? [[String: Any]] ?? []).compactMap { $0["file_path"] as? String }
    }

    @Test(arguments: ["python-deflate", "python-stored", "python-zip64", "data-descriptors"])
    func pythonArchivesOfAHuggingFaceFolder(kind: String) throws {
        let warehouse = try TestWarehouse()
        let archive = try Tools.makeZip(kind, in: warehouse.directory.path)
        let expected = try Tools.zipContents(archive)
        let response = try upload(warehouse, archive)
        #expect(response.status == 200, "\(kind): \(response.text)")
        let files = response.object["files"] as? [[String: Any]] ?? []
        #expect(files.count == 5)
        for file in files {
            let path = file["file_path"] as? String ?? ""
            #expect(file["file_hash"] as? String == expected[path], "\(kind): \(path)")
        }
        #expect(response.object["framework"] as? String == "huggingface")
        // The largest weights file is primary.
        #expect(response.object["primary_file_path"] as? String == "bert/model-00001-of-00002.safetensors")
        #expect(warehouse.spoolFiles().isEmpty)
    }

    @Test func zipCommandLineFolderWithDirectoriesAndPrimaryField() throws {
        let warehouse = try TestWarehouse()
        let source = warehouse.directory.path + "/saved"
        try FileManager.default.createDirectory(atPath: source + "/variables", withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: source + "/saved_model.pb", contents: Data(repeating: 1, count: 100))
        FileManager.default.createFile(atPath: source + "/variables/variables.data-00000-of-00001", contents: Data(repeating: 2, count: 5000))
        FileManager.default.createFile(atPath: source + "/variables/variables.index", contents: Data(repeating: 3, count: 10))
        let archive = try Tools.makeZip("zip-cli", in: warehouse.directory.path, source: source)
        let response = try upload(warehouse, archive, fields: [("primary_file", "saved_model.pb"), ("version", "v3")])
        #expect(response.status == 200, "\(response.text)")
        #expect(paths(response) == ["saved_model.pb", "variables/variables.data-00000-of-00001", "variables/variables.index"])
        #expect(response.object["primary_file_path"] as? String == "saved_model.pb")
        #expect(response.object["framework"] as? String == "tensorflow")
        #expect(response.object["version"] as? String == "v3")
        // A folder upload into an existing version is 409, and leaves the version as it was.
        let again = try upload(warehouse, archive, fields: [("version", "v3")])
        #expect(again.status == 409)
        #expect(warehouse.storedObjectKeys().count == 4)
        let badPrimary = try upload(warehouse, archive, fields: [("primary_file", "nope.bin")])
        #expect(badPrimary.status == 400)
        #expect(badPrimary.detail?.contains("primary_file") == true)
    }

    @Test func namesFromEveryPlatform() throws {
        let warehouse = try TestWarehouse()
        let directory = warehouse.directory.path
        let unicode = try upload(warehouse, try Tools.makeZip("unicode", in: directory))
        #expect(unicode.status == 200, "\(unicode.text)")
        #expect(paths(unicode) == ["modèle/权重.bin", "modèle/読んで.md"])

        let cp437 = try upload(warehouse, try Tools.makeZip("cp437", in: directory))
        #expect(paths(cp437) == ["café.bin"], "\(cp437.text)")

        let finder = try upload(warehouse, try Tools.makeZip("finder", in: directory))
        #expect(paths(finder) == ["model/weights.pt"], "\(finder.text)")
        #expect(finder.object["framework"] as? String == "pytorch")

        let windows = try upload(warehouse, try Tools.makeZip("windows", in: directory))
        #expect(paths(windows) == ["model/sub/config.yaml", "model/weights.onnx"], "\(windows.text)")
    }

    @Test func flatteningAndItsClashes() throws {
        let warehouse = try TestWarehouse()
        let windows = try upload(warehouse, try Tools.makeZip("windows", in: warehouse.directory.path),
                                 fields: [("preserve_structure", "false")])
        #expect(paths(windows) == ["config.yaml", "weights.onnx"])
        let clash = try upload(warehouse, try Tools.makeZip("clash", in: warehouse.directory.path),
                               fields: [("preserve_structure", "False")])
        #expect(clash.status == 400)
        #expect(clash.detail?.contains("config.json") == true)
        let preserved = try upload(warehouse, try Tools.makeZip("clash", in: warehouse.directory.path))
        #expect(preserved.status == 200)
    }

    struct Hostile: Sendable, CustomTestStringConvertible {
        let kind: String
        let status: Int
        let mention: String
        var testDescription: String { kind }
    }

    static let hostile: [Hostile] = [
        Hostile(kind: "zip-slip", status: 400, mention: ".."),
        Hostile(kind: "absolute", status: 400, mention: "absolute"),
        Hostile(kind: "drive-letter", status: 400, mention: "absolute"),
        Hostile(kind: "symlink", status: 400, mention: "symbolic link"),
        Hostile(kind: "device", status: 400, mention: "device"),
        Hostile(kind: "duplicate", status: 400, mention: "more than once"),
        Hostile(kind: "many-entries", status: 413, mention: "entries"),
        Hostile(kind: "large-total", status: 413, mention: "limit"),
        Hostile(kind: "bomb", status: 413, mention: "zip bomb"),
        Hostile(kind: "corrupt-data", status: 400, mention: "zip_file"),
        Hostile(kind: "truncated", status: 400, mention: "zip_file"),
        Hostile(kind: "not-zip", status: 400, mention: "not a ZIP"),
        Hostile(kind: "empty", status: 400, mention: "no files"),
        Hostile(kind: "only-directories", status: 400, mention: "no files"),
    ]

    @Test(arguments: hostile)
    func hostileArchivesLeaveNothingBehind(_ hostile: Hostile) throws {
        let warehouse = try TestWarehouse {
            $0.zipLimits.maxEntries = 10
            $0.zipLimits.maxTotalUncompressedBytes = 5000
        }
        let archive = try Tools.makeZip(hostile.kind, in: warehouse.directory.path)
        let response = try upload(warehouse, archive)
        #expect(response.status == hostile.status, "\(hostile.kind): \(response.text)")
        #expect(response.detail?.contains(hostile.mention) == true, "\(hostile.kind): \(response.detail ?? "")")
        #expect(warehouse.storedObjectKeys().isEmpty, "\(hostile.kind) left \(warehouse.storedObjectKeys())")
        #expect(warehouse.spoolFiles().isEmpty)
        #expect(try warehouse.client.get("/ai-models/u/folder").status == 404)
        // Nothing consumed: the next upload is v1.
        let next = try warehouse.uploadSingle([("user_id", "u"), ("model_id", "folder")])
        #expect(next.object["version"] as? String == "v1")
    }

    @Test func encryptedArchivesAreRefused() throws {
        let warehouse = try TestWarehouse()
        let source = warehouse.directory.path + "/secret"
        try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: source + "/weights.bin", contents: Data(repeating: 9, count: 1000))
        let response = try upload(warehouse, try Tools.makeZip("zip-cli-encrypted", in: warehouse.directory.path, source: source))
        #expect(response.status == 400)
        #expect(response.detail?.contains("encrypted") == true)
        #expect(warehouse.storedObjectKeys().isEmpty)
    }

    @Test func missingOrWrongZipFieldIs400() throws {
        let warehouse = try TestWarehouse()
        let none = try warehouse.client.upload("/ai-models/upload/folder", fields: [("user_id", "u"), ("model_id", "m")], files: [])
        #expect(none.status == 400)
        #expect(none.detail?.contains("zip_file") == true)
        let badFlag = try upload(warehouse, try Tools.makeZip("python-stored", in: warehouse.directory.path),
                                 fields: [("preserve_structure", "sometimes")])
        #expect(badFlag.status == 400)
    }

    @Test func wholeVersionDownloadsAsAZip() throws {
        let warehouse = try TestWarehouse()
        let archive = try Tools.makeZip("python-deflate", in: warehouse.directory.path)
        let expected = try Tools.zipContents(archive)
        #expect(try upload(warehouse, archive).status == 200)

        for query in ["", "?compress=deflate", "?version=v1&compress=store"] {
            let response = try warehouse.client.get("/ai-models/u/folder/download\(query)")
            #expect(response.status == 200)
            #expect(response.headers["content-type"] == "application/zip")
            #expect(response.headers["content-disposition"]?.contains("folder-v1.zip") == true)
            let downloaded = warehouse.directory.path + "/downloaded.zip"
            FileManager.default.createFile(atPath: downloaded, contents: Data(response.body))
            #expect(try Tools.zipContents(downloaded) == expected, "query \(query)")
            // Info-ZIP's unzip agrees, byte for byte.
            let target = warehouse.directory.path + "/unzipped\(query.count)"
            try Tools.run("unzip", ["-q", downloaded, "-d", target])
            let original = try [UInt8](Data(contentsOf: URL(fileURLWithPath: target + "/bert/tokenizer.json")))
            #expect(original == Array("{\"version\": \"1.0\"}".utf8))

            let etag = try #require(response.headers["etag"])
            #expect(try warehouse.client.get("/ai-models/u/folder/download\(query)", headers: [("If-None-Match", etag)]).status == 304)
        }
        #expect(try warehouse.client.get("/ai-models/u/folder/download?compress=lzma").status == 400)
        // Single-file versions download as a ZIP too when no filename is given.
        _ = try warehouse.uploadSingle([("user_id", "u"), ("model_id", "one")], filename: "w.bin", content: .bytes([1, 2, 3]))
        let single = try warehouse.client.get("/ai-models/u/one/download")
        #expect(single.headers["content-type"] == "application/zip")
    }

    /// 1,000 small files and one 2 GiB sparse file, up as a stored ZIP and down as a ZIP,
    /// compared entry by entry by SHA-256.
    @Test func largeFolderRoundTrip() throws {
        let warehouse = try TestWarehouse()
        let source = warehouse.directory.path + "/big-folder"
        try FileManager.default.createDirectory(atPath: source + "/shards", withIntermediateDirectories: true)
        for index in 0..<1000 {
            let bytes = Data("file \(index) ".utf8) + Data(SecureRandom.bytes(index % 97))
            FileManager.default.createFile(atPath: source + "/shards/part-\(String(format: "%04d", index)).txt", contents: bytes)
        }
        let sparse = source + "/weights.bin"
        FileManager.default.createFile(atPath: sparse, contents: Data("head".utf8))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: sparse))
        try handle.truncate(atOffset: 2 << 30)
        try handle.seek(toOffset: (2 << 30) - 4)
        try handle.write(contentsOf: Data("tail".utf8))
        try handle.close()

        let archive = try Tools.makeZip("folder-stored", in: warehouse.directory.path, source: source)
        let expected = try Tools.zipContents(archive)
        #expect(expected.count == 1001)
        let response = try upload(warehouse, archive)
        #expect(response.status == 200, "\(response.text.prefix(300))")
        #expect(response.object["primary_file_path"] as? String == "weights.bin")
        #expect((response.object["files"] as? [[String: Any]])?.count == 1001)
        try FileManager.default.removeItem(atPath: archive)

        let downloaded = warehouse.directory.path + "/round-trip.zip"
        FileManager.default.createFile(atPath: downloaded, contents: nil)
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: downloaded))
        let result = try warehouse.client.download("/ai-models/u/folder/download") { chunk in
            output.write(Data(chunk))
        }
        try output.close()
        #expect(result.status == 200)
        #expect(try Tools.zipContents(downloaded) == expected)
    }
}
