import Foundation
import WarehouseAutoML
import WarehouseCatalog
import WarehouseCore
import WarehouseReplication

/// A stored dataset version: where its CSV is, its hash, and its profile.
public struct DatasetRecord: Codable, Sendable {
    public var userID: String
    public var datasetID: String
    public var version: String
    public var name: String
    public var description: String?
    public var filename: String
    public var fileSize: UInt64
    public var fileHash: String
    public var objectKey: String
    public var rows: Int
    public var targetColumn: String
    public var taskType: TaskType
    public var createdAt: String
    public var profile: DatasetProfile

    enum CodingKeys: String, CodingKey {
        case userID = "user_id", datasetID = "dataset_id", version, name, description, filename
        case fileSize = "file_size", fileHash = "file_hash", objectKey = "object_key", rows
        case targetColumn = "target_column", taskType = "task_type", createdAt = "created_at", profile
    }

    /// "v3" → 3.
    public static func number(_ version: String) throws -> Int {
        guard version.hasPrefix("v"), let number = Int(version.dropFirst()), number > 0 else {
            throw WarehouseError.invalid("dataset versions look like v1, v2… (got \(Identifiers.quoted(version)))")
        }
        return number
    }
}

/// The fields of `POST /datasets/upload`.
public struct DatasetUploadFields: Sendable {
    public var userID: String
    public var datasetID: String
    public var name: String?
    public var description: String?
    public var targetColumn: String?
    public var taskType: TaskType?
    public var autoTrain: Bool
    public var timeLimit: Double?

    public init(_ fields: [(name: String, value: String)]) throws {
        let values = UploadFields.values(fields)
        userID = try Identifiers.userID(values["user_id"])
        datasetID = try Identifiers.name(values["dataset_id"], field: "dataset_id")
        name = try UploadFields.text(values["name"], field: "name", limit: 256)
        description = try UploadFields.text(values["description"], field: "description", limit: 65_536)
        targetColumn = values["target_column"]
        taskType = try values["task_type"].map { try TrainingRequest.parseTask($0) }
        autoTrain = try values["auto_train"].map { try FieldValues.bool($0, field: "auto_train") } ?? true
        timeLimit = try values["time_limit"].map { try TrainingRequest.parseTimeLimit($0) }
    }
}

/// Datasets: upload (profile while the CSV is local, then store it), read, delete.
public final class DatasetService: Sendable {
    let catalog: Catalog
    let store: any ObjectStore
    let spoolDirectory: String
    /// How dataset versions are claimed and published where replicas share the bucket.
    let replication: any Replication

    public init(catalog: Catalog, store: any ObjectStore, spoolDirectory: String, replication: (any Replication)? = nil) {
        self.replication = replication ?? SoloReplication(store: store)
        self.catalog = catalog
        self.store = store
        self.spoolDirectory = spoolDirectory
    }

    /// Profiles the spooled CSV, then stores it as the dataset's next version. A CSV that
    /// cannot be read is 400 with its line number; nothing is stored then.
    public func upload(fields: DatasetUploadFields, file: IncomingFile) throws -> DatasetRecord {
        let filename = FilePaths.baseName(try FilePaths.validate(file.filename.isEmpty ? "data.csv" : file.filename, field: "filename"))
        guard file.size > 0 else { throw WarehouseError.invalid("the CSV file is empty") }
        let profile = try Self.translatingErrors {
            try DatasetProfile.profile(path: file.spoolPath, targetColumn: fields.targetColumn, taskType: fields.taskType)
        }
        let now = Timestamps.now()
        let (pending, claim) = try reserveDataset(user: fields.userID, dataset: fields.datasetID, createdAt: now)
        let version = "v\(pending.version)"
        let manifestKey = ObjectKeys.datasetManifest(user: fields.userID, dataset: fields.datasetID, version: version)
        let key = ObjectKeys.datasetPrefix(user: fields.userID, dataset: fields.datasetID, version: version) + filename
        do {
            try store.putFile(key: key, path: file.spoolPath, size: file.size, sha256: file.sha256)
            let record = DatasetRecord(
                userID: fields.userID, datasetID: fields.datasetID, version: version, name: fields.name ?? fields.datasetID,
                description: fields.description, filename: filename, fileSize: file.size, fileHash: file.sha256,
                objectKey: key, rows: profile.rows, targetColumn: profile.targetColumn, taskType: profile.taskType,
                createdAt: now, profile: profile)
            let text = try JSONCoding.string(record)
            try replication.publish(manifestKey, data: Array(text.utf8), over: claim, createOnly: false,
                                    announcing: Change(.dataset, [fields.userID, fields.datasetID, version]))
            try catalog.commitDataset(id: pending.id, record: text)
            return record
        } catch {
            try? store.delete(key: key)
            if let claim, !claim.isEmpty { try? store.delete(key: manifestKey) }
            try? catalog.abandonDataset(id: pending.id)
            throw error
        }
    }

    public func record(user: String, dataset: String, version: String? = nil) throws -> DatasetRecord {
        guard let stored = try catalog.dataset(user: user, dataset: dataset, version: try version.map(DatasetRecord.number)) else {
            throw WarehouseError.notFound("dataset '\(dataset)'\(version.map { " version \($0)" } ?? "") not found for user '\(user)'")
        }
        return try JSONCoding.decode(DatasetRecord.self, stored.record)
    }

