import Foundation
import WarehouseCatalog
import WarehouseCore
import WarehouseReplication
import WarehouseCrypto
import WarehouseFormats
#if canImport(Glibc)
import Glibc
#endif

/// What a client asks for when it opens an upload session: the upload fields of
/// `/ai-models/upload/single`, the files it will send, and how.
public struct UploadSessionRequest: Sendable {
    public struct File: Sendable {
        public let path: String
        public let size: UInt64
        public let sha256: String?
    }

    public var fields: UploadFields
    public var files: [File]
    public var primaryFile: String?
    public var partSize: UInt64?
    public var presigned: Bool
    public var expiresInSeconds: Int?

    static let controlKeys: Set<String> = ["files", "primary_file", "part_size", "presigned", "expires_in_seconds"]
    static let fieldKeys: Set<String> = ["user_id", "model_id", "version", "name", "description", "framework", "model_type",
                                         "algorithm", "tags", "training_accuracy", "validation_accuracy", "test_accuracy",
                                         "training_loss", "python_version", "hardware_requirements", "custom_metadata"]

    /// Parses the JSON body of `POST /ai-models/upload/sessions`.
    public init(json object: [String: JSONValue]) throws {
        if let unknown = object.keys.sorted().first(where: { !Self.controlKeys.contains($0) && !Self.fieldKeys.contains($0) }) {
            throw WarehouseError.invalid("unknown field \(Identifiers.quoted(unknown)) in the session request")
        }
        var pairs: [(name: String, value: String)] = []
        for (name, value) in object where Self.fieldKeys.contains(name) {
            pairs.append((name, try Self.formValue(value, field: name)))
        }
        fields = try UploadFields(pairs)
        guard case .array(let items)? = object["files"], !items.isEmpty else {
            throw WarehouseError.invalid("field 'files' is required: a list of {\"path\", \"size\", \"sha256\"} objects")
        }
        guard items.count <= 10_000 else { throw WarehouseError.invalid("a session holds at most 10000 files") }
        var seen = Set<String>()
        files = try items.enumerated().map { index, item in
            guard case .object(let file) = item, case .string(let rawPath)? = file["path"] else {
                throw WarehouseError.invalid("files[\(index)] needs a 'path'")
            }
            let path = try FilePaths.validate(rawPath, field: "files[\(index)].path")
            guard seen.insert(path).inserted else { throw WarehouseError.invalid("file \(Identifiers.quoted(path)) is listed twice") }
            guard case .int(let size)? = file["size"], size >= 0, size <= Int64(UploadSessions.maxFileBytes) else {
                throw WarehouseError.invalid("files[\(index)].size must be a byte count from 0 to \(UploadSessions.maxFileBytes)")
            }
            var sha256: String?
            if let value = file["sha256"], value != .null {
                guard case .string(let text) = value, let hex = UploadSessions.sha256Hex(text) else {
                    throw WarehouseError.invalid("files[\(index)].sha256 must be 64 hexadecimal digits")
                }
                sha256 = hex
            }
            return File(path: path, size: UInt64(size), sha256: sha256)
        }
        if case .string(let primary)? = object["primary_file"], !primary.isEmpty { primaryFile = primary }
        if let value = object["part_size"], value != .null {
            guard case .int(let size) = value, size >= Int64(UploadSessions.minPartSize), size <= Int64(UploadSessions.maxPartSize) else {
                throw WarehouseError.invalid("part_size must be from \(UploadSessions.minPartSize) (5 MiB) to \(UploadSessions.maxPartSize) bytes")
            }
            partSize = UInt64(size)
        }
        if let value = object["presigned"], value != .null {
            guard case .bool(let flag) = value else { throw WarehouseError.invalid("presigned must be true or false") }
            presigned = flag
        } else {
            presigned = false
        }
        if let value = object["expires_in_seconds"], value != .null {
            guard case .int(let seconds) = value, seconds >= 1, seconds <= 7 * 86_400 else {
                throw WarehouseError.invalid("expires_in_seconds must be from 1 to 604800 (7 days)")
            }
            expiresInSeconds = Int(seconds)
        }
    }

    /// A JSON value as the form field it stands for.
    static func formValue(_ value: JSONValue, field: String) throws -> String {
        switch value {
        case .string(let text): return text
        case .int(let number): return String(number)
        case .double(let number): return String(number)
        case .bool(let flag): return flag ? "true" : "false"
        case .null: return ""
        case .array(let items) where field == "tags":
            return try items.map { item -> String in
                guard case .string(let tag) = item else { throw WarehouseError.invalid("tags must be strings") }
                return tag
            }.joined(separator: ",")
        case .object where field == "custom_metadata":
            return String(decoding: try JSONEncoder().encode(value), as: UTF8.self)
        default:
            throw WarehouseError.invalid("field \(Identifiers.quoted(field)) has the wrong type")
        }
    }
}

