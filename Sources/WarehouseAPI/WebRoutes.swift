import Foundation
import WarehouseCore
import WarehouseCrypto
import WarehouseHTTPServer
import WarehouseService

/// The web UI under `/ui`: server-rendered pages, signed in with a token kept in an HttpOnly,
/// SameSite=Strict cookie. Pages follow the API's namespace rules; forms that change state
/// carry a CSRF token derived from the session (HMAC of the token), checked on every POST.
struct WebRoutes {
    let service: ModelService
    let datasets: DatasetService
    let training: TrainingService
    let lifecycle: ModelLifecycle
    let access: AccessControl
    let uploadBody: HTTPBodyKind
    let storedObjectCheck: StoredObjectCheck
    let logger: Logger

    static let cookie = "warehouse_session"

    struct Session {
        let token: String
        let principal: Principal
        var csrf: String { WebRoutes.csrf(for: token) }
        /// The user whose pages are shown by default: their own, or `?user=` for the admin.
        func user(_ request: HTTPRequest) -> String? {
            if case .user(let name) = principal { return name }
            return request.nonEmptyQuery("user")
        }
    }

    static func csrf(for token: String) -> String {
        Hex.encode(HMACSHA256.authenticate("warehouse-ui-csrf", key: Array(token.utf8)))
    }

    static func session(_ request: HTTPRequest, access: AccessControl) -> Session? {
        guard let token = cookieValue(request.headers["cookie"], name: cookie), !token.isEmpty,
              let principal = try? access.authenticate(authorization: "Bearer " + token) else { return nil }
        return Session(token: token, principal: principal)
    }

    static func cookieValue(_ header: String?, name: String) -> String? {
        for part in (header ?? "").split(separator: ";") {
            let pair = part.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
            if pair.count == 2, pair[0] == name { return String(pair[1]).removingPercentEncoding }
        }
        return nil
    }

    static func redirect(_ location: String, cookie: String? = nil) -> HTTPResponse {
        var headers = HTTPHeaders()
        headers.add("Location", location)
        if let cookie { headers.add("Set-Cookie", cookie) }
        return HTTPResponse(status: 303, headers: headers, body: .empty)
    }

    static func page(_ html: HTML, status: Int = 200) -> HTTPResponse {
        var headers = HTTPHeaders()
        headers.add("Content-Type", "text/html; charset=utf-8")
        headers.add("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'; frame-ancestors 'none'")
        headers.add("X-Content-Type-Options", "nosniff")
        headers.add("Cache-Control", "no-store")
        return HTTPResponse(status: status, headers: headers, body: .bytes(Array(html.text.utf8)))
    }

    /// Runs a page handler for a signed-in caller; errors become an error page with the
    /// status and detail of the API's one error table (internals never reach the browser).
    static func signedIn(_ request: HTTPRequest, access: AccessControl, logger: Logger,
                         _ body: (Session) throws -> HTTPResponse) -> HTTPResponse {
        guard let session = session(request, access: access) else {
            return redirect("/ui/login?next=" + HTML.query(request.head.path))
        }
        do {
            return try body(session)
        } catch {
            let (status, detail) = ErrorResponses.statusAndDetail(for: error)
            ErrorResponses.logIfInternal(error, status: status, head: request.head, logger: logger)
            return page(WebPages.error(status: status, detail: detail, session: session), status: status)
        }
    }

    static func checkCSRF(_ value: String?, session: Session) throws {
        guard let value, value == session.csrf else { throw WarehouseError.forbidden("the form's CSRF token is missing or wrong; reload the page") }
    }