    /// Datasets matching `text`, best first, each with its best passage (match markers U+0001
    /// and U+0002, as model search), and the number of matches.
    public func search(user: String, text: String, limit: Int, skip: Int) throws
        -> (hits: [(record: DatasetRecord, snippet: String?)], total: Int) {
        let page = try catalog.searchDatasets(user: user, text: text, limit: limit, skip: skip)
        let hits = try page.datasets.map { stored -> (record: DatasetRecord, snippet: String?) in
            let record = try JSONCoding.decode(DatasetRecord.self, stored.record)
            let columns = [record.name, record.description ?? "", record.profile.columns.map(\.name).joined(separator: " "),
                           record.targetColumn, record.datasetID]
            return (record, Snippet.make(text: text, columns: columns))
        }
        return (hits, page.total)
    }

    public func list(user: String) throws -> [DatasetRecord] {
        try catalog.latestDatasets(user: user).map { try JSONCoding.decode(DatasetRecord.self, $0.record) }
    }

    /// Removes every version of a dataset and its objects; returns the versions removed.
    public func delete(user: String, dataset: String) throws -> [String] {
        let rows = try catalog.datasetVersions(user: user, dataset: dataset)
        guard !rows.isEmpty else { throw WarehouseError.notFound("dataset '\(dataset)' not found for user '\(user)'") }
        for row in rows {
            let prefix = ObjectKeys.datasetPrefix(user: user, dataset: dataset, version: "v\(row.version)")
            try replication.publish(ObjectKeys.datasetManifest(user: user, dataset: dataset, version: "v\(row.version)"), data: nil,
                                    over: nil, createOnly: false, announcing: Change(.dataset, [user, dataset, "v\(row.version)"]))
            try store.delete(keys: try store.list(prefix: prefix).map(\.key))
            try catalog.deleteDatasetRow(id: row.id)
        }
        return rows.map { "v\($0.version)" }
    }

    /// The dataset's CSV as a local file: the store's own file, or a copy in the spool folder
    /// (`temporary` says whether the caller must remove it).
    func localCopy(_ record: DatasetRecord) throws -> (path: String, temporary: Bool) {
        if let path = store.localPath(key: record.objectKey) { return (path, false) }
        let path = spoolDirectory + "/dataset-\(UUID().uuidString).csv"
        guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
            throw WarehouseError.storageUnavailable("cannot create \(path)")
        }
        defer { try? handle.close() }
        do {
            let reader = try store.open(key: record.objectKey, range: nil)
            defer { reader.close() }
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
            defer { buffer.deallocate() }
            while true {
                let count = try reader.read(into: buffer)
                if count == 0 { break }
                try handle.write(contentsOf: Data(buffer[0..<count]))
            }
        } catch {
            try? FileManager.default.removeItem(atPath: path)
            throw error
        }
        return (path, true)
    }

    /// CSV and profile errors are the client's: 400 with what and where.
    static func translatingErrors<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as CSVError {
            throw WarehouseError.invalid(error.description)
        } catch let error as ProfileError {
            throw WarehouseError.invalid(error.description)
        }
    }
}

extension DatasetService {
    /// Removes dataset uploads a previous process left pending, with their objects.
    public func recover() throws -> [String] {
        var actions: [String] = []
        for row in try catalog.pendingDatasets() {
            let prefix = ObjectKeys.datasetPrefix(user: row.userID, dataset: row.datasetID, version: "v\(row.version)")
            try store.delete(keys: try store.list(prefix: prefix).map(\.key))
            // The claim of the number, if this replica made it.
            let key = ObjectKeys.datasetManifest(user: row.userID, dataset: row.datasetID, version: "v\(row.version)")
            if case .present(let bytes) = try replication.readPublished(key), let claimant = replication.claimant(of: bytes),
               replication.isSelf(claimant) {
                try store.delete(key: key)
            }
            try catalog.deleteDatasetRow(id: row.id)
            actions.append("removed uncommitted dataset \(row.userID)/\(row.datasetID) v\(row.version)")
        }
        return actions
    }
}

extension DatasetService {
    /// The next dataset version: a pending row, and in a shared bucket the claim of its
    /// manifest (a number another replica took is skipped). Answers the claim's ETag.
    func reserveDataset(user: String, dataset: String, createdAt: String) throws -> (pending: (id: Int64, version: Int), claim: String?) {
        var atLeast = 1
        for _ in 0..<64 {
            let pending = try catalog.insertPendingDataset(user: user, dataset: dataset, createdAt: createdAt, atLeast: atLeast)
            let claim: String?
            do {
                claim = try replication.claim(ObjectKeys.datasetManifest(user: user, dataset: dataset, version: "v\(pending.version)"))
            } catch {
                try? catalog.abandonDataset(id: pending.id)
                throw error
            }
            if let claim { return (pending, claim) }
            try? catalog.abandonDataset(id: pending.id)
            atLeast = pending.version + 1
        }
        throw WarehouseError.conflict("could not claim a version of dataset '\(dataset)': other replicas kept taking them; retry")
    }

    /// Makes the catalog's copy of one dataset version what the bucket holds.
    public func syncDataset(user: String, dataset: String, version: String) throws {
        let number = try DatasetRecord.number(version)
        guard let current = try store.getDataAndETag(key: ObjectKeys.datasetManifest(user: user, dataset: dataset, version: version)) else {
            try catalog.forgetDataset(user: user, dataset: dataset, version: number)
            return
        }
        guard ClaimStub.decodeIfClaim(current.bytes) == nil else { return }
        let text = String(decoding: current.bytes, as: UTF8.self)
        if try catalog.dataset(user: user, dataset: dataset, version: number)?.record == text { return }
        let record = try JSONCoding.decode(DatasetRecord.self, text)
        try catalog.importDataset(user: user, dataset: dataset, version: number, record: text, createdAt: record.createdAt)
    }
}
