import Foundation
import WarehouseCore
import WarehouseFormats

/// A change to a model's files, as a commit brings it: the next version holds the parent
/// version's files minus `deletions`, plus `additions` (which replace files at the same path).
public struct VersionChanges: Sendable {
    /// New or replaced files, spooled; `filename` is the path in the version.
    public var additions: [IncomingFile]
    /// New or replaced files whose bytes are in the store already (copied server-side).
    public var copies: [StoredFile]
    /// Paths to leave out; a path ending in `/` leaves out that folder.
    public var deletions: [String]

    public init(additions: [IncomingFile] = [], copies: [StoredFile] = [], deletions: [String] = []) {
        self.additions = additions
        self.copies = copies
        self.deletions = deletions
    }
}

/// A file of a commit whose bytes are already stored at `key`, checked and inspected.
public struct StoredFile: Sendable {
    public let path: String
    public let key: String
    public let size: UInt64
    public let sha256: String
    public let analysis: FileAnalysis

    public init(path: String, key: String, size: UInt64, sha256: String, analysis: FileAnalysis) {
        self.path = path
        self.key = key
        self.size = size
        self.sha256 = sha256
        self.analysis = analysis
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
    /// With `fresh`, the version starts from nothing (MLflow's versions are whole models, not
    /// edits of the one before): it holds the changes' files only and is detected whole.
    public func deriveVersion(user: String, model: String, parent parentVersion: String?, changes: VersionChanges,
                              requireLatest: Bool = false, fresh: Bool = false,
                              edit: (inout ModelVersionRecord) throws -> Void = { _ in }) throws -> ModelVersionRecord {
        let additions = try changes.additions.map { file -> (path: String, file: IncomingFile) in
            (try FilePaths.validate(file.filename, field: "path"), file)
        }
        let storedCopies = try changes.copies.map { file -> (path: String, file: StoredFile) in
            (try FilePaths.validate(file.path, field: "path"), file)
        }
        var added = Set<String>()
        for path in additions.map(\.path) + storedCopies.map(\.path) where !added.insert(path).inserted {
            throw WarehouseError.invalid("file \(Identifiers.quoted(path)) is added twice in one commit")
        }
        let deletions = try changes.deletions.map { path -> String in
            path.hasSuffix("/") ? try FilePaths.validate(String(path.dropLast()), field: "path") + "/" : try FilePaths.validate(path, field: "path")
        }
        return try modelLocks.serialized(user: user, model: model) {
            // A model created without versions starts from nothing.
            let parent: ModelVersionRecord
            if fresh {
                parent = ModelVersionRecord(modelID: model, userID: user, name: model, version: "v0", framework: .other,
                                            modelType: .other, createdAt: Timestamps.now())
            } else if parentVersion == nil, try catalog.record(user: user, model: model, version: nil) == nil,
               let created = try catalog.registeredModel(user: user, model: model)?.createdAt {
                parent = ModelVersionRecord(modelID: model, userID: user, name: model, version: "v0", framework: .other,
                                            modelType: .other, createdAt: created)
            } else {
                parent = try record(user: user, model: model, version: parentVersion)
            }
            let firstVersion = parent.files.isEmpty
            if requireLatest, !firstVersion, let latest = try catalog.record(user: user, model: model, version: nil), latest.version != parent.version {
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
            guard !kept.isEmpty || !additions.isEmpty || !storedCopies.isEmpty else {
                throw WarehouseError.invalid("the commit would leave version \(parent.version)'s successor without files")
            }

            var analyses: [(path: String, analysis: FileAnalysis)] = []
            var draft = parent
            draft.aliases = []
            draft.createdAt = Timestamps.now()
            draft.updatedAt = draft.createdAt
            return try createVersion(draft, requestedVersion: nil, fill: { transaction in
                var copies = kept.map { file in
                    (file: file, source: ObjectKeys.file(user: parent.userID, model: parent.modelID, version: parent.version, path: file.filePath))
                }
                for (path, incoming) in additions {
                    let analysis = FormatDetector.analyze(path: incoming.spoolPath, name: path)
                    analyses.append((path, analysis))
                    try transaction.add(ModelFile(filename: FilePaths.baseName(path), filePath: path, fileSize: incoming.size,
                                                  fileType: FilePaths.fileExtension(path), fileHash: incoming.sha256,
                                                  contentType: Self.contentType(path: path, declared: incoming.contentType),
                                                  isPrimary: false, format: analysis.format),
                                        spoolPath: incoming.spoolPath)
                }
                for (path, stored) in storedCopies {
                    analyses.append((path, stored.analysis))
                    copies.append((ModelFile(filename: FilePaths.baseName(path), filePath: path, fileSize: stored.size,
                                             fileType: FilePaths.fileExtension(path), fileHash: stored.sha256,
                                             contentType: FileKinds.contentType(forPath: path), isPrimary: false,
                                             format: stored.analysis.format),
                                   stored.key))
                }
                try transaction.copyAll(copies)
            }, finalize: { record in
                let sizes = Dictionary(uniqueKeysWithValues: record.files.map { ($0.filePath, $0.fileSize) })
                let primary = parent.primaryFilePath.flatMap { sizes[$0] != nil ? $0 : nil }
                    ?? (try? Self.primaryPath(requested: nil, sizes: sizes))
                record.choosePrimary(primary)
                if primary != parent.primaryFilePath {
                    // Another primary file may be another framework.
                    record.framework = FileKinds.framework(forFolder: Array(sizes.keys), primary: primary)
                }
                // A first version is detected whole; later ones only fill in what is missing.
                Detection.apply(VersionAnalysis(files: analyses, primary: primary), to: &record, given: nil, fillOnly: !firstVersion)
                try edit(&record)
            })
        }
    }
}