/// Resumable uploads. A session reserves its version (a pending catalog row), opens one
/// parted upload in the store per file (an S3 multipart upload, or a sparse file beside a
/// local store's objects), records every part that arrives with its SHA-256, and at
/// completion joins the parts, hashes and inspects each file, and commits the version by the
/// same protocol as every upload. Nothing is visible before the commit; an aborted, expired
/// or failed session leaves nothing behind, in the bucket neither.
public final class UploadSessions: Sendable {
    public let service: ModelService
    /// How long a session stays open unless its request says less.
    public let lifetimeSeconds: Int
    /// How long a presigned part URL is valid.
    public let presignSeconds: Int

    static let minPartSize: UInt64 = 5 << 20
    static let maxPartSize: UInt64 = 5 << 30
    static let defaultPartSize: UInt64 = 64 << 20
    static let maxParts: UInt64 = 10_000
    static let maxFileBytes: UInt64 = 5 << 40

    public init(service: ModelService, lifetimeSeconds: Int = 86_400, presignSeconds: Int = 3600) {
        self.service = service
        self.lifetimeSeconds = lifetimeSeconds
        self.presignSeconds = presignSeconds
    }

    var catalog: Catalog { service.catalog }
    var store: any ObjectStore { service.store }

    static func sha256Hex(_ text: String) -> String? {
        let hex = text.lowercased()
        guard hex.utf8.count == 64, hex.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }) else { return nil }
        return hex
    }

    /// Parts of `size` bytes at `partSize` (an empty file has none).
    public static func partCount(size: UInt64, partSize: UInt64) -> Int {
        Int((size + partSize - 1) / partSize)
    }

    // MARK: - Create

    public func create(_ request: UploadSessionRequest) throws -> UploadSessionRow {
        let fields = request.fields
        let largest = request.files.map(\.size).max() ?? 0
        // A file may not need more than 10,000 parts (S3's limit): the part size grows with it.
        var partSize = request.partSize ?? Self.defaultPartSize
        let needed = (largest + Self.maxParts - 1) / Self.maxParts
        if needed > partSize {
            guard request.partSize == nil else {
                throw WarehouseError.invalid("part_size \(partSize) would cut a \(largest)-byte file into more than 10000 parts")
            }
            partSize = (needed + (1 << 20) - 1) / (1 << 20) << 20
        }
        if let primary = request.primaryFile {
            _ = try ModelService.primaryPath(requested: primary, sizes: Dictionary(uniqueKeysWithValues: request.files.map { ($0.path, $0.size) }))
        }
        let now = Date()
        let createdAt = Timestamps.string(from: now)
        let lifetime = min(request.expiresInSeconds ?? lifetimeSeconds, lifetimeSeconds)
        let expiresAt = Timestamps.string(from: now.addingTimeInterval(TimeInterval(lifetime)))
        // Presigning is local arithmetic: asking for any URL says whether the store has them.
        if request.presigned, store.presignedURL(key: ObjectKeys.modelPrefix(user: fields.userID, model: fields.modelID), expires: 1) == nil {
            throw WarehouseError.invalid("presigned part URLs need an S3 store; this warehouse keeps its files in a local folder")
        }
        let draft = fields.makeRecord(version: fields.version ?? "v0", framework: .other, createdAt: createdAt)
        let transaction = try service.beginVersion(draft, requestedVersion: fields.version)
        let pending = transaction.pending
        var files: [UploadSessionRow.File] = []
        do {
            for (position, file) in request.files.enumerated() {
                let key = transaction.key(for: file.path)
                let uploadID = file.size > 0 ? try store.createPartedUpload(key: key, size: file.size) : nil
                files.append(UploadSessionRow.File(position: position, path: file.path, size: file.size, sha256: file.sha256,
                                                   uploadID: uploadID))
            }
            let session = UploadSessionRow(
                id: "us_" + Hex.encode(SecureRandom.bytes(16)), userID: fields.userID, modelID: fields.modelID,
                versionID: pending.id, version: pending.version, state: "open", partSize: partSize,
                presigned: request.presigned, request: try Self.encodeRequest(request), createdAt: createdAt,
                expiresAt: expiresAt, files: files)
            try catalog.insertUploadSession(session)
            return session
        } catch {
            for file in files { try? abortUpload(of: file, user: fields.userID, model: fields.modelID, version: pending.version) }
            try? transaction.abandon()
            throw error
        }
    }

    /// The request as stored with the session: the form fields it became, and the primary file.
    static func encodeRequest(_ request: UploadSessionRequest) throws -> String {
        var object: [String: JSONValue] = ["user_id": .string(request.fields.userID), "model_id": .string(request.fields.modelID)]
        let fields = request.fields
        func put(_ key: String, _ value: String?) { if let value { object[key] = .string(value) } }
        func put(_ key: String, _ value: Double?) { if let value { object[key] = .double(value) } }
        put("version", fields.version)
        put("name", fields.name)
        put("description", fields.description)
        put("framework", fields.framework?.rawValue)
        put("model_type", fields.modelType?.rawValue)
        put("algorithm", fields.algorithm)
        put("python_version", fields.pythonVersion)
        put("hardware_requirements", fields.hardwareRequirements)
        put("training_accuracy", fields.trainingAccuracy)
        put("validation_accuracy", fields.validationAccuracy)
        put("test_accuracy", fields.testAccuracy)
        put("training_loss", fields.trainingLoss)
        put("primary_file", request.primaryFile)
        if !fields.tags.isEmpty { object["tags"] = .array(fields.tags.map(JSONValue.string)) }
        if !fields.customMetadata.isEmpty { object["custom_metadata"] = .object(fields.customMetadata) }
        return String(decoding: try JSONEncoder().encode(JSONValue.object(object)), as: UTF8.self)
    }

    static func decodeRequest(_ text: String) throws -> (fields: UploadFields, primary: String?) {
        guard case .object(var object) = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) else {
            throw WarehouseError.invalid("the session's stored request does not read")
        }
        var primary: String?
        if case .string(let value)? = object.removeValue(forKey: "primary_file") { primary = value }
        let pairs = try object.map { (name: $0.key, value: try UploadSessionRequest.formValue($0.value, field: $0.key)) }
        return (try UploadFields(pairs), primary)
    }

    // MARK: - Read

    /// The session, if it exists and `user` may see it (`authorize` throws 403 otherwise).
    public func session(_ id: String, authorize: (String) throws -> Void) throws -> UploadSessionRow {
        guard id.hasPrefix("us_"), id.count <= 64, let session = try catalog.uploadSession(id: id) else {
            throw WarehouseError.notFound("upload session \(Identifiers.quoted(id)) not found")
        }
        try authorize(session.userID)
        return session
    }

    /// Refuses work on a session that is not open (or whose time is up, which ends it).
    func requireOpen(_ session: UploadSessionRow) throws {
        if session.state == "open", session.expiresAt <= Timestamps.now() {
            try expire(session)
            throw WarehouseError.conflict("upload session \(session.id) expired at \(session.expiresAt); its parts are removed")
        }
        guard session.state == "open" else { throw Self.closed(session) }
    }

    static func closed(_ session: UploadSessionRow) -> WarehouseError {
        switch session.state {
        case "completed":
            return .conflict("upload session \(session.id) is already completed as \(session.userID)/\(session.modelID) \(session.version)")
        case "completing": return .conflict("upload session \(session.id) is being completed right now")
        case "aborted": return .conflict("upload session \(session.id) was aborted")
        case "expired": return .conflict("upload session \(session.id) expired at \(session.expiresAt)")
        default: return .conflict("upload session \(session.id) failed: \(session.detail ?? "unknown reason")")
        }
    }

    static func file(_ session: UploadSessionRow, path: String?) throws -> UploadSessionRow.File {
        guard let path, !path.isEmpty else {
            if session.files.count == 1 { return session.files[0] }
            throw WarehouseError.invalid("give the file the part belongs to (?file=path): the session holds \(session.files.count) files")
        }
        guard let file = session.files.first(where: { $0.path == path }) else {
            throw WarehouseError.notFound("file \(Identifiers.quoted(path)) is not part of upload session \(session.id)")
        }
        return file
    }

    /// Byte range of part `number` (1-based) of `file`.
    static func range(of number: Int, in file: UploadSessionRow.File, partSize: UInt64) throws -> Range<UInt64> {
        let count = partCount(size: file.size, partSize: partSize)
        guard number >= 1, number <= count else {
            throw WarehouseError.invalid(count == 0
                ? "file \(Identifiers.quoted(file.path)) is empty: it has no parts to send"
                : "part number \(number) is out of range: file \(Identifiers.quoted(file.path)) has parts 1 to \(count)")
        }
        let start = UInt64(number - 1) * partSize
        return start..<min(file.size, start + partSize)
    }

    /// The parts of each file not received yet, as "path: 3, 5-7".
    public static func missingParts(_ session: UploadSessionRow) -> [(path: String, numbers: [Int])] {
        session.files.compactMap { file in
            let have = Set(file.parts.map(\.number))
            let missing = (0..<partCount(size: file.size, partSize: session.partSize)).map { $0 + 1 }.filter { !have.contains($0) }
            return missing.isEmpty ? nil : (file.path, missing)
        }
    }

    static func describe(_ numbers: [Int]) -> String {
        var runs: [String] = []
        var index = 0
        while index < numbers.count {
            var end = index
            while end + 1 < numbers.count, numbers[end + 1] == numbers[end] + 1 { end += 1 }
            runs.append(end == index ? "\(numbers[index])" : "\(numbers[index])-\(numbers[end])")
            index = end + 1
        }
        return runs.joined(separator: ", ")
    }

    // MARK: - Parts

    /// Starts receiving part `number` of `path`: `length` is the request's Content-Length and
    /// `sha256` the part's digest as the client announces it. Refuses before any byte is read
    /// when the part does not fit the session.
    public func receivePart(session: UploadSessionRow, path: String?, number: Int, length: UInt64?,
                            sha256: String?) throws -> PartReceiver {
        try requireOpen(session)
        guard !session.presigned else {
            throw WarehouseError.invalid("upload session \(session.id) takes its parts through presigned URLs (GET …/parts/\(number)/url)")
        }
        let file = try Self.file(session, path: path)
        let range = try Self.range(of: number, in: file, partSize: session.partSize)
        guard let length else {
            throw WarehouseError.invalid("a part needs a Content-Length (\(range.count) bytes for part \(number) of \(Identifiers.quoted(file.path)))")
        }
        guard length == UInt64(range.count) else {
            throw WarehouseError.invalid("part \(number) of \(Identifiers.quoted(file.path)) is \(range.count) bytes; this request announces \(length)")
        }
        guard let sha256, let digest = Self.sha256Hex(sha256) else {
            throw WarehouseError.invalid("a part needs its SHA-256 in the X-Part-SHA256 header (64 hexadecimal digits)")
        }
        let key = ObjectKeys.file(user: session.userID, model: session.modelID, version: session.version, path: file.path)
        let storeNumber = try claimStoreNumber(session: session, file: file, number: number)
        let writer = try store.partWriter(key: key, uploadID: file.uploadID ?? "", number: storeNumber, offset: range.lowerBound,
                                          length: length, sha256: digest)
        return PartReceiver(sessions: self, session: session.id, file: file, number: number, storeNumber: storeNumber,
                            length: length, sha256: digest, writer: writer)
    }

    /// The store's part number for part `number`: the same. Real S3 replaces a part sent
    /// again, and an attempt this service refuses never completes there (its last byte is
    /// held back until the part checks out).
    func claimStoreNumber(session: UploadSessionRow, file: UploadSessionRow.File, number: Int) throws -> Int {
        number
    }

    /// A file whose parts the store cannot take again (rclone serve s3 streams each part as it
    /// comes and cannot replace one once begun) starts over: a new parted upload, no parts.
    func restart(session: String, file: UploadSessionRow.File) throws -> WarehouseError {
        guard let current = try catalog.uploadSession(id: session) else { return .notFound("upload session \(session) is gone") }
        let key = ObjectKeys.file(user: current.userID, model: current.modelID, version: current.version, path: file.path)
        try? abortUpload(of: file, user: current.userID, model: current.modelID, version: current.version)
        let uploadID = try store.createPartedUpload(key: key, size: file.size)
        try catalog.restartUploadFile(session: session, position: file.position, uploadID: uploadID)
        return .conflict("this store cannot replace part of \(Identifiers.quoted(file.path)) once its bytes began to arrive "
            + "(rclone serve s3 streams parts as they come), so the file starts over: send all of its parts again")
    }

    /// A presigned URL for part `number` of `path`, whose SHA-256 the client announces now
    /// (checked when the session completes).
    public func presignPart(session: UploadSessionRow, path: String?, number: Int, sha256: String?) throws -> (url: String, expiresAt: String, size: UInt64) {
        try requireOpen(session)
        guard session.presigned else {
            throw WarehouseError.invalid("upload session \(session.id) was not opened with \"presigned\": true")
        }
        let file = try Self.file(session, path: path)
        let range = try Self.range(of: number, in: file, partSize: session.partSize)
        guard let sha256, let digest = Self.sha256Hex(sha256) else {
            throw WarehouseError.invalid("a presigned part needs its SHA-256 (?sha256=64 hexadecimal digits), checked at completion")
        }
        let key = ObjectKeys.file(user: session.userID, model: session.modelID, version: session.version, path: file.path)
        let storeNumber = try claimStoreNumber(session: session, file: file, number: number)
        guard let uploadID = file.uploadID,
              let url = store.presignedPartURL(key: key, uploadID: uploadID, number: storeNumber, expires: presignSeconds) else {
            throw WarehouseError.invalid("this store has no presigned URLs")
        }
        try catalog.recordUploadPart(session: session.id, position: file.position, part: UploadSessionRow.Part(
            number: number, size: UInt64(range.count), sha256: digest, storeNumber: storeNumber, etag: nil,
            receivedAt: Timestamps.now()))
        return (url, Timestamps.string(from: Date().addingTimeInterval(TimeInterval(presignSeconds))), UInt64(range.count))
    }

    // MARK: - Complete

    /// Joins every file's parts, checks and inspects each file, and commits the version.
    public func complete(_ session: UploadSessionRow) throws -> ModelVersionRecord {
        try requireOpen(session)
        guard try catalog.transitionUploadSession(session.id, from: ["open"], to: "completing") else {
            throw Self.closed(try catalog.uploadSession(id: session.id) ?? session)
        }
        // Re-read: parts may have arrived between the caller's read and the transition.
        var current = try catalog.uploadSession(id: session.id) ?? session
        var joined = false
        do {
            if current.presigned { current = try confirmPresignedParts(current) }
            let missing = Self.missingParts(current)
            guard missing.isEmpty else {
                throw WarehouseError.conflict("upload session \(current.id) is missing parts: "
                    + missing.map { "\(Identifiers.quoted($0.path)) \(Self.describe($0.numbers))" }.joined(separator: "; "))
            }
            let (fields, primaryRequested) = try Self.decodeRequest(current.request)
            var analyses: [(path: String, analysis: FileAnalysis)] = []
            var files: [ModelFile] = []
            var checks: [CheckedFile] = []
            // Local parts can be checked before they are joined (a wrong whole-file hash
            // leaves the session open); S3 parts are checked as the joined object is read.
            for file in current.files {
                if let uploadID = file.uploadID, let path = store.partedUploadPath(uploadID: uploadID) {
                    checks.append(try checkLocal(file, path: path, partSize: current.partSize))
                }
            }
            joined = true
            for file in current.files {
                let key = ObjectKeys.file(user: current.userID, model: current.modelID, version: current.version, path: file.path)
                var check = checks.first { $0.position == file.position }
                if let uploadID = file.uploadID {
                    let parts = file.parts.map { StoredPart(number: $0.storeNumber, size: $0.size, etag: $0.etag ?? "") }
                    try store.completePartedUpload(key: key, uploadID: uploadID, parts: parts, size: file.size)
                } else {
                    try store.putData(key: key, data: [])
                }
                if check == nil { check = try checkStored(file, key: key, partSize: current.partSize) }
                guard let check else { continue }
                analyses.append((file.path, check.analysis))
                files.append(ModelFile(filename: FilePaths.baseName(file.path), filePath: file.path, fileSize: file.size,
                                       fileType: FilePaths.fileExtension(file.path), fileHash: check.sha256,
                                       contentType: FileKinds.contentType(forPath: file.path), isPrimary: false,
                                       format: check.analysis.format))
            }
            let sizes = Dictionary(uniqueKeysWithValues: current.files.map { ($0.path, $0.size) })
            let primary = try ModelService.primaryPath(requested: primaryRequested, sizes: sizes)
            var record = fields.makeRecord(version: current.version,
                                           framework: FileKinds.framework(forFolder: Array(sizes.keys), primary: primary),
                                           createdAt: current.createdAt)
            Detection.apply(VersionAnalysis(files: analyses, primary: primary), to: &record, given: fields.framework)
            let transaction = try transaction(of: current)
            for file in files { transaction.adopt(file) }
            let committed = try transaction.commit(record, primary: primary)
            try catalog.transitionUploadSession(current.id, from: ["completing"], to: "completed", detail: current.version)
            return committed
        } catch {
            if joined {
                // The parts are spent: the session ends, and what it stored goes.
                for file in current.files {
                    try? abortUpload(of: file, user: current.userID, model: current.modelID, version: current.version)
                }
                try? transaction(of: current).abandon()
                _ = try? catalog.transitionUploadSession(current.id, from: ["completing"], to: "failed", detail: "\(error)")
            } else {
                _ = try? catalog.transitionUploadSession(current.id, from: ["completing"], to: "open")
            }
            throw error
        }
    }

    /// The session as a client should see it: a presigned session's parts count once the
    /// bucket lists them with their size, not when their URL was handed out (a client that
    /// died between the two resumes with them missing).
    public func current(_ session: UploadSessionRow) throws -> UploadSessionRow {
        guard session.presigned, session.state == "open" else { return session }
        return try confirmPresignedParts(session, strict: false)
    }

    /// Parts sent to presigned URLs are known to the bucket, not to us: each announced part
    /// must be there with its size (its bytes are hashed once the object is joined). With
    /// `strict`, a part of another size is an error; otherwise it is missing.
    func confirmPresignedParts(_ session: UploadSessionRow, strict: Bool = true) throws -> UploadSessionRow {
        var confirmed = session
        for (index, file) in session.files.enumerated() {
            guard let uploadID = file.uploadID else { continue }
            let key = ObjectKeys.file(user: session.userID, model: session.modelID, version: session.version, path: file.path)
            let stored = Dictionary((try store.listParts(key: key, uploadID: uploadID) ?? []).map { ($0.number, $0) },
                                    uniquingKeysWith: { first, _ in first })
            confirmed.files[index].parts = try file.parts.compactMap { part in
                guard let held = stored[part.storeNumber] else { return nil }
                guard held.size == part.size else {
                    guard strict else { return nil }
                    throw WarehouseError.invalid("part \(part.number) of \(Identifiers.quoted(file.path)) holds \(held.size) bytes in the bucket, expected \(part.size): send it again")
                }
                return UploadSessionRow.Part(number: part.number, size: part.size, sha256: part.sha256, storeNumber: part.storeNumber,
                                             etag: held.etag, receivedAt: part.receivedAt)
            }
        }
        return confirmed
    }

    struct CheckedFile {
        let position: Int
        let sha256: String
        let analysis: FileAnalysis
    }

    /// Hashes a local upload file (each part against its recorded digest, the whole against
    /// the client's) and inspects it in place.
    func checkLocal(_ file: UploadSessionRow.File, path: String, partSize: UInt64) throws -> CheckedFile {
        let reader = try LocalFileReader(path: path)
        let sha256 = try verify(file, partSize: partSize, read: reader.read)
        return CheckedFile(position: file.position, sha256: sha256, analysis: FormatDetector.analyze(path: path, name: file.path))
    }

    /// The same for a joined object read back from the store, once (`ModelService.readInspecting`).
    func checkStored(_ file: UploadSessionRow.File, key: String, partSize: UInt64) throws -> CheckedFile {
        let (sha256, analysis) = try service.readInspecting(key: key, size: file.size, name: file.path) { read in
            try verify(file, partSize: partSize, read: read)
        }
        return CheckedFile(position: file.position, sha256: sha256, analysis: analysis)
    }

    /// Reads a file's bytes through `read`, checking each part's SHA-256 and the size, then
    /// the whole file's SHA-256 against the client's; answers the whole file's digest.
    func verify(_ file: UploadSessionRow.File, partSize: UInt64,
                read: (UnsafeMutableRawBufferPointer) throws -> Int) throws -> String {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        let whole = SHA256()
        var part = SHA256()
        var total: UInt64 = 0
        var partNumber = 1
        let parts = Dictionary(file.parts.map { ($0.number, $0.sha256) }, uniquingKeysWith: { first, _ in first })
        func endPart() throws {
            let digest = Hex.encode(part.finalize())
            if let expected = parts[partNumber], expected != digest {
                throw WarehouseError.invalid("part \(partNumber) of \(Identifiers.quoted(file.path)) has SHA-256 \(digest) in storage, "
                    + "announced \(expected): the session is ended, upload it again")
            }
            part = SHA256()
            partNumber += 1
        }
        while true {
            let wanted = Int(min(UInt64(buffer.count), partSize - total % partSize))
            let count = try read(UnsafeMutableRawBufferPointer(rebasing: buffer[0..<wanted]))
            if count == 0 { break }
            let bytes = UnsafeRawBufferPointer(rebasing: buffer[0..<count])
            whole.update(bytes)
            part.update(bytes)
            total += UInt64(count)
            if total % partSize == 0 { try endPart() }
        }
        if total % partSize != 0 { try endPart() }
        guard total == file.size else {
            throw WarehouseError.storageUnavailable("\(Identifiers.quoted(file.path)) holds \(total) bytes after joining its parts, expected \(file.size)")
        }
        let digest = Hex.encode(whole.finalize())
        if let expected = file.sha256, expected != digest {
            throw WarehouseError.invalid("\(Identifiers.quoted(file.path)) has SHA-256 \(digest), the session announced \(expected)")
        }
        return digest
    }

    // MARK: - Abort and expire

    public func abort(_ session: UploadSessionRow) throws {
        guard session.state == "open", try catalog.transitionUploadSession(session.id, from: ["open"], to: "aborted") else {
            throw Self.closed(try catalog.uploadSession(id: session.id) ?? session)
        }
        try release(session)
    }

    /// Ends a session whose time is up and removes what it left.
    func expire(_ session: UploadSessionRow) throws {
        guard try catalog.transitionUploadSession(session.id, from: ["open"], to: "expired") else { return }
        try release(session)
    }

    /// Removes a finished session's parted uploads, objects and reserved version.
    func release(_ session: UploadSessionRow) throws {
        for file in session.files {
            try abortUpload(of: file, user: session.userID, model: session.modelID, version: session.version)
        }
        try transaction(of: session).abandon()
    }

    /// The version transaction the session reserved at its start.
    func transaction(of session: UploadSessionRow) throws -> VersionTransaction {
        guard let versionID = session.versionID else {
            throw WarehouseError.conflict("the version upload session \(session.id) reserved is gone")
        }
        return service.resumeVersion(user: session.userID, model: session.modelID,
                                     pending: PendingVersion(id: versionID, version: session.version))
    }

    func abortUpload(of file: UploadSessionRow.File, user: String, model: String, version: String) throws {
        guard let uploadID = file.uploadID else { return }
        try store.abortPartedUpload(key: ObjectKeys.file(user: user, model: model, version: version, path: file.path), uploadID: uploadID)
    }

    /// Expires every open session past its time; answers what it did, for the log.
    @discardableResult
    public func expireSessions() throws -> [String] {
        var actions: [String] = []
        for session in try catalog.uploadSessions(states: ["open"], expiredBy: Timestamps.now()) {
            try expire(session)
            actions.append("expired upload session \(session.id) (\(session.userID)/\(session.modelID) \(session.version))")
        }
        try catalog.pruneUploadSessions(finishedBefore: Timestamps.string(from: Date().addingTimeInterval(-7 * 86_400)))
        return actions
    }

    /// Startup: sessions caught completing have lost their parts (the commit never finished),
    /// so they fail; open ones past their time expire; parted uploads no open session owns are
    /// removed from the store. Runs before the pending versions are recovered.
    public func recover() throws -> [String] {
        var actions: [String] = []
        for session in try catalog.uploadSessions(states: ["completing"]) {
            for file in session.files {
                try? abortUpload(of: file, user: session.userID, model: session.modelID, version: session.version)
            }
            try catalog.transitionUploadSession(session.id, from: ["completing"], to: "failed",
                                                detail: "the service stopped while completing it; upload again")
            actions.append("failed upload session \(session.id), interrupted while completing")
        }
        actions += try expireSessions()
        actions += try removeUnownedUploads(inFlight: [])
        return actions
    }

    /// `gc`: expires sessions past their time and removes parted uploads nobody owns, then
    /// collects the objects and manifests no version references.
    /// With replicas sharing the bucket it runs under the `gc` lease (a 409 while another
    /// replica collects), after reading the bucket's manifests, and also trims the change log.
    public func collectGarbage(dryRun: Bool) throws -> ModelService.GarbageReport {
        try service.replication.exclusively("gc", prepare: { _ = try service.reindex() }) {
            var report = try service.collectGarbage(dryRun: dryRun)
            if !dryRun { report.compactedChanges = try service.replication.compactLog() }
            let inFlight = try catalog.allVersions().filter { $0.state == "pending" }.map {
                ObjectKeys.versionPrefix(user: $0.user, model: $0.model, version: $0.version)
            }
            let staleLargeFiles = try staleHubLargeFiles()
            if dryRun {
                report.expiredSessions = try catalog.uploadSessions(states: ["open"], expiredBy: Timestamps.now()).map(\.id)
                report.abandonedUploads = try unownedUploads(inFlight: inFlight).map(Self.describe) + staleLargeFiles
            } else {
                try store.delete(keys: staleLargeFiles)
                report.expiredSessions = try expireSessions()
                // Versions of sessions just expired are gone from `inFlight` only after expiry.
                let stillInFlight = try catalog.allVersions().filter { $0.state == "pending" }.map {
                    ObjectKeys.versionPrefix(user: $0.user, model: $0.model, version: $0.version)
                }
                report.abandonedUploads = try removeUnownedUploads(inFlight: stillInFlight) + staleLargeFiles.map { "removed \($0)" }
            }
            return report
        }
    }

    /// Files uploaded through the Hub's LFS API longer than a session's lifetime ago that no
    /// commit took (a commit removes the ones it copies), and what MLflow clients staged for
    /// logged models and runs that long ago.
    func staleHubLargeFiles() throws -> [String] {
        let oldest = Int64(Date().timeIntervalSince1970) - Int64(lifetimeSeconds)
        let hub = try store.list(prefix: ObjectKeys.hubLargeFiles).compactMap { object -> String? in
            guard case .hubLargeFile(_, _, _, let created, _)? = ObjectKeys.parse(object.key), created > oldest else { return object.key }
            return nil
        }
        let mlflow = try store.list(prefix: ObjectKeys.mlflowStaging).compactMap { object -> String? in
            guard case .mlflowStaged(_, _, let created)? = ObjectKeys.parse(object.key), created > oldest else { return object.key }
            return nil
        }
        return hub + mlflow
    }

    func unownedUploads(inFlight: [String]) throws -> [PendingPartedUpload] {
        // Other live replicas' uploads are theirs, whatever this catalog knows.
        let inFlight = inFlight + (try service.claimedElsewhere())
        let owned = Set(try catalog.uploadSessions(states: ["open", "completing"]).flatMap { $0.files.compactMap(\.uploadID) })
        let oldest = Int64(Date().timeIntervalSince1970) - Int64(lifetimeSeconds)
        return try store.pendingPartedUploads().filter { upload in
            guard !owned.contains(upload.uploadID) else { return false }
            // A Hub LFS upload in its lifetime is in flight (no session records it).
            if let key = upload.key, case .hubLargeFile(_, _, _, let created, _)? = ObjectKeys.parse(key), created > oldest { return false }
            if let key = upload.key, case .mlflowStaged(_, _, let created)? = ObjectKeys.parse(key), created > oldest { return false }
            if let key = upload.key, inFlight.contains(where: { key.hasPrefix($0) }) { return false }
            return true
        }
    }

    static func describe(_ upload: PendingPartedUpload) -> String {
        "parted upload \(upload.uploadID)" + (upload.key.map { " of \($0)" } ?? "")
    }

    /// Aborts parted uploads in the store that no open session owns, except those under
    /// `inFlight` prefixes (versions being uploaded right now by one-request uploads).
    @discardableResult
    public func removeUnownedUploads(inFlight: [String]) throws -> [String] {
        try unownedUploads(inFlight: inFlight).map { upload in
            try store.abortPartedUpload(key: upload.key ?? "", uploadID: upload.uploadID)
            return "removed " + Self.describe(upload)
        }
    }
}

