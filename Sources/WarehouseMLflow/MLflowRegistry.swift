import Foundation
import WarehouseAPI
import WarehouseCore
import WarehouseHTTPServer
import WarehouseService

/// MLflow's model registry over the warehouse's models: a registered model is a model, a
/// version `vN` is version `"N"`, aliases are aliases; MLflow's key/value tags are kept in
/// `custom_metadata.mlflow_tags` (the model's own record for registered-model tags, the
/// version's record for version tags), and the warehouse's own tag list shows as tags with an
/// empty value.
struct MLflowRegistry {
    let models: ModelService
    let lifecycle: ModelLifecycle
    let staging: MLflowStaging

    static let tagsKey = "mlflow_tags"
    static let sourceKey = "mlflow_source"
    static let metricsKey = "mlflow_metrics"
    static let paramsKey = "mlflow_params"

    // MARK: - Views

    /// A model as MLflow sees it (its numbered versions only): what a RegisteredModel shows.
    struct ModelView {
        let name: MLflowModelName
        let registered: RegisteredModel?
        /// The highest numbered version.
        let latest: ModelVersionRecord?
        let firstCreatedAt: String?
        let lastUpdatedAt: String?
        /// Aliases of numbered versions: (alias, MLflow version number).
        let aliases: [(alias: String, number: Int)]

        var createdAt: String { registered?.createdAt ?? firstCreatedAt ?? "" }
        var updatedAt: String { max(registered?.updatedAt ?? "", lastUpdatedAt ?? "") }
        var description: String { registered?.description ?? latest?.description ?? "" }

        var tags: [(key: String, value: String)] {
            var tags: [String: String] = [:]
            for tag in latest?.tags ?? [] { tags[tag] = "" }
            if case .object(let own)? = registered?.customMetadata[MLflowRegistry.tagsKey] {
                for (key, value) in own { tags[key] = value.stringValue ?? "" }
            }
            return tags.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        }

        /// From every numbered version's record, oldest first.
        init(name: MLflowModelName, registered: RegisteredModel?, versions: [ModelVersionRecord]) {
            self.name = name
            self.registered = registered
            latest = versions.last
            firstCreatedAt = versions.first?.createdAt
            lastUpdatedAt = versions.map(\.updatedAt).max()
            aliases = versions.flatMap { record in record.aliases.map { ($0, MLflowVersion.number(record.version)!) } }.sorted { $0.alias < $1.alias }
        }

        init(name: MLflowModelName, registered: RegisteredModel?, latest: ModelVersionRecord?, firstCreatedAt: String?,
             lastUpdatedAt: String?, aliases: [(alias: String, number: Int)]) {
            self.name = name
            self.registered = registered
            self.latest = latest
            self.firstCreatedAt = firstCreatedAt
            self.lastUpdatedAt = lastUpdatedAt
            self.aliases = aliases
        }
    }

    /// 404 unless the model exists (without reading its versions).
    func requireModel(_ name: MLflowModelName) throws {
        guard try models.modelExists(user: name.user, model: name.model) else {
            throw MLflowError.notFound("Registered Model with name=\(name.model) not found")
        }
    }

    /// One model's view from a few reads: its record, its latest and first numbered versions,
    /// its aliases (not every version's record).
    func view(_ name: MLflowModelName) throws -> ModelView {
        let registered = try models.registeredModel(user: name.user, model: name.model)
        let numbered = try models.catalog.versionNames(user: name.user, model: name.model)
            .compactMap { version in MLflowVersion.number(version).map { (version: version, number: $0) } }
            .sorted { $0.number < $1.number }
        let exists = try registered != nil || !numbered.isEmpty || models.modelExists(user: name.user, model: name.model)
        guard exists else {
            throw MLflowError.notFound("Registered Model with name=\(name.model) not found")
        }
        let latest = try numbered.last.flatMap { try models.catalog.record(user: name.user, model: name.model, version: $0.version) }
        let first = numbered.count > 1
            ? try models.catalog.record(user: name.user, model: name.model, version: numbered[0].version) : latest
        let aliases = try models.catalog.aliases(user: name.user, model: name.model)
            .compactMap { alias, version in MLflowVersion.number(version).map { (alias: alias, number: $0) } }
            .sorted { $0.alias < $1.alias }
        return ModelView(name: name, registered: registered, latest: latest, firstCreatedAt: first?.createdAt,
                         lastUpdatedAt: latest?.updatedAt, aliases: aliases)
    }

