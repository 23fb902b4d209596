import Foundation
import WarehouseAPI
import WarehouseCore
import WarehouseHTTPServer
import WarehouseService

/// Settings of the Hub surface.
public struct HubSettings: Sendable {
    /// Files up to this size are `regular` (inline in the commit), larger ones `lfs`.
    public var regularUploadMaxBytes: UInt64 = 1 << 30
    /// Part size of LFS multipart uploads to a bucket.
    public var largeFilePartSize: UInt64 = 64 << 20
    /// `/resolve` GETs answer with a presigned redirect to the bucket (S3 only).
    public var redirectDownloads = false
    public var spoolDirectory: String

    public init(spoolDirectory: String) {
        self.spoolDirectory = spoolDirectory
    }
}

/// The Hugging Face Hub's HTTP protocol under `/hf`, as an adapter over the services: the
/// stock `huggingface_hub` and `transformers` clients work with `HF_ENDPOINT=…/hf`.
///
/// Paths carry repo ids, revisions (`refs/heads/x`) and file paths with their own slashes,
/// so requests are matched here segment by segment rather than by fixed route patterns.
/// Every error carries `X-Error-Code` / `X-Error-Message`, which is how the client tells a
/// missing repo from a missing revision or file.
public struct HubRoutes: HTTPHandler {
    public static let prefix = "/hf"

    let access: AccessControl
    let revisions: HubRevisions
    let reads: HubReads
    let writes: HubWrites
    let largeFiles: HubLargeFiles
    let settings: HubSettings
    let logger: Logger

    public init(models: ModelService, lifecycle: ModelLifecycle, access: AccessControl, check: StoredObjectCheck,
                settings: HubSettings, logger: Logger) {
        self.access = access
        self.settings = settings
        self.logger = logger
        revisions = HubRevisions(models: models)
        reads = HubReads(models: models, revisions: revisions, check: check, redirectDownloads: settings.redirectDownloads)
        largeFiles = HubLargeFiles(models: models, access: access, spoolDirectory: settings.spoolDirectory, partSize: settings.largeFilePartSize)
        writes = HubWrites(models: models, lifecycle: lifecycle, revisions: revisions, largeFiles: largeFiles,
                           regularUploadMaxBytes: settings.regularUploadMaxBytes)
    }

    /// Every operation this surface answers, as (method, pattern): the patterns are what
    /// `/metrics` names requests by, and what the OpenAPI document lists (a test holds them
    /// level). `{revision}` may be `refs/heads/…`; `{path}` spans segments.
    public static let operations: [(method: String, pattern: String)] = {
        let model = "/hf/api/models/{user_id}/{model_id}"
        return [
            ("GET", "/hf/api/agent-harnesses"), ("GET", "/hf/api/whoami-v2"), ("POST", "/hf/api/validate-yaml"),
            ("POST", "/hf/api/repos/create"), ("DELETE", "/hf/api/repos/delete"), ("GET", "/hf/api/models"),
            ("GET", model), ("GET", model + "/revision/{revision}"), ("GET", model + "/tree/{revision}/{path}"),
            ("POST", model + "/paths-info/{revision}"), ("GET", model + "/refs"), ("GET", model + "/commits/{revision}"),
            ("POST", model + "/preupload/{revision}"), ("POST", model + "/commit/{revision}"), ("POST", model + "/tag/{revision}"),
            ("DELETE", model + "/tag/{name}"), ("POST", model + "/branch/{name}"), ("DELETE", model + "/branch/{name}"),
            ("GET", model + "/xet-write-token/{revision}"), ("GET", model + "/xet-read-token/{revision}"),
            ("GET", "/hf/{user_id}/{model_id}/resolve/{revision}/{path}"),
            ("POST", "/hf/{user_id}/{model_id}.git/info/lfs/objects/batch"), ("POST", "/hf/{user_id}/{model_id}.git/info/lfs/verify"),
            ("PUT", "/hf/lfs/upload/{ticket}"), ("POST", "/hf/lfs/complete/{ticket}"),
        ]
    }()

    /// Whether `path` belongs to this surface.
    public static func serves(_ path: String) -> Bool {
        path == prefix || path.hasPrefix(prefix + "/")
    }

