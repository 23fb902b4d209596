import Foundation
import WarehouseAPI
import WarehouseCore
import WarehouseCrypto
import WarehouseFormats
import WarehouseHTTPServer
import WarehouseService

/// The Git LFS batch API as the Hub's clients use it for files above the inline limit:
/// objects are uploaded by SHA-256 under `uploads/hub-lfs/{user}/{model}/` before the commit
/// that names them. On S3 the client PUTs to presigned bucket URLs (one, or one per part with
/// a completion the service signs), so the bytes never pass through the service; on a local
/// store it PUTs to a signed URL of the service, hashed as it arrives. The commit checks each
/// object's SHA-256 (reading it back once on S3) and copies it into the version server-side.
struct HubLargeFiles {
    let models: ModelService
    let access: AccessControl
    let spoolDirectory: String
    /// Part size of multipart transfers (S3); smaller objects go in one PUT.
    let partSize: UInt64
    let urlLifetimeSeconds = 3600

    static let uploadPath = "/lfs/upload/"
    static let completePath = "/lfs/complete/"

    func stagedKey(_ repo: HubRepo, _ sha256: String, created: Int64) -> String {
        ObjectKeys.hubLargeFile(user: repo.user, model: repo.model, sha256: sha256, created: created)
    }

    /// The whole uploads of an object for a repo, newest first (a client may have uploaded
    /// it more than once; parts in flight are not listed until they are joined).
    func staged(_ repo: HubRepo, _ sha256: String, size: UInt64?) throws -> [ObjectInfo] {
        try models.store.list(prefix: ObjectKeys.hubLargeFilePrefix(user: repo.user, model: repo.model, sha256: sha256))
            .filter { object in
                guard case .hubLargeFile(_, _, _, _, false)? = ObjectKeys.parse(object.key) else { return false }
                return size == nil || object.size == size
            }
            .sorted { $0.key > $1.key }
    }

    /// Whether the object is the one checked before (same size and ETag as then).
    func wasChecked(_ object: ObjectInfo, sha256: String) -> Bool {
        models.checkedSHA256(of: object, at: ObjectKeys.hubLargeFileCheck(object.key)) == sha256
    }

    func recordCheck(_ object: ObjectInfo, sha256: String) throws {
        try models.recordCheck(of: object, sha256: sha256, at: ObjectKeys.hubLargeFileCheck(object.key))
    }

    /// Reads an uploaded object once and checks that it is the announced one: the check is
    /// recorded beside it, and an object of other bytes is removed (400).
    @discardableResult
    func check(_ object: ObjectInfo, repo: HubRepo, sha256: String, path: String) throws -> FileAnalysis {
        let checked = try models.hashStored(key: object.key, size: object.size, name: path)
        guard checked.sha256 == sha256, checked.size == object.size else {
            try? models.store.delete(keys: [object.key, ObjectKeys.hubLargeFileCheck(object.key)])
            throw WarehouseError.invalid("LFS object \(sha256) of \(repo) holds other bytes (sha256 \(checked.sha256)): "
                + "it was removed; upload it again")
        }
        try recordCheck(object, sha256: sha256)
        return checked.analysis
    }

    // MARK: - Batch

    /// `POST /{repo}.git/info/lfs/objects/batch`.
    func batch(_ repo: HubRepo, body: [UInt8], endpoint: String) throws -> HTTPResponse {
        let object = try JSON.object(from: body)
        guard object["operation"]?.stringValue == "upload" else {
            throw WarehouseError.invalid("only the LFS 'upload' operation is served; files download through /resolve")
        }
        guard case .array(let requested)? = object["objects"] else { throw WarehouseError.invalid("'objects' must be a list of {oid, size}") }
        let known = Set(try models.catalog.versions(user: repo.user, model: repo.model).flatMap { $0.files.map(\.fileHash) })
        var answers: [JSONValue] = []
        for item in requested {
            guard case .object(let entry) = item, let oid = entry["oid"]?.stringValue.map({ $0.lowercased() }), Self.isSHA256(oid),
                  let sizeValue = entry["size"]?.doubleValue, sizeValue >= 0 else {
                throw WarehouseError.invalid("each LFS object needs a sha256 'oid' (64 hexadecimal digits) and a 'size'")
            }
            let size = UInt64(sizeValue)
            var answer: [String: JSONValue] = ["oid": .string(oid), "size": .int(Int64(size))]
            if !known.contains(oid), try staged(repo, oid, size: size).isEmpty {
                answer["actions"] = .object(try actions(repo, oid: oid, size: size, endpoint: endpoint))
            }
            answers.append(.object(answer))
        }
        var response = JSON.response(JSONValue.object(["transfer": .string("basic"), "objects": .array(answers), "hash_algo": .string("sha256")]))
        response.headers = HTTPHeaders([("Content-Type", "application/vnd.git-lfs+json")])
        return response
    }

