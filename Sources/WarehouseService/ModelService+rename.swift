import Foundation
import WarehouseCatalog
import WarehouseCore

extension ModelService {
    /// Renames `user/from` to `user/to` (MLflow's rename): every version is copied to the new
    /// name server-side, with its number, files and record, through a version transaction of
    /// its own; then the aliases and the model's record follow, and the old model is deleted.
    /// A failure before the old model is deleted removes what was copied, so either name holds
    /// the whole model. Versions committed to the old name while it runs are copied too.
    public func renameModel(user: String, from: String, to: String) throws {
        _ = try Identifiers.name(to, field: "new_name")
        guard try modelExists(user: user, model: from) else {
            throw WarehouseError.notFound("model '\(from)' of user '\(user)' not found")
        }
        guard from != to else { return }
        guard try !modelExists(user: user, model: to) else {
            throw WarehouseError.alreadyExists("model '\(to)' of user '\(user)' already exists")
        }
        do {
            if let registered = try catalog.registeredModel(user: user, model: from) {
                var renamed = RegisteredModel(userID: user, modelID: to, createdAt: registered.createdAt)
                renamed.description = registered.description
                renamed.customMetadata = registered.customMetadata
                _ = try registerModel(user: user, model: to)
                try updateRegisteredModel(user: user, model: to) { $0 = renamed }
            }
            var copied = Set<String>()
            while true {
                let pending = try catalog.versions(user: user, model: from).filter { !copied.contains($0.version) }
                if pending.isEmpty { break }
                for record in pending {
                    try copyVersion(record, to: to)
                    copied.insert(record.version)
                }
            }
            let aliases = try catalog.aliases(user: user, model: from)
            if !aliases.isEmpty {
                try movingAliases(user: user, model: to) { publish in
                    for (alias, version) in aliases.sorted(by: { $0.key < $1.key }) {
                        _ = try catalog.setAlias(user: user, model: to, alias: alias, version: version,
                                                 reason: "model renamed from '\(from)'", now: Timestamps.now(), publish: publish)
                    }
                }
            }
        } catch {
            _ = try? delete(user: user, model: to, version: nil, force: true)
            throw error
        }
        _ = try delete(user: user, model: from, version: nil, force: true)
    }

    /// One version of another model, as it is, under `model` (server-side copies).
    private func copyVersion(_ record: ModelVersionRecord, to model: String) throws {
        var draft = record
        draft.modelID = model
        if draft.name == record.modelID { draft.name = model }
        draft.aliases = []
        _ = try createVersion(draft, requestedVersion: record.version, primary: record.primaryFilePath, fill: { transaction in
            try transaction.copyAll(record.files.map { file in
                (file, ObjectKeys.file(user: record.userID, model: record.modelID, version: record.version, path: file.filePath))
            })
        })
    }
}
