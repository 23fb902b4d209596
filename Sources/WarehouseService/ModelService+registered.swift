import Foundation
import WarehouseCore
import WarehouseReplication

extension ModelService {
    /// Creates `user/model` without a version; false when the model exists already (with
    /// versions, or created before).
    @discardableResult
    public func registerModel(user: String, model: String) throws -> Bool {
        _ = try Identifiers.userID(user)
        _ = try Identifiers.name(model, field: "model_id")
        return try modelLocks.serialized(user: user, model: model) {
            if try modelExists(user: user, model: model) { return false }
            let registered = RegisteredModel(userID: user, modelID: model, createdAt: Timestamps.now())
            // The manifest first: a catalog row without it would be lost by a reindex. Created
            // only if absent, so two replicas creating the same model do not both succeed.
            do {
                try replication.write(ObjectKeys.modelManifest(user: user, model: model), data: Array(try JSONCoding.string(registered).utf8),
                                      over: nil, createOnly: true)
            } catch is ConditionalWriteLost {
                // Another replica created it first: this catalog learns it now, not at the next poll.
                try syncRegisteredModel(user: user, model: model)
                return false
            }
            let created = try catalog.registerModel(registered)
            replication.announce(Change(.model, [user, model]))
            return created
        }
    }

    /// Whether `user/model` has a ready version or was created before its versions.
    public func modelExists(user: String, model: String) throws -> Bool {
        try catalog.record(user: user, model: model, version: nil) != nil || catalog.registeredModel(user: user, model: model) != nil
    }

    /// When the model was created before its versions (nil: it was not, or it has no record).
    public func registeredAt(user: String, model: String) throws -> String? {
        try catalog.registeredModel(user: user, model: model)?.createdAt
    }

    /// The model's own record (nil: it has none: it has only versions).
    public func registeredModel(user: String, model: String) throws -> RegisteredModel? {
        try catalog.registeredModel(user: user, model: model)
    }

    /// Model records of `user` (nil: of everyone).
    public func registeredModels(user: String?) throws -> [RegisteredModel] {
        try catalog.registeredModels(user: user)
    }

    /// Changes the model's own record (its description, custom metadata), making one for a
    /// model that has only versions: the manifest first, then the row. 404 for no model.
    @discardableResult
    public func updateRegisteredModel(user: String, model: String, _ edit: (inout RegisteredModel) throws -> Void) throws -> RegisteredModel {
        try modelLocks.serialized(user: user, model: model) {
            let current = try catalog.registeredModel(user: user, model: model)
            let hasVersions = try catalog.record(user: user, model: model, version: nil) != nil
            guard current != nil || hasVersions else {
                throw WarehouseError.notFound("model '\(model)' of user '\(user)' not found")
            }
            let first = try catalog.versions(user: user, model: model).first?.createdAt
            var changed = current ?? RegisteredModel(userID: user, modelID: model, createdAt: first ?? Timestamps.now())
            try edit(&changed)
            changed.updatedAt = Timestamps.now()
            try replication.write(ObjectKeys.modelManifest(user: user, model: model), data: Array(try JSONCoding.string(changed).utf8),
                                  over: nil, createOnly: false)
            try catalog.replaceRegisteredModel(changed)
            replication.announce(Change(.model, [user, model]))
            return changed
        }
    }

    /// Forgets that the model was created before its versions (its manifest, then its row):
    /// part of deleting the model. False when it was not.
    @discardableResult
    func unregisterModel(user: String, model: String) throws -> Bool {
        guard try catalog.registeredModel(user: user, model: model) != nil else { return false }
        try replication.remove(ObjectKeys.modelManifest(user: user, model: model), over: nil)
        let removed = try catalog.unregisterModel(user: user, model: model)
        replication.announce(Change(.model, [user, model]))
        return removed
    }

    /// Brings the catalog level with the model manifest another replica wrote or removed.
    func syncRegisteredModel(user: String, model: String) throws {
        guard let bytes = try store.getDataAndETag(key: ObjectKeys.modelManifest(user: user, model: model))?.bytes else {
            try catalog.unregisterModel(user: user, model: model)
            return
        }
        _ = try importRegisteredModel(bytes, key: ObjectKeys.modelManifest(user: user, model: model))
    }

    /// Restores a model manifest's row (reindex).
    func importRegisteredModel(_ bytes: [UInt8], key: String) throws -> RegisteredModel? {
        let registered = try JSONDecoder().decode(RegisteredModel.self, from: Data(bytes))
        guard ObjectKeys.modelManifest(user: registered.userID, model: registered.modelID) == key else { return nil }
        try catalog.replaceRegisteredModel(registered)
        return registered
    }
}