    private func actions(_ repo: HubRepo, oid: String, size: UInt64, endpoint: String) throws -> [String: JSONValue] {
        let now = Int64(Date().timeIntervalSince1970)
        let key = stagedKey(repo, oid, created: now)
        let verify: JSONValue = .object(["href": .string("\(endpoint)/\(repo).git/info/lfs/verify"), "header": .object([:])])
        let expiry = Int(now) + urlLifetimeSeconds
        if let direct = models.store.presignedUploadURL(key: key, expires: urlLifetimeSeconds) {
            guard size > partSize else {
                return ["upload": .object(["href": .string(direct), "header": .object([:])]), "verify": verify]
            }
            let uploadID = try models.store.createPartedUpload(key: key, size: size)
            let count = Int((size + partSize - 1) / partSize)
            var header: [String: JSONValue] = ["chunk_size": .string(String(partSize))]
            for number in 1...count {
                guard let url = models.store.presignedPartURL(key: key, uploadID: uploadID, number: number, expires: urlLifetimeSeconds) else {
                    throw WarehouseError.storageUnavailable("the store gave no presigned part URL")
                }
                header[String(number)] = .string(url)
            }
            let ticket = sign([repo.user, repo.model, oid, String(size), String(expiry), String(now), uploadID])
            return ["upload": .object(["href": .string(endpoint + Self.completePath + ticket), "header": .object(header)]), "verify": verify]
        }
        let ticket = sign([repo.user, repo.model, oid, String(size), String(expiry), String(now)])
        return ["upload": .object(["href": .string(endpoint + Self.uploadPath + ticket), "header": .object([:])]), "verify": verify]
    }

    // MARK: - Signed tickets

    /// A URL segment that says what may be uploaded, until when, signed by the service.
    func sign(_ fields: [String]) -> String {
        let payload = Base64URL.encode(Array(fields.joined(separator: "\n").utf8))
        return payload + "." + access.signature(of: payload)
    }

