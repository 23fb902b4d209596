import Foundation
import WarehouseCore
import WarehouseHTTPServer
import WarehouseService

/// The model lifecycle: aliases, rollback, notifications, feedback, live performance,
/// retraining (on demand and its thresholds), and a dataset's automatic models.
struct LifecycleRoutes {
    let lifecycle: ModelLifecycle
    let feedback: FeedbackService
    let training: TrainingService
    let models: ModelService
    let access: AccessControl

    var definitions: [RouteDefinition] {
        let lifecycle = self.lifecycle, feedback = self.feedback, training = self.training
        let models = self.models, access = self.access
        return [
            RouteDefinition("GET", "/ai-models/{user_id}/{model_id}/aliases") { request in
                JSON.response(Self.aliases(try lifecycle.aliases(user: try request.userParameter(), model: try request.modelParameter())))
            },
            RouteDefinition("PUT", "/ai-models/{user_id}/{model_id}/aliases/{alias}", body: .buffered(maxBytes: 64 << 10)) { request in
                let body = try JSON.object(from: request.body.bytes)
                guard let version = body["version"]?.stringValue, !version.isEmpty else {
                    throw WarehouseError.invalid("send {\"version\": \"v3\"}: the version the alias points at")
                }
                let target = version.hasPrefix("@") ? "@" + (try Identifiers.alias(String(version.dropFirst()), field: "version alias"))
                    : try ModelVersionNumber.parse(version).text
                return JSON.response(Self.aliases(try lifecycle.setAlias(user: try request.userParameter(), model: try request.modelParameter(),
                                                                       alias: try Identifiers.alias(request.parameter("alias")), version: target)))
            },
            RouteDefinition("DELETE", "/ai-models/{user_id}/{model_id}/aliases/{alias}") { request in
                JSON.response(Self.aliases(try lifecycle.removeAlias(user: try request.userParameter(), model: try request.modelParameter(),
                                                                   alias: try Identifiers.alias(request.parameter("alias")))))
            },
            RouteDefinition("POST", "/ai-models/{user_id}/{model_id}/rollback", body: .buffered(maxBytes: 64 << 10)) { request in
                let body = request.body.bytes.isEmpty ? [:] : try JSON.object(from: request.body.bytes)
                let user = try request.userParameter(), model = try request.modelParameter()
                let moved = try lifecycle.rollback(user: user, model: model, reason: body["reason"]?.stringValue)
                return JSON.response(JSONValue.object([
                    "user_id": .string(user), "model_id": .string(model), "alias": .string(Aliases.production),
                    "from_version": .string(moved.from), "version": .string(moved.to),
                ]))
            },
            RouteDefinition("GET", "/notifications") { request in
                let principal = try request.principal()
                guard let user = request.nonEmptyQuery("user_id") else { throw WarehouseError.invalid("query parameter 'user_id' is required") }
                try principal.authorize(user: user)
                let limit = try request.integerQuery("limit", default: 100, range: 1...1000)
                let before = try request.integerQuery("before_id")
                return JSON.response(try lifecycle.notifications(user: user, limit: limit, before: before))
            },
            RouteDefinition("POST", "/ai-models/{user_id}/{model_id}/feedback", body: .buffered(maxBytes: 64 << 20)) { request in
                let body = try JSON.object(from: request.body.bytes)
                let receipt = try feedback.record(user: try request.userParameter(), model: try request.modelParameter(),
                                                  items: try Self.feedbackItems(body))
                var answer: [String: JSONValue] = [
                    "recorded": .int(Int64(receipt.recorded)), "new": .int(Int64(receipt.new)), "updated": .int(Int64(receipt.updated)),
                ]
                if let job = receipt.retraining {
                    answer["retraining"] = .object(["job_id": .string(job.jobID), "reason": .string(receipt.retrainingReason ?? "")])
                }
                return JSON.response(JSONValue.object(answer))
            },
            RouteDefinition("GET", "/ai-models/{user_id}/{model_id}/performance") { request in
                JSON.response(Self.performance(try feedback.performance(user: try request.userParameter(), model: try request.modelParameter())))
            },
            RouteDefinition("POST", "/ai-models/{user_id}/{model_id}/retrain", body: .buffered(maxBytes: 64 << 10)) { request in
                let body = request.body.bytes.isEmpty ? [:] : try JSON.object(from: request.body.bytes)
                let limit = try Self.timeLimit(body)
                let include: Bool
                switch body["include_feedback"] {
                case nil, .null?: include = true
                case .bool(let flag)?: include = flag
                default: throw WarehouseError.invalid("field 'include_feedback' must be true or false")
                }
                return JSON.response(try feedback.retrain(user: try request.userParameter(), model: try request.modelParameter(),
                                                          timeLimit: limit, includeFeedback: include), status: 202)
            },
            RouteDefinition("GET", "/ai-models/{user_id}/{model_id}/retraining") { request in
                let user = try request.userParameter(), model = try request.modelParameter()
                _ = try models.record(user: user, model: model, version: nil)
                return JSON.response(Self.settings(try feedback.effectiveSettings(user: user, model: model)))
            },
            RouteDefinition("PUT", "/ai-models/{user_id}/{model_id}/retraining", body: .buffered(maxBytes: 64 << 10)) { request in
                let body = try JSON.object(from: request.body.bytes)
                var settings = RetrainingSettings()
                for (key, value) in body {
                    switch (key, value) {
                    case (_, .null): continue
                    case ("enabled", .bool(let flag)): settings.enabled = flag
                    case ("accuracy_threshold", _) where value.doubleValue != nil: settings.accuracyThreshold = value.doubleValue
                    case ("feedback_count", .int(let count)): settings.feedbackCount = Int(count)
                    default: throw WarehouseError.invalid("unknown or mistyped field '\(key)' (enabled: bool, accuracy_threshold: number, feedback_count: integer)")
                    }
                }
                return JSON.response(Self.settings(try feedback.setSettings(user: try request.userParameter(), model: try request.modelParameter(), settings)))
            },
            RouteDefinition("POST", "/datasets/{user_id}/{dataset_id}/recreate-models", body: .buffered(maxBytes: 64 << 10)) { request in
                let body = request.body.bytes.isEmpty ? [:] : try JSON.object(from: request.body.bytes)
                let result = try training.recreateModels(user: try request.userParameter(), dataset: try request.datasetParameter(),
                                                         timeLimit: try Self.timeLimit(body))
                return JSON.response(RecreatedModelsDTO(result), status: 202)
            },
            RouteDefinition("DELETE", "/datasets/{user_id}/{dataset_id}") { request in
                let user = try request.userParameter()
                let dataset = try request.datasetParameter()
                let deleted = try training.deleteDataset(user: user, dataset: dataset, keepModels: try request.flagQuery("keep_models"))
                return JSON.response(["deleted": JSONValue.bool(true), "user_id": .string(user), "dataset_id": .string(dataset),
                                      "deleted_versions": .array(deleted.versions.map(JSONValue.string)),
                                      "deleted_models": .array(deleted.models.map { .object(["model_id": .string($0.model), "version": .string($0.version)]) })])
            },
        ]
    }

