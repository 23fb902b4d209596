import Foundation
import WarehouseCore
import WarehouseHTTPServer
import WarehouseService

/// `/ai-models/upload/sessions`: resumable uploads, part by part (see the README).
struct UploadSessionRoutes {
    let sessions: UploadSessions
    let access: AccessControl

    static let prefix = "/ai-models/upload/sessions"

    var definitions: [RouteDefinition] {
        let sessions = self.sessions
        let access = self.access
        return [
            RouteDefinition("POST", Self.prefix, body: .buffered(maxBytes: 4 << 20)) { request in
                let created = try UploadSessionRequest(json: try JSON.object(from: request.body.bytes))
                try request.principal().authorize(user: created.fields.userID)
                return JSON.response(UploadSessionDTO(try sessions.create(created), sessions: sessions), status: 201)
            },
            RouteDefinition("GET", Self.prefix + "/{session_id}") { request in
                let session = try Self.session(request.parameter("session_id"), principal: try request.principal(), sessions)
                return JSON.response(UploadSessionDTO(try sessions.current(session), sessions: sessions))
            },
            RouteDefinition("PUT", Self.prefix + "/{session_id}/parts/{part_number}", body: .streamed({ head in
                // The part goes to the store as it arrives: everything is checked from the head first.
                let segments = head.path.split(separator: "/").map(String.init)
                guard segments.count == 6 else { throw WarehouseError.notFound("no such part") }
                let session = try Self.session(segments[3], principal: try head.principal(), sessions)
                let receiver = try sessions.receivePart(session: session, path: head.query("file"), number: try Self.partNumber(segments[5]),
                                                        length: head.contentLength, sha256: head.headers["x-part-sha256"])
                return PartSink(receiver)
            })) { request in
                guard case .streamed(let sink) = request.body, let part = sink as? PartSink else {
                    throw WarehouseError.invalid("expected the part's bytes as the request body")
                }
                let stored = try part.receiver.finish()
                return JSON.response(UploadPartDTO(file: part.receiver.file.path, part: stored))
            },
            RouteDefinition("GET", Self.prefix + "/{session_id}/parts/{part_number}/url") { request in
                let session = try Self.session(request.parameter("session_id"), principal: try request.principal(), sessions)
                let signed = try sessions.presignPart(session: session, path: request.nonEmptyQuery("file"),
                                                      number: try Self.partNumber(request.parameter("part_number")),
                                                      sha256: request.nonEmptyQuery("sha256"))
                return JSON.response(PresignedPartDTO(url: signed.url, expiresAt: signed.expiresAt, size: signed.size))
            },
            RouteDefinition("POST", Self.prefix + "/{session_id}/complete") { request in
                let session = try Self.session(request.parameter("session_id"), principal: try request.principal(), sessions)
                return JSON.response(try sessions.complete(session))
            },
            RouteDefinition("DELETE", Self.prefix + "/{session_id}") { request in
                let session = try Self.session(request.parameter("session_id"), principal: try request.principal(), sessions)
                try sessions.abort(session)
                return JSON.response(["session_id": JSONValue.string(session.id), "aborted": .bool(true)])
            },
        ]
    }

    static func session(_ id: String, principal: Principal, _ sessions: UploadSessions) throws -> UploadSessionRow {
        try sessions.session(id) { user in try principal.authorize(user: user) }
    }

    static func partNumber(_ text: String) throws -> Int {
        guard let number = Int(text), number >= 1, number <= 10_000 else {
            throw WarehouseError.invalid("part number \(Identifiers.quoted(text)) must be an integer from 1 to 10000")
        }
        return number
    }
}

/// Feeds a request body into a part receiver.
final class PartSink: HTTPBodySink {
    let receiver: PartReceiver
    init(_ receiver: PartReceiver) { self.receiver = receiver }
    func write(_ bytes: UnsafeRawBufferPointer) throws { try receiver.write(bytes) }
    func abandon() { receiver.abandon() }
}

/// A session as clients see it: what it will create, and for each file which parts arrived
/// and which are missing (what a resuming client sends).
struct UploadSessionDTO: Encodable {
    struct File: Encodable {
        let path: String
        let size: UInt64
        let sha256: String?
        let partCount: Int
        let receivedParts: [Int]
        let missingParts: [Int]
        let receivedBytes: UInt64

        enum CodingKeys: String, CodingKey {
            case path, size, sha256, partCount = "part_count", receivedParts = "received_parts"
            case missingParts = "missing_parts", receivedBytes = "received_bytes"
        }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(path, forKey: .path)
            try c.encode(size, forKey: .size)
            try c.encode(sha256, forKey: .sha256)
            try c.encode(partCount, forKey: .partCount)
            try c.encode(receivedParts, forKey: .receivedParts)
            try c.encode(missingParts, forKey: .missingParts)
            try c.encode(receivedBytes, forKey: .receivedBytes)
        }
    }

    let session: UploadSessionRow
    let files: [File]
    let partURLTemplate: String

    init(_ session: UploadSessionRow, sessions: UploadSessions) {
        self.session = session
        let missing = Dictionary(UploadSessions.missingParts(session).map { ($0.path, $0.numbers) }, uniquingKeysWith: { a, _ in a })
        files = session.files.map { file in
            File(path: file.path, size: file.size, sha256: file.sha256,
                 partCount: UploadSessions.partCount(size: file.size, partSize: session.partSize),
                 receivedParts: file.parts.map(\.number), missingParts: missing[file.path] ?? [],
                 receivedBytes: file.parts.filter { $0.etag != nil }.reduce(0) { $0 + $1.size })
        }
        partURLTemplate = UploadSessionRoutes.prefix + "/\(session.id)/parts/{part_number}?file={path}"
    }

    enum CodingKeys: String, CodingKey {
        case sessionID = "session_id", userID = "user_id", modelID = "model_id", version, state, partSize = "part_size"
        case presigned, createdAt = "created_at", expiresAt = "expires_at", detail, files, partURL = "part_url"
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(session.id, forKey: .sessionID)
        try c.encode(session.userID, forKey: .userID)
        try c.encode(session.modelID, forKey: .modelID)
        try c.encode(session.version, forKey: .version)
        try c.encode(session.state, forKey: .state)
        try c.encode(session.partSize, forKey: .partSize)
        try c.encode(session.presigned, forKey: .presigned)
        try c.encode(session.createdAt, forKey: .createdAt)
        try c.encode(session.expiresAt, forKey: .expiresAt)
        try c.encode(session.detail, forKey: .detail)
        try c.encode(files, forKey: .files)
        try c.encode(partURLTemplate, forKey: .partURL)
    }
}

struct UploadPartDTO: Encodable {
    let file: String
    let part: UploadSessionRow.Part

    enum CodingKeys: String, CodingKey { case file, partNumber = "part_number", size, sha256, etag }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(file, forKey: .file)
        try c.encode(part.number, forKey: .partNumber)
        try c.encode(part.size, forKey: .size)
        try c.encode(part.sha256, forKey: .sha256)
        try c.encode(part.etag, forKey: .etag)
    }
}

struct PresignedPartDTO: Encodable {
    let url: String
    let expiresAt: String
    let size: UInt64

    enum CodingKeys: String, CodingKey { case url, method, expiresAt = "expires_at", size }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(url, forKey: .url)
        try c.encode("PUT", forKey: .method)
        try c.encode(expiresAt, forKey: .expiresAt)
        try c.encode(size, forKey: .size)
    }
}