    public func plan(for head: HTTPRequestHead) -> HTTPRequestPlan {
        let logger = self.logger
        let segments = head.path.dropFirst(Self.prefix.count).split(separator: "/").map(String.init)
        let (route, pattern, body) = self.route(head.method, segments)
        // Signed upload URLs carry their own credentials; the client sends no token there.
        let open = pattern == "/hf/api/agent-harnesses" || pattern.hasPrefix("/hf/lfs/")
        var principal: Principal?
        if !open {
            do {
                if let authorization = head.headers["authorization"], !authorization.isEmpty {
                    principal = try access.authenticate(authorization: authorization)
                    head.identity.set(principal!)
                }
            } catch {
                return HTTPRequestPlan(body: .none, route: pattern) { _ in
                    HubErrorResponses.response(for: HubError.invalidCredentials, head: head, logger: logger)
                }
            }
        }
        let endpoint = Self.endpoint(head)
        return HTTPRequestPlan(body: body, route: pattern) { received in
            do {
                let request = HTTPRequest(head: head, pathParameters: [:], body: try received.get())
                return try route(Context(request: request, principal: principal, endpoint: endpoint))
            } catch {
                return HubErrorResponses.response(for: error, head: head, logger: logger)
            }
        }
    }

    /// What a handler gets: the request, its caller (nil: no token), and the base URL the
    /// client reaches this surface at (for URLs in answers).
    struct Context {
        let request: HTTPRequest
        let principal: Principal?
        let endpoint: String

        /// The caller; a repo route without a token answers as for a missing repo.
        func caller(_ repo: HubRepo? = nil) throws -> Principal {
            guard let principal else {
                if let repo { throw HubError.repoNotFound(repo.description, anonymous: true) }
                throw HubError(status: 401, code: nil, message: "send your warehouse token: set HF_TOKEN")
            }
            return principal
        }
    }

    /// `http://{Host}/hf`: URLs in answers must name the host the client used.
    static func endpoint(_ head: HTTPRequestHead) -> String {
        let host = head.headers["x-forwarded-host"] ?? head.headers["host"] ?? "127.0.0.1"
        let scheme = head.headers["x-forwarded-proto"] ?? "http"
        return "\(scheme)://\(host)\(prefix)"
    }

    typealias Route = (Context) throws -> HTTPResponse

