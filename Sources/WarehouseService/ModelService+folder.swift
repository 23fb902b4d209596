import Foundation
import WarehouseCore
import WarehouseFormats
import WarehouseZip

extension ModelService {
    /// Creates a version from a ZIP of a model folder. The archive is validated whole from its
    /// central directory first (unsafe paths, links, encryption, bombs, limits); then entries
    /// stream one by one into spool files and on to the store, so memory stays bounded.
    /// `__MACOSX/`, `._*` and `.DS_Store` are left out (named in `custom_metadata.skipped_entries`); with `preserveStructure` false paths are
    /// flattened to base names. A folder upload into an existing version is 409.
    /// `isCancelled` is asked before each entry: when it says so (the client went away, the
    /// server is stopping), the extraction stops there and the version is rolled back.
    public func uploadFolder(fields: UploadFields, archive: IncomingFile, preserveStructure: Bool,
                             primaryFile: String?, isCancelled: () -> Bool = { false }) throws -> ModelVersionRecord {
        try mappingZipErrors {
            let extractor = try ZipExtractor(path: archive.spoolPath, limits: zipLimits)
            var targets: [String: String] = [:]
            var sources: [String: String] = [:]
            var sizes: [String: UInt64] = [:]
            let skipped = extractor.files.map(\.path).filter(Self.isFolderNoise)
            for entry in extractor.files where !Self.isFolderNoise(entry.path) {
                let target = preserveStructure ? entry.path : FilePaths.baseName(entry.path)
                if let earlier = sources[target] {
                    throw WarehouseError.invalid(
                        "preserve_structure=false: '\(earlier)' and '\(entry.path)' both become '\(target)'")
                }
                _ = try FilePaths.validate(target, field: "zip_file entry")
                targets[entry.path] = target
                sources[target] = entry.path
                sizes[target] = entry.size
            }
            guard !targets.isEmpty else {
                throw WarehouseError.invalid("zip_file holds no files (empty archive, or only folders and macOS metadata)")
            }
            let primary = try Self.primaryPath(requested: primaryFile, sizes: sizes)
            let framework = FileKinds.framework(forFolder: Array(sizes.keys), primary: primary)
            let draft = fields.makeRecord(version: fields.version ?? "v0", framework: framework, createdAt: Timestamps.now())
            var analyses: [(path: String, analysis: FileAnalysis)] = []

            return try createVersion(draft, requestedVersion: fields.version, primary: primary, fill: { transaction in
                let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
                defer { buffer.deallocate() }
                try extractor.extract { entry, stream in
                    guard let target = targets[entry.path] else { return }
                    if isCancelled() {
                        throw WarehouseError.cancelled("the folder upload was stopped at entry \(analyses.count + 1) of \(targets.count) "
                            + "(the client went away, or the server is stopping); nothing of it was kept")
                    }
                    let spool = try SpoolFile(directory: spoolDirectory)
                    while true {
                        let count = try stream.read(into: buffer)
                        if count == 0 { break }
                        try spool.write(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
                    }
                    let sha256 = spool.finish()
                    let analysis = FormatDetector.analyze(path: spool.path, name: target)
                    analyses.append((target, analysis))
                    let file = ModelFile(filename: FilePaths.baseName(target), filePath: target, fileSize: spool.size,
                                         fileType: FilePaths.fileExtension(target), fileHash: sha256,
                                         contentType: FileKinds.contentType(forPath: target), isPrimary: target == primary,
                                         format: analysis.format)
                    try transaction.add(file, spoolPath: spool.path)
                }
            }, finalize: { record in
                Detection.apply(VersionAnalysis(files: analyses, primary: primary), to: &record, given: fields.framework)
                if !skipped.isEmpty {
                    // Said in the record, so the uploader sees why the archive held more files.
                    record.customMetadata["skipped_entries"] = .array(skipped.prefix(100).map(JSONValue.string))
                    var warnings: [JSONValue] = []
                    if case .array(let items)? = record.customMetadata["warnings"] { warnings = items }
                    warnings.append(.string("left out \(skipped.count) macOS metadata entr\(skipped.count == 1 ? "y" : "ies") "
                        + "(__MACOSX/, ._* AppleDouble files, .DS_Store): they are Finder's, not the model's"))
                    record.customMetadata["warnings"] = .array(warnings)
                }
            })
        }
    }

    /// macOS Finder's companions, never part of a model: the `__MACOSX/` tree, AppleDouble
    /// `._name` files (resource forks and extended attributes) and `.DS_Store`.
    static func isFolderNoise(_ path: String) -> Bool {
        let segments = path.split(separator: "/")
        return segments.first == "__MACOSX" || segments.last == ".DS_Store" || segments.last?.hasPrefix("._") == true
    }

    /// The file named by `primary_file` (path or unique base name), else the largest weights
    /// file, else the largest file.
    static func primaryPath(requested: String?, sizes: [String: UInt64]) throws -> String {
        if let requested, !requested.isEmpty {
            let wanted = requested.replacingOccurrences(of: "\\", with: "/")
            if sizes[wanted] != nil { return wanted }
            let byName = sizes.keys.filter { FilePaths.baseName($0) == wanted }
            guard byName.count == 1 else {
                throw WarehouseError.invalid("primary_file \(Identifiers.quoted(requested)) "
                    + (byName.isEmpty ? "is not a file of the archive" : "matches \(byName.count) files; give its full path"))
            }
            return byName[0]
        }
        let ordered = sizes.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
        return (ordered.first { FileKinds.isWeightsFile($0.key) } ?? ordered[0]).key
    }

    /// ZIP problems become input errors (400) or limit errors (413) naming the problem.
    func mappingZipErrors<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as ZipError {
            switch error {
            case .limitExceeded(let detail): throw WarehouseError.tooLarge("zip_file: \(detail)")
            case .malformed(let detail), .unsafe(let detail), .library(let detail):
                throw WarehouseError.invalid("zip_file: \(detail)")
            case .io(let detail): throw WarehouseError.storageUnavailable("zip_file: \(detail)")
            }
        }
    }
}