    var definitions: [RouteDefinition] {
        let service = self.service, datasets = self.datasets, training = self.training, lifecycle = self.lifecycle, access = self.access
        return [
            RouteDefinition("GET", "/ui") { _ in Self.redirect("/ui/models") },
            RouteDefinition("GET", "/ui/login") { request in
                Self.page(WebPages.login(next: request.nonEmptyQuery("next"), failed: request.nonEmptyQuery("failed") != nil))
            },
            RouteDefinition("POST", "/ui/login", body: .buffered(maxBytes: 16 << 10)) { request in
                let form = WebPages.formFields(request.body.bytes)
                let token = form["token"] ?? ""
                let next = form["next"].flatMap { $0.hasPrefix("/ui/") && !$0.contains("//") ? $0 : nil } ?? "/ui/models"
                guard (try? access.authenticate(authorization: "Bearer " + token)) != nil else {
                    return Self.redirect("/ui/login?failed=1&next=" + HTML.query(next))
                }
                let value = token.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
                return Self.redirect(next, cookie: "\(Self.cookie)=\(value); Path=/ui; HttpOnly; SameSite=Strict; Max-Age=2592000")
            },
            RouteDefinition("POST", "/ui/logout", body: .buffered(maxBytes: 16 << 10)) { request in
                Self.signedIn(request, access: access, logger: logger) { session in
                    try Self.checkCSRF(WebPages.formFields(request.body.bytes)["csrf"], session: session)
                    return Self.redirect("/ui/login", cookie: "\(Self.cookie)=; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=0")
                }
            },
            RouteDefinition("GET", "/ui/models") { request in
                Self.signedIn(request, access: access, logger: logger) { session in
                    guard let user = session.user(request) else { return Self.page(WebPages.chooseUser(session: session, path: "/ui/models")) }
                    try session.principal.authorize(user: user)
                    let text = request.nonEmptyQuery("query")
                    let query = try request.modelQuery(user: user, text: text, principal: session.principal)
                    let result = try service.search(query)
                    return Self.page(WebPages.models(session: session, user: user, query: query, hits: result.hits, total: result.total))
                }
            },
            RouteDefinition("GET", "/ui/models/{user_id}/{model_id}") { request in
                Self.signedIn(request, access: access, logger: logger) { session in
                    let user = try request.userParameter(), model = try request.modelParameter()
                    try session.principal.authorize(user: user)
                    let record = try service.record(user: user, model: model, version: try request.versionQuery())
                    let versions = try service.versions(user: user, model: model)
                    let aliases = try lifecycle.aliases(user: user, model: model)
                    return Self.page(WebPages.model(session: session, record: record, versions: versions, aliases: aliases,
                                                    metrics: service.trainingMetrics(record)))
                }
            },
            RouteDefinition("GET", "/ui/download/{user_id}/{model_id}") { request in
                guard let session = Self.session(request, access: access) else { return Self.redirect("/ui/login") }
                let user = try request.userParameter(), model = try request.modelParameter()
                try session.principal.authorize(user: user)
                let version = try request.versionQuery()
                if let filename = request.nonEmptyQuery("filename") {
                    return try DownloadResponse.make(try service.downloadTarget(user: user, model: model, version: version, filename: filename),
                                                     request: request, store: service.store, check: storedObjectCheck)
                }
                return try ArchiveResponse.make(try service.record(user: user, model: model, version: version), request: request,
                                                service: service, check: storedObjectCheck)
            },
            RouteDefinition("GET", "/ui/datasets/{user_id}/{dataset_id}") { request in
                Self.signedIn(request, access: access, logger: logger) { session in
                    let user = try request.userParameter()
                    try session.principal.authorize(user: user)
                    let record = try datasets.record(user: user, dataset: try request.datasetParameter(), version: request.nonEmptyQuery("version"))
                    // The analysis is computed on the first visit and kept; a failure there
                    // still shows the profile.
                    var analysis: TrainingService.Analysis?
                    var analysisError: String?
                    do {
                        analysis = try training.analysis(user: user, dataset: record.datasetID, version: record.version)
                    } catch {
                        analysisError = ErrorResponses.statusAndDetail(for: error).1
                    }
                    let recommendations = record.profile.trainingRefusal == nil
                        ? try? training.recommendations(user: user, dataset: record.datasetID, version: record.version, targetColumn: nil, timeLimit: nil)
                        : nil
                    let models = try training.modelsTrained(user: user, dataset: record.datasetID)
                    return Self.page(WebPages.dataset(session: session, record: record, training: WebPages.datasetTraining(
                        session: session, record: record, analysis: analysis, analysisError: analysisError,
                        recommendations: recommendations, models: models)))
                }
            },
            RouteDefinition("GET", "/ui/datasets") { request in
                Self.signedIn(request, access: access, logger: logger) { session in
                    guard let user = session.user(request) else { return Self.page(WebPages.chooseUser(session: session, path: "/ui/datasets")) }
                    try session.principal.authorize(user: user)
                    let query = request.nonEmptyQuery("query")
                    let hits = try query.map { try datasets.search(user: user, text: $0, limit: 200, skip: 0).hits }
                    return Self.page(WebPages.datasets(session: session, user: user, records: hits == nil ? try datasets.list(user: user) : [],
                                                       query: query, hits: hits))
                }
            },
            RouteDefinition("POST", "/ui/datasets/upload", body: uploadBody) { request in
                guard let session = Self.session(request, access: access) else { throw WarehouseError.unauthorized("sign in first") }
                let form = try ModelRoutes.form(of: request)
                try Self.checkCSRF(form.field("csrf"), session: session)
                let fields = try DatasetUploadFields(form.fields.filter { $0.name != "csrf" })
                try session.principal.authorize(user: fields.userID)
                let record = try datasets.upload(fields: fields, file: try ModelRoutes.incomingFile(named: "file", in: form))
                if fields.autoTrain, record.profile.trainingRefusal == nil {
                    var automatic = try TrainingRequest(userID: fields.userID, datasetID: fields.datasetID, datasetVersion: record.version,
                                                        timeLimit: fields.timeLimit, automatic: true)
                    automatic.name = "\(record.name) AutoML"
                    automatic.trigger = "dataset_upload"
                    _ = try training.submit(automatic)
                }
                return JSON.response(["location": "/ui/datasets/\(record.userID)/\(record.datasetID)?version=\(record.version)"])
            },
            RouteDefinition("POST", "/ui/datasets/{user_id}/{dataset_id}/train", body: .buffered(maxBytes: 256 << 10)) { request in
                Self.signedIn(request, access: access, logger: logger) { session in
                    let form = WebPages.formFields(request.body.bytes)
                    try Self.checkCSRF(form["csrf"], session: session)
                    let user = try request.userParameter(), dataset = try request.datasetParameter()
                    try session.principal.authorize(user: user)
                    let record = try datasets.record(user: user, dataset: dataset, version: form["dataset_version"])
                    let body = WebPages.trainingBody(form, user: user, dataset: dataset, features: record.profile.features)
                    let job = try training.submit(try TrainingRequest(json: body))
                    return Self.redirect("/ui/jobs/\(job.jobID)")
                }
            },
            RouteDefinition("POST", "/ui/jobs/{job_id}/cancel", body: .buffered(maxBytes: 16 << 10)) { request in
                Self.signedIn(request, access: access, logger: logger) { session in
                    try Self.checkCSRF(WebPages.formFields(request.body.bytes)["csrf"], session: session)
                    let job = try training.job(id: request.parameter("job_id"))
                    do { try session.principal.authorize(user: job.userID) } catch { throw WarehouseError.notFound("training job not found") }
                    if !job.isFinished { _ = try training.cancel(id: job.jobID) }
                    return Self.redirect("/ui/jobs/\(job.jobID)")
                }
            },
            RouteDefinition("GET", "/ui/jobs/{job_id}") { request in
                Self.signedIn(request, access: access, logger: logger) { session in
                    let job = try training.job(id: request.parameter("job_id"))
                    do { try session.principal.authorize(user: job.userID) } catch { throw WarehouseError.notFound("training job not found") }
                    var version: String?
                    if case .object(let result)? = job.result { version = result["version"]?.stringValue }
                    let record = version.flatMap { try? service.record(user: job.userID, model: job.modelID, version: $0) }
                    return Self.page(WebPages.job(session: session, job: job, metrics: record.flatMap(service.trainingMetrics),
                                                  classes: record?.customMetadata["classes"]))
                }
            },
            RouteDefinition("GET", "/ui/jobs/{job_id}/events") { request in
                guard let session = Self.session(request, access: access) else { throw WarehouseError.unauthorized("sign in first") }
                let job = try training.job(id: request.parameter("job_id"))
                do { try session.principal.authorize(user: job.userID) } catch { throw WarehouseError.notFound("training job not found") }
                var headers = HTTPHeaders()
                headers.add("Content-Type", "text/event-stream")
                headers.add("Cache-Control", "no-cache")
                let after = Int(request.headers["last-event-id"] ?? "0") ?? 0
                return HTTPResponse(status: 200, headers: headers, body: .stream(length: nil, reader: JobEventStream(training: training, jobID: job.jobID, after: after)))
            },
            RouteDefinition("GET", "/ui/notifications") { request in
                Self.signedIn(request, access: access, logger: logger) { session in
                    guard let user = session.user(request) else { return Self.page(WebPages.chooseUser(session: session, path: "/ui/notifications")) }
                    try session.principal.authorize(user: user)
                    return Self.page(WebPages.notifications(session: session, user: user, items: try lifecycle.notifications(user: user, limit: 200, before: nil)))
                }
            },
            RouteDefinition("GET", "/ui/upload") { request in
                Self.signedIn(request, access: access, logger: logger) { session in Self.page(WebPages.upload(session: session, user: session.user(request))) }
            },
            RouteDefinition("POST", "/ui/upload", body: uploadBody) { request in
                guard let session = Self.session(request, access: access) else { throw WarehouseError.unauthorized("sign in first") }
                let form = try ModelRoutes.form(of: request)
                try Self.checkCSRF(form.field("csrf"), session: session)
                let fields = try UploadFields(form.fields.filter { $0.name != "csrf" && $0.name != "as_folder" })
                try session.principal.authorize(user: fields.userID)
                let incoming = try ModelRoutes.incomingFile(named: "file", in: form)
                let record = form.field("as_folder") == "on"
                    ? try service.uploadFolder(fields: fields, archive: incoming, preserveStructure: true, primaryFile: nil,
                                            isCancelled: { request.head.cancellation.isCancelled })
                    : try service.uploadSingle(fields: fields, file: incoming)
                return JSON.response(["location": "/ui/models/\(record.userID)/\(record.modelID)?version=\(record.version)"])
            },
        ]
    }
}