    /// The handler for a method and path (after `/hf`), its pattern for metrics, and how its
    /// body is received.
    func route(_ method: String, _ path: [String]) -> (Route, String, HTTPBodyKind) {
        let small = HTTPBodyKind.buffered(maxBytes: 16 << 20)
        let (reads, writes, largeFiles) = (self.reads, self.writes, self.largeFiles)
        let isRead = method == "GET" || method == "HEAD"
        func notFound(_ what: String) -> (Route, String, HTTPBodyKind) {
            ({ _ in throw HubError(status: 404, code: .repoNotFound, message: what) }, "/hf/unmatched", .none)
        }
        switch (method, path.first) {
        case ("GET", "api") where path == ["api", "agent-harnesses"]:
            return ({ _ in JSON.response(JSONValue.object(["standardEnvVars": .array([]), "harnesses": .object([:])])) },
                    "/hf/api/agent-harnesses", .none)
        case ("GET", "api") where path == ["api", "whoami-v2"]:
            return ({ context in Self.whoami(try context.caller()) }, "/hf/api/whoami-v2", .none)
        case ("POST", "api") where path == ["api", "validate-yaml"]:
            return ({ _ in JSON.response(JSONValue.object(["errors": .array([]), "warnings": .array([])])) }, "/hf/api/validate-yaml", small)
        case ("POST", "api") where path == ["api", "repos", "create"]:
            return ({ context in try writes.createRepo(body: context.request.body.bytes, endpoint: context.endpoint, principal: try context.caller()) },
                    "/hf/api/repos/create", small)
        case ("DELETE", "api") where path == ["api", "repos", "delete"]:
            return ({ context in try writes.deleteRepo(body: context.request.body.bytes, principal: try context.caller()) },
                    "/hf/api/repos/delete", small)
        case ("GET", "api") where path == ["api", "models"]:
            return ({ context in try reads.list(request: context.request, principal: try context.caller()) }, "/hf/api/models", .none)
        case (_, "api") where path.count >= 4 && path[1] == "models":
            return modelRoute(method, repo: HubRepo(user: path[2], model: path[3]), Array(path.dropFirst(4)))
        case (_, "api") where path.count >= 2 && ["datasets", "spaces", "kernels"].contains(path[1]):
            return notFound("this warehouse keeps model repos only, not \(path[1])")
        case ("PUT", "lfs") where path.count == 3 && path[1] == "upload":
            return ({ context in
                guard case .streamed(let sink) = context.request.body else { throw WarehouseError.invalid("no upload body") }
                return try largeFiles.finishUpload(sink)
            }, "/hf/lfs/upload/{ticket}", .streamed { head in try largeFiles.uploadSink(head) })
        case ("POST", "lfs") where path.count == 3 && path[1] == "complete":
            return ({ context in try largeFiles.complete(ticketText: path[2], body: context.request.body.bytes) }, "/hf/lfs/complete/{ticket}", small)
        case (_, "datasets"), (_, "spaces"):
            return notFound("this warehouse keeps model repos only, not \(path[0])")
        case ("POST", _) where path.count == 6 && path[1].hasSuffix(".git") && Array(path[2...]) == ["info", "lfs", "objects", "batch"]:
            let repo = HubRepo(user: path[0], model: String(path[1].dropLast(4)))
            return ({ context in
                try writes.requireWritable(repo, principal: try context.caller(repo))
                return try largeFiles.batch(repo, body: context.request.body.bytes, endpoint: context.endpoint)
            }, "/hf/{user_id}/{model_id}.git/info/lfs/objects/batch", small)
        case ("POST", _) where path.count == 5 && path[1].hasSuffix(".git") && Array(path[2...]) == ["info", "lfs", "verify"]:
            let repo = HubRepo(user: path[0], model: String(path[1].dropLast(4)))
            return ({ context in
                try writes.requireWritable(repo, principal: try context.caller(repo))
                return try largeFiles.verify(repo, body: context.request.body.bytes)
            }, "/hf/{user_id}/{model_id}.git/info/lfs/verify", small)
        case (_, _) where isRead && path.count >= 5 && path[2] == "resolve":
            let repo = HubRepo(user: path[0], model: path[1])
            let (revision, rest) = Self.revision(Array(path.dropFirst(3)))
            return ({ context in
                try reads.resolve(repo, revision: revision, path: rest.joined(separator: "/"), request: context.request,
                                  principal: try context.caller(repo))
            }, "/hf/{user_id}/{model_id}/resolve/{revision}/{path}", .none)
        default:
            return notFound("no Hub endpoint \(method) /\(path.joined(separator: "/"))")
        }
    }