/// One part arriving: bytes are hashed and counted on their way to the store's writer; at the
/// end the part is stored and recorded only if its size and SHA-256 are what was announced.
/// Used from the request's thread.
public final class PartReceiver {
    let sessions: UploadSessions
    let session: String
    public let file: UploadSessionRow.File
    let number: Int
    let storeNumber: Int
    let length: UInt64
    let sha256: String
    private let writer: any PartWriter
    private let hasher = SHA256()
    private var received: UInt64 = 0
    private var finished = false

    init(sessions: UploadSessions, session: String, file: UploadSessionRow.File, number: Int, storeNumber: Int, length: UInt64,
         sha256: String, writer: any PartWriter) {
        self.sessions = sessions
        self.session = session
        self.file = file
        self.number = number
        self.storeNumber = storeNumber
        self.length = length
        self.sha256 = sha256
        self.writer = writer
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard received + UInt64(bytes.count) <= length else {
            throw WarehouseError.invalid("part \(number) of \(Identifiers.quoted(file.path)) is larger than its \(length) bytes")
        }
        hasher.update(bytes)
        received += UInt64(bytes.count)
        do {
            try writer.write(bytes)
        } catch is PartReplacementRefused {
            finished = true
            throw try sessions.restart(session: session, file: file)
        }
    }

