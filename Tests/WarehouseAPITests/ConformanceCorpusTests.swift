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