    /// `/api/models/{user}/{model}/…`
    func modelRoute(_ method: String, repo: HubRepo, _ rest: [String]) -> (Route, String, HTTPBodyKind) {
        let small = HTTPBodyKind.buffered(maxBytes: 16 << 20)
        let (reads, writes) = (self.reads, self.writes)
        let base = "/hf/api/models/{user_id}/{model_id}"
        let isRead = method == "GET" || method == "HEAD"
        let verb = rest.first ?? ""
        let (revision, tail) = Self.revision(Array(rest.dropFirst()))
        switch (method, verb) {
        case (_, "") where isRead:
            return ({ context in try reads.info(repo, revision: "main", principal: try context.caller(repo)) }, base, .none)
        case (_, "revision") where isRead && !revision.isEmpty:
            return ({ context in try reads.info(repo, revision: revision, principal: try context.caller(repo)) }, base + "/revision/{revision}", .none)
        case (_, "tree") where isRead:
            let revision = revision.isEmpty ? "main" : revision
            return ({ context in
                try reads.tree(repo, revision: revision, path: tail.joined(separator: "/"), request: context.request, principal: try context.caller(repo))
            }, base + "/tree/{revision}/{path}", .none)
        case ("POST", "paths-info"):
            return ({ context in
                try reads.pathsInfo(repo, revision: revision.isEmpty ? "main" : revision, body: context.request.body.bytes,
                                    principal: try context.caller(repo))
            }, base + "/paths-info/{revision}", small)
        case (_, "refs") where isRead:
            return ({ context in try reads.refs(repo, request: context.request, principal: try context.caller(repo)) }, base + "/refs", .none)
        case (_, "commits") where isRead:
            return ({ context in try reads.commits(repo, revision: revision.isEmpty ? "main" : revision, principal: try context.caller(repo)) },
                    base + "/commits/{revision}", .none)
        case ("POST", "preupload"):
            return ({ context in
                try writes.preupload(repo, revision: revision.isEmpty ? "main" : revision, body: context.request.body.bytes,
                                     principal: try context.caller(repo))
            }, base + "/preupload/{revision}", small)
        case ("POST", "commit"):
            let spool = settings.spoolDirectory
            return ({ context in
                guard case .streamed(let sink) = context.request.body, let body = sink as? CommitBody else {
                    throw WarehouseError.invalid("the commit has no body")
                }
                return try writes.commit(repo, revision: revision.isEmpty ? "main" : revision, body: body, endpoint: context.endpoint,
                                         principal: try context.caller(repo))
            }, base + "/commit/{revision}", .streamed { head in
                // Refused before the body is read: no token, or another user's repo.
                guard let principal = head.identity.get(Principal.self) else { throw HubError.repoNotFound(repo.description, anonymous: true) }
                try writes.requireWritable(repo, principal: principal)
                return CommitBody(spoolDirectory: spool)
            })
        case ("POST", "tag"):
            return ({ context in
                let body = try JSON.object(from: context.request.body.bytes)
                guard let tag = body["tag"]?.stringValue else { throw WarehouseError.invalid("field 'tag' is required") }
                return try writes.createAlias(repo, name: tag, revision: revision.isEmpty ? "main" : revision, principal: try context.caller(repo))
            }, base + "/tag/{revision}", small)
        case ("POST", "branch"):
            return ({ context in
                let body = context.request.body.bytes.isEmpty ? [:] : try JSON.object(from: context.request.body.bytes)
                return try writes.createAlias(repo, name: revision, revision: body["startingPoint"]?.stringValue ?? "main",
                                              principal: try context.caller(repo))
            }, base + "/branch/{name}", small)
        case ("DELETE", "tag"), ("DELETE", "branch"):
            return ({ context in try writes.deleteAlias(repo, name: revision, principal: try context.caller(repo)) }, base + "/\(verb)/{name}", .none)
        case (_, "xet-write-token"), (_, "xet-read-token"):
            let limit = settings.regularUploadMaxBytes
            return ({ context in
                _ = try context.caller(repo)
                throw HubError(status: 501, code: nil, message: "Xet is not supported by this warehouse: set HF_HUB_DISABLE_XET=1 "
                    + "to upload files above \(limit) bytes through Git LFS")
            }, base + "/\(verb)/{revision}", .none)
        default:
            return ({ _ in throw HubError(status: 404, code: nil, message: "no Hub endpoint \(method) for /api/models/\(repo)/\(rest.joined(separator: "/"))") },
                    "/hf/unmatched", .none)
        }
    }

    /// Splits a revision off the front of path segments: `refs/heads/x` and `refs/tags/x`
    /// take three, any other revision one.
    static func revision(_ segments: [String]) -> (String, [String]) {
        guard let first = segments.first else { return ("", []) }
        if first == "refs", segments.count >= 3, ["heads", "tags"].contains(segments[1]) {
            return (segments[0...2].joined(separator: "/"), Array(segments.dropFirst(3)))
        }
        return (first, Array(segments.dropFirst()))
    }

    static func whoami(_ principal: Principal) -> HTTPResponse {
        let name: String
        switch principal {
        case .admin: name = "admin"
        case .user(let user): name = user
        }
        return JSON.response(JSONValue.object([
            "type": .string("user"), "name": .string(name), "fullname": .string(name), "orgs": .array([]),
            "auth": .object(["type": .string("access_token"),
                             "accessToken": .object(["displayName": .string("warehouse token"), "role": .string("write")])]),
        ]))
    }
}