    /// The request ended early or was refused: nothing of this attempt counts.
    public func abandon() {
        guard !finished else { return }
        finished = true
        writer.abort()
    }

    /// Every byte arrived: checks and stores the part, or refuses it (the session stays open;
    /// an earlier copy of the part, overwritten by this attempt, is forgotten).
    public func finish() throws -> UploadSessionRow.Part {
        guard !finished else { throw WarehouseError.invalid("the part was already handled") }
        finished = true
        let digest = Hex.encode(hasher.finalize())
        guard received == length, digest == sha256 else {
            writer.abort()
            try? sessions.catalog.removeUploadPart(session: session, position: file.position, number: number)
            throw WarehouseError.invalid(received != length
                ? "part \(number) of \(Identifiers.quoted(file.path)) ended after \(received) of its \(length) bytes"
                : "part \(number) of \(Identifiers.quoted(file.path)) has SHA-256 \(digest), the request announced \(sha256): the part is refused, send it again")
        }
        let etag: String
        do {
            etag = try writer.commit()
        } catch is PartReplacementRefused {
            throw try sessions.restart(session: session, file: file)
        }
        let part = UploadSessionRow.Part(number: number, size: length, sha256: digest, storeNumber: storeNumber, etag: etag,
                                         receivedAt: Timestamps.now())
        try sessions.catalog.recordUploadPart(session: session, position: file.position, part: part)
        return part
    }
}

/// Sequential reads of a local file.
final class LocalFileReader {
    private let descriptor: Int32

    init(path: String) throws {
        descriptor = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw WarehouseError.storageUnavailable("cannot open \(path): \(String(cString: strerror(errno)))")
        }
        _ = posix_fadvise(descriptor, 0, 0, POSIX_FADV_SEQUENTIAL)
    }

    deinit { close(descriptor) }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while true {
            let count = Glibc.read(descriptor, buffer.baseAddress, buffer.count)
            if count < 0, errno == EINTR { continue }
            guard count >= 0 else { throw WarehouseError.storageUnavailable("reading an upload failed: \(String(cString: strerror(errno)))") }
            return count
        }
    }
}