    /// Every numbered version of a model, oldest first.
    func numberedVersions(_ name: MLflowModelName) throws -> [ModelVersionRecord] {
        try models.catalog.versions(user: name.user, model: name.model).filter { MLflowVersion.number($0.version) != nil }
            .sorted { MLflowVersion.number($0.version)! < MLflowVersion.number($1.version)! }
    }

    /// Every model the principal may read: its own namespace, or everyone's for the admin
    /// (with each one's numbered versions, for version searches).
    func views(principal: Principal, only exactName: String?) throws -> [(view: ModelView, versions: [ModelVersionRecord])] {
        if let exactName {
            guard let name = try? MLflowModelName(exactName, principal: principal), try models.modelExists(user: name.user, model: name.model) else {
                return []
            }
            let versions = try numberedVersions(name)
            return [(ModelView(name: name, registered: try models.registeredModel(user: name.user, model: name.model), versions: versions), versions)]
        }
        let user: String?
        switch principal {
        case .admin: user = nil
        case .user(let own): user = own
        }
        var versions: [MLflowModelName: [ModelVersionRecord]] = [:]
        for record in try models.catalog.readyRecords(user: user) where MLflowVersion.number(record.version) != nil {
            versions[MLflowModelName(user: record.userID, model: record.modelID), default: []].append(record)
        }
        var registered: [MLflowModelName: RegisteredModel] = [:]
        for model in try models.registeredModels(user: user) {
            registered[MLflowModelName(user: model.userID, model: model.modelID)] = model
        }
        return Set(versions.keys).union(registered.keys).map { name in
            let ordered = (versions[name] ?? []).sorted { MLflowVersion.number($0.version)! < MLflowVersion.number($1.version)! }
            return (ModelView(name: name, registered: registered[name], versions: ordered), ordered)
        }
    }

    func modelJSON(_ view: ModelView, principal: Principal) -> JSONValue {
        let aliases = view.aliases.map { alias, number -> JSONValue in
            .object(["alias": .string(alias), "version": .string(String(number))])
        }
        var object: [String: JSONValue] = [
            "name": .string(view.name.name(for: principal)),
            "creation_timestamp": MLflowJSON.milliseconds(view.createdAt),
            "last_updated_timestamp": MLflowJSON.milliseconds(view.updatedAt),
            "user_id": .string(view.name.user),
            "description": .string(view.description),
            "tags": MLflowJSON.tags(view.tags),
            "aliases": .array(aliases),
        ]
        if let latest = view.latest { object["latest_versions"] = .array([versionJSON(latest, principal: principal)]) }
        return .object(object)
    }

