import Foundation
import WarehouseCore
import WarehouseFormats

/// A change to a model's files, as a commit brings it: the next version holds the parent
/// version's files minus `deletions`, plus `additions` (which replace files at the same path).
public struct VersionChanges: Sendable {
    /// New or replaced files, spooled; `filename` is the path in the version.
    public var additions: [IncomingFile]
    /// Paths to leave out; a path ending in `/` leaves out that folder.
    public var deletions: [String]

    public init(additions: [IncomingFile] = [], deletions: [String] = []) {
        self.additions = additions
        self.deletions = deletions
    }
}

extension ModelService {
    /// Makes the next version of `user/model` from `parent` (a version, nil for the latest)
    /// and `changes`, through one version transaction: each kept file is carried over by a
    /// server-side copy (S3 CopyObject, a local hard link), each addition streamed from its
    /// spool file and inspected. The record is the parent's, with its files, primary file and
    /// detected metadata brought up to date; `edit` may change it further (a commit message).
    ///
    /// Derivations of one model run one at a time on this replica; with `requireLatest`, a
    /// parent that is no longer the latest version is a 409 (someone committed in between).
    public func deriveVersion(user: String, model: String, parent parentVersion: String?, changes: VersionChanges,
                              requireLatest: Bool = false,
                              edit: (inout ModelVersionRecord) throws -> Void = { _ in }) throws -> ModelVersionRecord {
        let additions = try changes.additions.map { file -> (path: String, file: IncomingFile) in
            (try FilePaths.validate(file.filename, field: "path"), file)
        }
        var added = Set<String>()
        for addition in additions where !added.insert(addition.path).inserted {
            throw WarehouseError.invalid("file \(Identifiers.quoted(addition.path)) is added twice in one commit")
        }
        let deletions = try changes.deletions.map { path -> String in
            path.hasSuffix("/") ? try FilePaths.validate(String(path.dropLast()), field: "path") + "/" : try FilePaths.validate(path, field: "path")
        }
        return try modelLocks.serialized(user: user, model: model) {
            let parent = try record(user: user, model: model, version: parentVersion)
            if requireLatest, let latest = try catalog.record(user: user, model: model, version: nil), latest.version != parent.version {
                throw WarehouseError.conflict("version \(parent.version) of model '\(model)' is no longer the latest (\(latest.version) is): "
                    + "commit on top of \(latest.version)")
            }
            for path in deletions where !path.hasSuffix("/") && !parent.files.contains(where: { $0.filePath == path }) {
                throw WarehouseError.notFound("file \(Identifiers.quoted(path)) is not in version \(parent.version) of model '\(model)'")
            }
            func deleted(_ path: String) -> Bool {
                deletions.contains { $0.hasSuffix("/") ? path.hasPrefix($0) : path == $0 }
            }
            let kept = parent.files.filter { !deleted($0.filePath) && !added.contains($0.filePath) }
            guard !kept.isEmpty || !additions.isEmpty else {
                throw WarehouseError.invalid("the commit would leave version \(parent.version)'s successor without files")
            }

            var analyses: [(path: String, analysis: FileAnalysis)] = []
            var draft = parent
            draft.aliases = []
            draft.createdAt = Timestamps.now()
            draft.updatedAt = draft.createdAt
            return try createVersion(draft, requestedVersion: nil, fill: { transaction in
                for file in kept { try transaction.carry(file, from: parent) }
                for (path, incoming) in additions {
                    let analysis = FormatDetector.analyze(path: incoming.spoolPath, name: path)
                    analyses.append((path, analysis))
                    try transaction.add(ModelFile(filename: FilePaths.baseName(path), filePath: path, fileSize: incoming.size,
                                                  fileType: FilePaths.fileExtension(path), fileHash: incoming.sha256,
                                                  contentType: Self.contentType(path: path, declared: incoming.contentType),
                                                  isPrimary: false, format: analysis.format),
                                        spoolPath: incoming.spoolPath)
                }
            }, finalize: { record in
                let sizes = Dictionary(uniqueKeysWithValues: record.files.map { ($0.filePath, $0.fileSize) })
                let primary = parent.primaryFilePath.flatMap { sizes[$0] != nil ? $0 : nil }
                    ?? (try? Self.primaryPath(requested: nil, sizes: sizes))
                record.choosePrimary(primary)
                if primary != parent.primaryFilePath {
                    // Another primary file may be another framework.
                    record.framework = FileKinds.framework(forFolder: Array(sizes.keys), primary: primary)
                }
                Detection.apply(VersionAnalysis(files: analyses, primary: primary), to: &record, given: nil, fillOnly: true)
                try edit(&record)
            })
        }
    }
}