    /// The fields of a ticket, if its signature holds and it has not expired.
    func open(_ ticket: String) throws -> Ticket {
        let parts = ticket.split(separator: ".", maxSplits: 1).map(String.init)
        guard parts.count == 2, access.isSigned(parts[0], signature: parts[1]),
              let decoded = Base64URL.decode(parts[0]) else {
            throw WarehouseError.unauthorized("this upload URL is not one the warehouse signed")
        }
        let fields = String(decoding: decoded, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard fields.count >= 6, let size = UInt64(fields[3]), let expiry = Int(fields[4]), let created = Int64(fields[5]) else {
            throw WarehouseError.unauthorized("this upload URL is malformed")
        }
        guard expiry >= Int(Date().timeIntervalSince1970) else {
            throw WarehouseError.unauthorized("this upload URL expired; ask the LFS batch API for a new one")
        }
        return Ticket(repo: HubRepo(user: fields[0], model: fields[1]), oid: fields[2], size: size, created: created,
                      uploadID: fields.count > 6 ? fields[6] : nil)
    }

    /// What a signed upload URL allows: one object of a repo, at the key made when it was granted.
    struct Ticket {
        let repo: HubRepo
        let oid: String
        let size: UInt64
        let created: Int64
        let uploadID: String?
    }

    // MARK: - Transfers

    /// `PUT /lfs/upload/{ticket}` (local store): the body, hashed as it is spooled, is stored
    /// only if it is the announced object.
    func uploadSink(_ head: HTTPRequestHead) throws -> any HTTPBodySink {
        let ticket = try open(String(head.path.dropFirst(HubRoutes.prefix.count + Self.uploadPath.count)))
        if let length = head.contentLength, length != ticket.size {
            throw WarehouseError.invalid("the upload has \(length) bytes; the LFS batch announced \(ticket.size)")
        }
        return LargeFileSink(spool: try SpoolFile(directory: spoolDirectory), ticket: ticket)
    }

    func finishUpload(_ sink: any HTTPBodySink) throws -> HTTPResponse {
        guard let sink = sink as? LargeFileSink else { throw WarehouseError.invalid("no upload body") }
        let sha256 = sink.spool.finish()
        guard sink.spool.size == sink.ticket.size, sha256 == sink.ticket.oid else {
            throw WarehouseError.invalid("the uploaded bytes (\(sink.spool.size) bytes, sha256 \(sha256)) are not the object "
                + "the LFS batch announced (\(sink.ticket.size) bytes, sha256 \(sink.ticket.oid))")
        }
        let key = stagedKey(sink.ticket.repo, sha256, created: sink.ticket.created)
        try models.store.putFile(key: key, path: sink.spool.path, size: sink.spool.size, sha256: sha256)
        // Hashed as it arrived: checked already.
        if let stored = try models.store.head(key: key) { try recordCheck(stored, sha256: sha256) }
        return HTTPResponse(status: 200)
    }

    /// `POST /lfs/complete/{ticket}` `{"oid", "parts": [{"partNumber", "etag"}]}`: joins the
    /// parts the client PUT to the bucket.
    func complete(ticketText: String, body: [UInt8]) throws -> HTTPResponse {
        let ticket = try open(ticketText)
        guard let uploadID = ticket.uploadID else { throw WarehouseError.invalid("this URL completes no multipart upload") }
        let object = try JSON.object(from: body)
        guard object["oid"]?.stringValue?.lowercased() == ticket.oid, case .array(let listed)? = object["parts"] else {
            throw WarehouseError.invalid("the completion needs the 'oid' of the upload and its 'parts'")
        }
        let count = Int((ticket.size + partSize - 1) / partSize)
        let parts = try listed.map { item -> StoredPart in
            guard case .object(let part) = item, let number = part["partNumber"]?.doubleValue.map(Int.init), (1...count).contains(number),
                  let etag = part["etag"]?.stringValue else {
                throw WarehouseError.invalid("each part needs a 'partNumber' from 1 to \(count) and its 'etag'")
            }
            let size = number < count ? partSize : ticket.size - partSize * UInt64(count - 1)
            return StoredPart(number: number, size: size, etag: etag)
        }.sorted { $0.number < $1.number }
        guard parts.map(\.number) == Array(1...count) else {
            throw WarehouseError.invalid("the completion must list parts 1 to \(count) once each")
        }
        try models.store.completePartedUpload(key: stagedKey(ticket.repo, ticket.oid, created: ticket.created), uploadID: uploadID,
                                              parts: parts, size: ticket.size)
        return HTTPResponse(status: 200)
    }

    /// `POST /{repo}.git/info/lfs/verify` `{"oid", "size"}`: the object is stored whole and
    /// its bytes hash to its oid (read back once, here: the client verifies each file as soon
    /// as it is up, several at a time, so the commit that follows need not).
    func verify(_ repo: HubRepo, body: [UInt8]) throws -> HTTPResponse {
        let object = try JSON.object(from: body)
        guard let oid = object["oid"]?.stringValue?.lowercased(), Self.isSHA256(oid), let size = object["size"]?.doubleValue else {
            throw WarehouseError.invalid("verify needs the 'oid' and 'size' of the object")
        }
        guard let stored = try staged(repo, oid, size: UInt64(size)).first else {
            throw WarehouseError.notFound("LFS object \(oid) of \(repo) was not uploaded (or not whole)")
        }
        if !wasChecked(stored, sha256: oid) { try check(stored, repo: repo, sha256: oid, path: oid) }
        return JSON.response(JSONValue.object(["oid": .string(oid), "size": .int(Int64(size))]))
    }

    // MARK: - Commits

    /// The stored file an `lfsFile` line names: content the repo has already (copied from its
    /// version), else an uploaded object, whose SHA-256 is checked before it is used.
    func storedFile(_ repo: HubRepo, path: String, sha256: String, size: UInt64?) throws -> StoredFile {
        for record in try models.catalog.versions(user: repo.user, model: repo.model).reversed() {
            if let file = record.files.first(where: { $0.fileHash == sha256 }) {
                return StoredFile(path: path, key: ObjectKeys.file(user: repo.user, model: repo.model, version: record.version, path: file.filePath),
                                  size: file.fileSize, sha256: sha256,
                                  analysis: FileAnalysis(format: file.format ?? FilePaths.fileExtension(file.filePath)))
            }
        }
        guard let stored = try staged(repo, sha256, size: nil).first(where: { size == nil || $0.size == size }) else {
            throw WarehouseError.invalid("file \(Identifiers.quoted(path)) names LFS object \(sha256)" + (size.map { " of \($0) bytes" } ?? "")
                + ", which was not uploaded to \(repo): upload it through the LFS batch API first")
        }
        let analysis = wasChecked(stored, sha256: sha256)
            ? try models.inspectStored(key: stored.key, size: stored.size, name: path)
            : try check(stored, repo: repo, sha256: sha256, path: path)
        return StoredFile(path: path, key: stored.key, size: stored.size, sha256: sha256, analysis: analysis)
    }

    /// After a commit: the uploaded objects it copied are not needed any more (what a failed
    /// removal leaves, gc removes once it is old).
    func committed(_ repo: HubRepo, _ files: [StoredFile]) {
        let staged = files.map(\.key).filter { $0.hasPrefix(ObjectKeys.hubLargeFiles) }
        if !staged.isEmpty { try? models.store.delete(keys: Array(Set(staged + staged.map(ObjectKeys.hubLargeFileCheck)))) }
    }

    static func isSHA256(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }
}

/// A local LFS upload's body, spooled and hashed.
final class LargeFileSink: HTTPBodySink {
    let spool: SpoolFile
    let ticket: HubLargeFiles.Ticket

    init(spool: SpoolFile, ticket: HubLargeFiles.Ticket) {
        self.spool = spool
        self.ticket = ticket
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard spool.size + UInt64(bytes.count) <= ticket.size else {
            throw WarehouseError.invalid("the upload is longer than the \(ticket.size) bytes the LFS batch announced")
        }
        try spool.write(bytes)
    }

    func abandon() {}
}