    /// `time_limit_s` of a body: absent or null is nil; anything but a number from 1 to 86400 is a 400.
    static func timeLimit(_ body: [String: JSONValue]) throws -> Double? {
        guard let value = body["time_limit_s"], value != .null else { return nil }
        guard let number = value.doubleValue else { throw WarehouseError.invalid("field 'time_limit_s' must be a number") }
        return try TrainingRequest.parseTimeLimit(String(number))
    }

    static func feedbackItems(_ body: [String: JSONValue]) throws -> [(String, JSONValue)] {
        func item(_ object: [String: JSONValue], _ index: Int) throws -> (String, JSONValue) {
            guard let id = object["prediction_id"]?.stringValue, !id.isEmpty else {
                throw WarehouseError.invalid("feedback item \(index): 'prediction_id' is required")
            }
            guard let actual = object["actual"], actual != .null else { throw WarehouseError.invalid("feedback item \(index): 'actual' is required") }
            return (id, actual)
        }
        if case .array(let items)? = body["items"] {
            return try items.enumerated().map { index, value in
                guard case .object(let object) = value else { throw WarehouseError.invalid("feedback item \(index) must be an object") }
                return try item(object, index)
            }
        }
        guard body["items"] == nil else { throw WarehouseError.invalid("'items' must be an array") }
        return [try item(body, 0)]
    }

    static func aliases(_ state: ModelLifecycle.AliasState) -> JSONValue {
        .object([
            "user_id": .string(state.userID), "model_id": .string(state.modelID),
            "aliases": .object(state.aliases.mapValues(JSONValue.string)),
            "history": .array(state.history.map { event in
                .object([
                    "alias": .string(event.alias), "version": event.version.map(JSONValue.string) ?? .null,
                    "previous_version": event.previousVersion.map(JSONValue.string) ?? .null, "action": .string(event.action),
                    "reason": .string(event.reason), "created_at": .string(event.createdAt),
                ])
            }),
        ])
    }

    static func performance(_ performance: FeedbackService.Performance) -> JSONValue {
        .object([
            "user_id": .string(performance.userID), "model_id": .string(performance.modelID), "task": .string(performance.task),
            "production_version": performance.productionVersion.map(JSONValue.string) ?? .null,
            "retraining": .object(performance.retraining),
            "versions": .array(performance.versions.map { version in
                .object([
                    "version": .string(version.version), "is_production": .bool(version.isProduction),
                    "predictions": .int(Int64(version.predictions)), "feedback": .int(Int64(version.feedback)),
                    "live": .object(version.live.mapValues(JSONValue.double)), "training": .object(version.training),
                ])
            }),
        ])
    }

    static func settings(_ settings: FeedbackService.EffectiveSettings) -> JSONValue {
        .object([
            "enabled": .bool(settings.enabled), "accuracy_threshold": .double(settings.accuracyThreshold),
            "feedback_count": .int(Int64(settings.feedbackCount)),
            "overrides": .object([
                "enabled": settings.overrides.enabled.map(JSONValue.bool) ?? .null,
                "accuracy_threshold": settings.overrides.accuracyThreshold.map(JSONValue.double) ?? .null,
                "feedback_count": settings.overrides.feedbackCount.map { .int(Int64($0)) } ?? .null,
            ]),
        ])
    }
}

/// `POST …/recreate-models`: the queued jobs, and the models skipped with why.
struct RecreatedModelsDTO: Encodable {
    let result: TrainingService.RecreatedModels
    init(_ result: TrainingService.RecreatedModels) { self.result = result }

    enum CodingKeys: String, CodingKey { case jobs, skipped }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(result.jobs, forKey: .jobs)
        try c.encode(result.skipped.map { ["model_id": $0.model, "reason": $0.reason] }, forKey: .skipped)
    }
}