    static func versionTags(_ record: ModelVersionRecord) -> [(key: String, value: String)] {
        var tags: [String: String] = [:]
        for tag in record.tags { tags[tag] = "" }
        if case .object(let own)? = record.customMetadata[tagsKey] {
            for (key, value) in own { tags[key] = value.stringValue ?? "" }
        }
        return tags.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    static func downloadURI(_ record: ModelVersionRecord) -> String {
        "mlflow-artifacts:/" + MLflowArtifactPath.registry(user: record.userID, model: record.modelID, version: record.version)
    }

    func versionJSON(_ record: ModelVersionRecord, principal: Principal) -> JSONValue {
        let name = MLflowModelName(user: record.userID, model: record.modelID)
        return .object([
            "name": .string(name.name(for: principal)),
            "version": .string(String(MLflowVersion.number(record.version) ?? 0)),
            "creation_timestamp": MLflowJSON.milliseconds(record.createdAt),
            "last_updated_timestamp": MLflowJSON.milliseconds(record.updatedAt),
            "user_id": .string(record.userID),
            "current_stage": .string("None"),
            "description": .string(record.description ?? ""),
            "source": .string(record.customMetadata[Self.sourceKey]?.stringValue ?? Self.downloadURI(record)),
            "run_link": .string(""),
            "status": .string("READY"),
            "tags": MLflowJSON.tags(Self.versionTags(record)),
            "aliases": .array(record.aliases.map(JSONValue.string)),
        ])
    }

    /// What a version search compares.
    static func subject(_ record: ModelVersionRecord, name: String) -> MLflowSearchSubject {
        var subject = MLflowSearchSubject()
        subject.strings = ["name": name, "run_id": "", "source_path": record.customMetadata[sourceKey]?.stringValue ?? downloadURI(record)]
        subject.numbers = [
            "version_number": Double(MLflowVersion.number(record.version) ?? 0),
            "creation_timestamp": Double(Timestamps.instant(record.createdAt)?.milliseconds ?? 0),
            "last_updated_timestamp": Double(Timestamps.instant(record.updatedAt)?.milliseconds ?? 0),
        ]
        subject.tags = Dictionary(versionTags(record).map { ($0.key, $0.value) }, uniquingKeysWith: { $1 })
        subject.metrics = metrics(record)
        if case .object(let params)? = record.customMetadata[paramsKey] {
            subject.params = params.compactMapValues(\.stringValue)
        }
        return subject
    }

    /// A version's metrics: what `log_model` logged, and the warehouse's own scores.
    static func metrics(_ record: ModelVersionRecord) -> [String: Double] {
        var metrics: [String: Double] = [:]
        if case .object(let logged)? = record.customMetadata[metricsKey] { metrics = logged.compactMapValues(\.doubleValue) }
        for (key, value) in [("training_accuracy", record.trainingAccuracy), ("validation_accuracy", record.validationAccuracy),
                             ("test_accuracy", record.testAccuracy), ("training_loss", record.trainingLoss)] {
            if let value, metrics[key] == nil { metrics[key] = value }
        }
        return metrics
    }

    func record(_ name: MLflowModelName, _ versionText: String?) throws -> ModelVersionRecord {
        let version = try MLflowVersion.version(versionText)
        guard let record = try models.catalog.record(user: name.user, model: name.model, version: version) else {
            try requireModel(name)
            throw MLflowError.notFound("Model Version (name=\(name.model), version=\(versionText ?? "")) not found")
        }
        return record
    }

    // MARK: - Registered models

    func createModel(_ parameters: MLflowParameters, principal: Principal) throws -> HTTPResponse {
        let name = try MLflowModelName(try parameters.required("name"), principal: principal)
        let tags = try parameters.pairs("tags")
        let description = parameters.string("description")
        guard try models.registerModel(user: name.user, model: name.model) else {
            throw MLflowError.alreadyExists("Registered Model (name=\(name.name(for: principal))) already exists.")
        }
        if !tags.isEmpty || !(description ?? "").isEmpty {
            try models.updateRegisteredModel(user: name.user, model: name.model) { model in
                model.description = description
                model.customMetadata[Self.tagsKey] = .object(Dictionary(tags.map { ($0.key, JSONValue.string($0.value)) }, uniquingKeysWith: { $1 }))
            }
        }
        return JSON.response(JSONValue.object(["registered_model": modelJSON(try view(name), principal: principal)]))
    }

    func getModel(_ parameters: MLflowParameters, principal: Principal) throws -> HTTPResponse {
        let name = try MLflowModelName(try parameters.required("name"), principal: principal)
        return JSON.response(JSONValue.object(["registered_model": modelJSON(try view(name), principal: principal)]))
    }

    func searchModels(_ parameters: MLflowParameters, principal: Principal) throws -> HTTPResponse {
        let filter = try MLflowFilter(parameters.string("filter"), attributes: ["name": false])
        let limit = try parameters.int("max_results") ?? 100
        guard (1...1000).contains(limit) else {
            throw MLflowError.invalid("Invalid value \(limit) for parameter 'max_results' supplied: it must be between 1 and 1000")
        }
        let order = try MLflowOrder.parse(parameters.strings("order_by"), allowed: ["name", "creation_timestamp", "last_updated_timestamp"])
        let offset = try MLflowJSON.offset(parameters.string("page_token"))
        let matched = try views(principal: principal, only: filter.exactName).map(\.view).compactMap { view -> (ModelView, MLflowSearchSubject)? in
            var subject = MLflowSearchSubject()
            subject.strings = ["name": view.name.name(for: principal)]
            subject.numbers = ["creation_timestamp": Double(Timestamps.instant(view.createdAt)?.milliseconds ?? 0),
                               "last_updated_timestamp": Double(Timestamps.instant(view.updatedAt)?.milliseconds ?? 0)]
            subject.tags = Dictionary(view.tags.map { ($0.key, $0.value) }, uniquingKeysWith: { $1 })
            return filter.matches(subject) ? (view, subject) : nil
        }
        let sorted = matched.sorted { Self.ordered($0.1, $1.1, order + [MLflowOrder(key: "name", ascending: true)]) }
        let page = sorted.dropFirst(offset).prefix(limit)
        var answer: [String: JSONValue] = ["registered_models": .array(page.map { modelJSON($0.0, principal: principal) })]
        if offset + limit < sorted.count { answer["next_page_token"] = .string(MLflowJSON.pageToken(offset + limit)) }
        return JSON.response(JSONValue.object(answer))
    }

    static func ordered(_ a: MLflowSearchSubject, _ b: MLflowSearchSubject, _ order: [MLflowOrder]) -> Bool {
        for entry in order {
            if let x = a.numbers[entry.key], let y = b.numbers[entry.key], x != y { return entry.ascending ? x < y : x > y }
            if let x = a.strings[entry.key], let y = b.strings[entry.key], x != y { return entry.ascending ? x < y : x > y }
        }
        return false
    }

    func updateModel(_ parameters: MLflowParameters, principal: Principal) throws -> HTTPResponse {
        let name = try MLflowModelName(try parameters.required("name"), principal: principal)
        try requireModel(name)
        let description = parameters.string("description")
        try models.updateRegisteredModel(user: name.user, model: name.model) { $0.description = description }
        return JSON.response(JSONValue.object(["registered_model": modelJSON(try view(name), principal: principal)]))
    }

    func renameModel(_ parameters: MLflowParameters, principal: Principal) throws -> HTTPResponse {
        let name = try MLflowModelName(try parameters.required("name"), principal: principal)
        let target = try MLflowModelName(try parameters.required("new_name"), principal: principal, field: "new_name")
        guard target.user == name.user else {
            throw MLflowError.invalid("a model keeps its namespace: '\(target.name(for: principal))' is in another user's")
        }
        _ = try view(name)
        if try models.modelExists(user: target.user, model: target.model) {
            throw MLflowError.alreadyExists("Registered Model (name=\(target.name(for: principal))) already exists.")
        }
        try models.renameModel(user: name.user, from: name.model, to: target.model)
        return JSON.response(JSONValue.object(["registered_model": modelJSON(try view(target), principal: principal)]))
    }

    func deleteModel(_ parameters: MLflowParameters, principal: Principal) throws -> HTTPResponse {
        let name = try MLflowModelName(try parameters.required("name"), principal: principal)
        try requireModel(name)
        _ = try models.delete(user: name.user, model: name.model, version: nil, force: true)
        return JSON.response(JSONValue.object([:]))
    }

    func setModelTag(_ parameters: MLflowParameters, principal: Principal, delete: Bool) throws -> HTTPResponse {
        let name = try MLflowModelName(try parameters.required("name"), principal: principal)
        let key = try Self.tagKey(parameters)
        let value = parameters.string("value") ?? ""
        try requireModel(name)
        try models.updateRegisteredModel(user: name.user, model: name.model) { model in
            var tags: [String: JSONValue] = [:]
            if case .object(let own)? = model.customMetadata[Self.tagsKey] { tags = own }
            tags[key] = delete ? nil : .string(value)
            model.customMetadata[Self.tagsKey] = .object(tags)
        }
        return JSON.response(JSONValue.object([:]))
    }

    static func tagKey(_ parameters: MLflowParameters) throws -> String {
        let key = try parameters.required("key")
        guard key.count <= 250 else { throw MLflowError.invalid("tag key '\(key.prefix(40))…' is longer than 250 characters") }
        guard key != "mlflow.prompt.is_prompt" else { throw MLflowError.invalid("this registry keeps models, not prompts") }
        return key
    }

    func latestVersions(_ parameters: MLflowParameters, principal: Principal) throws -> HTTPResponse {
        let name = try MLflowModelName(try parameters.required("name"), principal: principal)
        let view = try view(name)
        // Stages are not kept (every version is in stage "None"; aliases replace them).
        let stages = parameters.strings("stages").map { $0.lowercased() }
        let wanted = stages.isEmpty || stages.contains("none")
        let latest = wanted ? view.latest.map { [versionJSON($0, principal: principal)] } ?? [] : []
        return JSON.response(JSONValue.object(["model_versions": .array(latest)]))
    }

    // MARK: - Aliases

    static func alias(_ parameters: MLflowParameters) throws -> String {
        let alias = try parameters.required("alias")
        if alias.lowercased() == "latest" || (alias.first.map { "vV".contains($0) } == true && alias.dropFirst().allSatisfy(\.isNumber) && alias.count > 1) {
            throw MLflowError.invalid("alias '\(alias)' is reserved: 'latest' and 'v<number>' name versions already")
        }
        do {
            return try Identifiers.alias(alias)
        } catch {
            throw MLflowError.invalid("alias '\(alias)' is not valid here: aliases start with a letter and have at most 64 letters, digits, '.', '_' or '-'")
        }
    }

    func setAlias(_ parameters: MLflowParameters, principal: Principal) throws -> HTTPResponse {
        let name = try MLflowModelName(try parameters.required("name"), principal: principal)
        let alias = try Self.alias(parameters)
        let record = try record(name, parameters.string("version"))
        _ = try lifecycle.setAlias(user: name.user, model: name.model, alias: alias, version: record.version)
        return JSON.response(JSONValue.object([:]))
    }

    func getByAlias(_ parameters: MLflowParameters, principal: Principal) throws -> HTTPResponse {
        let name = try MLflowModelName(try parameters.required("name"), principal: principal)
        let alias = try parameters.required("alias")
        let view = try view(name)
        let target: ModelVersionRecord?
        if alias.lowercased() == "latest" {
            target = view.latest
        } else if let number = view.aliases.first(where: { $0.alias == alias })?.number {
            target = try models.catalog.record(user: name.user, model: name.model, version: "v\(number)")
        } else {
            target = nil
        }
        guard let target else { throw MLflowError.invalid("Registered model alias \(alias) not found.") }
        return JSON.response(JSONValue.object(["model_version": versionJSON(target, principal: principal)]))
    }

    func deleteAlias(_ parameters: MLflowParameters, principal: Principal) throws -> HTTPResponse {
        let name = try MLflowModelName(try parameters.required("name"), principal: principal)
        let alias = try parameters.required("alias")
        try requireModel(name)
        if try models.catalog.aliases(user: name.user, model: name.model)[alias] != nil {
            _ = try lifecycle.removeAlias(user: name.user, model: name.model, alias: alias)
        }
        return JSON.response(JSONValue.object([:]))
    }

    // MARK: - Versions

    func createVersion(_ parameters: MLflowParameters, principal: Principal) throws -> HTTPResponse {
        let name = try MLflowModelName(try parameters.required("name"), principal: principal)
        let source = try parameters.required("source")
        try requireModel(name)
        let tags = try parameters.pairs("tags")
        let description = parameters.string("description")
        let staged = try staging.files(forSource: source, modelID: parameters.string("model_id"), principal: principal)
        let record = try models.deriveVersion(user: name.user, model: name.model, parent: nil,
                                              changes: VersionChanges(copies: staged.files), fresh: true) { record in
            record.description = description.flatMap { $0.isEmpty ? nil : $0 }
            record.customMetadata[Self.sourceKey] = .string(source)
            if !tags.isEmpty {
                record.customMetadata[Self.tagsKey] = .object(Dictionary(tags.map { ($0.key, JSONValue.string($0.value)) }, uniquingKeysWith: { $1 }))
            }
            if !staged.metrics.isEmpty { record.customMetadata[Self.metricsKey] = .object(staged.metrics.mapValues(JSONValue.double)) }
            if !staged.params.isEmpty { record.customMetadata[Self.paramsKey] = .object(staged.params.mapValues(JSONValue.string)) }
        }
        staging.registered(staged, as: record)
        return JSON.response(JSONValue.object(["model_version": versionJSON(record, principal: principal)]))
    }

    func getVersion(_ parameters: MLflowParameters, principal: Principal) throws -> HTTPResponse {
        let name = try MLflowModelName(try parameters.required("name"), principal: principal)
        return JSON.response(JSONValue.object(["model_version": versionJSON(try record(name, parameters.string("version")), principal: principal)]))
    }

    func searchVersions(_ parameters: MLflowParameters, principal: Principal) throws -> HTTPResponse {
        let filter = try MLflowFilter(parameters.string("filter"), attributes: [
            "name": false, "run_id": false, "source_path": false,
            "version_number": true, "creation_timestamp": true, "last_updated_timestamp": true,
        ])
        let limit = try parameters.int("max_results") ?? 10000
        guard (1...200_000).contains(limit) else {
            throw MLflowError.invalid("Invalid value \(limit) for parameter 'max_results' supplied: it must be between 1 and 200000")
        }
        let order = try MLflowOrder.parse(parameters.strings("order_by"),
                                          allowed: ["name", "version_number", "creation_timestamp", "last_updated_timestamp"])
        let offset = try MLflowJSON.offset(parameters.string("page_token"))
        if filter.clauses.count == 1, let exact = filter.exactName, order.isEmpty {
            return try versionsOfOneModel(exact, offset: offset, limit: limit, principal: principal)
        }
        var matched: [(ModelVersionRecord, MLflowSearchSubject)] = []
        for (view, versions) in try views(principal: principal, only: filter.exactName) {
            let name = view.name.name(for: principal)
            for record in versions {
                let subject = Self.subject(record, name: name)
                if filter.matches(subject) { matched.append((record, subject)) }
            }
        }
        let defaults = [MLflowOrder(key: "name", ascending: true), MLflowOrder(key: "version_number", ascending: false)]
        let sorted = matched.sorted { Self.ordered($0.1, $1.1, order + defaults) }
        let page = sorted.dropFirst(offset).prefix(limit)
        var answer: [String: JSONValue] = ["model_versions": .array(page.map { versionJSON($0.0, principal: principal) })]
        if offset + limit < sorted.count { answer["next_page_token"] = .string(MLflowJSON.pageToken(offset + limit)) }
        return JSON.response(JSONValue.object(answer))
    }

    /// `name = '…'` alone, in the default order (newest first): only the page's records are read.
    func versionsOfOneModel(_ exact: String, offset: Int, limit: Int, principal: Principal) throws -> HTTPResponse {
        var page: [JSONValue] = []
        var total = 0
        if let name = try? MLflowModelName(exact, principal: principal) {
            let numbered = try models.catalog.versionNames(user: name.user, model: name.model)
                .compactMap { version in MLflowVersion.number(version).map { (version, $0) } }
                .sorted { $0.1 > $1.1 }
            total = numbered.count
            for (version, _) in numbered.dropFirst(offset).prefix(limit) {
                if let record = try models.catalog.record(user: name.user, model: name.model, version: version) {
                    page.append(versionJSON(record, principal: principal))
                }
            }
        }
        var answer: [String: JSONValue] = ["model_versions": .array(page)]
        if offset + limit < total { answer["next_page_token"] = .string(MLflowJSON.pageToken(offset + limit)) }
        return JSON.response(JSONValue.object(answer))
    }

    func updateVersion(_ parameters: MLflowParameters, principal: Principal) throws -> HTTPResponse {
        let name = try MLflowModelName(try parameters.required("name"), principal: principal)
        let record = try record(name, parameters.string("version"))
        let description = parameters.string("description") ?? ""
        let updated = try models.update(user: name.user, model: name.model, version: record.version,
                                        patch: ["description": description.isEmpty ? .null : .string(description)])
        return JSON.response(JSONValue.object(["model_version": versionJSON(updated, principal: principal)]))
    }

    func deleteVersion(_ parameters: MLflowParameters, principal: Principal) throws -> HTTPResponse {
        let name = try MLflowModelName(try parameters.required("name"), principal: principal)
        let record = try record(name, parameters.string("version"))
        _ = try models.delete(user: name.user, model: name.model, version: record.version, force: true)
        return JSON.response(JSONValue.object([:]))
    }

    func setVersionTag(_ parameters: MLflowParameters, principal: Principal, delete: Bool) throws -> HTTPResponse {
        let name = try MLflowModelName(try parameters.required("name"), principal: principal)
        let record = try record(name, parameters.string("version"))
        let key = try Self.tagKey(parameters)
        var tags: [String: JSONValue] = [:]
        if case .object(let own)? = record.customMetadata[Self.tagsKey] { tags = own }
        tags[key] = delete ? nil : .string(parameters.string("value") ?? "")
        var metadata = record.customMetadata
        metadata[Self.tagsKey] = .object(tags)
        var patch: [String: JSONValue] = ["custom_metadata": .object(metadata)]
        if delete, record.tags.contains(key) { patch["tags"] = .array(record.tags.filter { $0 != key }.map(JSONValue.string)) }
        _ = try models.update(user: name.user, model: name.model, version: record.version, patch: patch)
        return JSON.response(JSONValue.object([:]))
    }

    func downloadURI(_ parameters: MLflowParameters, principal: Principal) throws -> HTTPResponse {
        let name = try MLflowModelName(try parameters.required("name"), principal: principal)
        let record = try record(name, parameters.string("version"))
        return JSON.response(JSONValue.object(["artifact_uri": .string(Self.downloadURI(record))]))
    }

    func transitionStage(_ parameters: MLflowParameters, principal: Principal) throws -> HTTPResponse {
        let name = try MLflowModelName(try parameters.required("name"), principal: principal)
        _ = try record(name, parameters.string("version"))
        throw MLflowError.invalid("stages are not kept by this registry (MLflow deprecated them): use aliases instead, "
            + "e.g. client.set_registered_model_alias(name, 'production', version) and load 'models:/name@production'")
    }
}
