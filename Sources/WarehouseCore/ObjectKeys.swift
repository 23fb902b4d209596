/// Every object key of the layout in DESIGN.md, built and parsed in this one place, so no
/// caller cuts a key apart by hand.
public enum ObjectKeys {
    // MARK: - Prefixes

    /// Every model file lives under it.
    public static let models = "models/"
    public static let versionManifests = "manifests/models/"
    public static let aliasManifests = "manifests/aliases/"
    public static let datasetManifests = "manifests/datasets/"
    public static let tokens = "manifests/tokens/"
    public static let notifications = "manifests/notifications/"
    public static let jobs = "manifests/jobs/"
    /// Files uploaded through the Hub's Git LFS API, waiting for the commit that names them.
    public static let hubLargeFiles = "uploads/hub-lfs/"
    public static let mlflowStaging = "uploads/mlflow/"
    /// The change log replicas follow.
    public static let changes = "replication/changes/"
    /// Replicas' heartbeats.
    public static let replicas = "replication/replicas/"

    // MARK: - Building

    /// `datasets/{user}/{dataset}/{version}/`
    public static func datasetPrefix(user: String, dataset: String, version: String? = nil) -> String {
        "datasets/\(user)/\(dataset)/" + (version.map { $0 + "/" } ?? "")
    }

    public static func versionPrefix(user: String, model: String, version: String) -> String {
        "models/\(user)/\(model)/\(version)/"
    }

    public static func modelPrefix(user: String, model: String) -> String {
        "models/\(user)/\(model)/"
    }

    public static func file(user: String, model: String, version: String, path: String) -> String {
        versionPrefix(user: user, model: model, version: version) + path
    }

    public static func manifest(user: String, model: String, version: String) -> String {
        versionManifests + "\(user)/\(model)/\(version).json"
    }

    /// A model created before its versions (`manifests/models/{user}/{model}.json`, beside
    /// its versions' manifests), so that `reindex` restores it.
    public static func modelManifest(user: String, model: String) -> String {
        versionManifests + "\(user)/\(model).json"
    }

    /// `uploads/hub-lfs/{user}/{model}/{sha256}/{created}`: an LFS upload for a repo, by
    /// content and the Unix time its upload was granted (so gc can tell an old one from one in
    /// flight without asking any catalog).
    public static func hubLargeFile(user: String, model: String, sha256: String, created: Int64) -> String {
        hubLargeFilePrefix(user: user, model: model, sha256: sha256) + String(created)
    }

    public static func hubLargeFilePrefix(user: String, model: String, sha256: String) -> String {
        hubLargeFiles + "\(user)/\(model)/\(sha256)/"
    }

    /// Beside an LFS upload: the record that its bytes were checked (their SHA-256, and the
    /// store's ETag of the object then, so a replaced object is checked again).
    public static func hubLargeFileCheck(_ key: String) -> String { key + ".checked" }

    /// `uploads/mlflow/{user}/{id}/`: what an MLflow client staged for a logged model or a
    /// run (`record.json`, and its files under `artifacts/`). The id carries the Unix time it
    /// was made (`m-{time}-{hex}`), so gc can tell an old one without reading it.
    public static func mlflowStaging(user: String, id: String) -> String {
        mlflowStaging + "\(user)/\(id)/"
    }

    /// The Unix time an MLflow staging id (`m-1733570000-…`, `r-…`) was made.
    public static func mlflowStagingCreated(_ id: String) -> Int64? {
        let parts = id.split(separator: "-")
        guard parts.count == 3, parts[0].count == 1 else { return nil }
        return Int64(parts[1])
    }

    /// A dataset version's analysis, computed once and kept (a dataset's file is a base name,
    /// so nothing else in the version's folder has a slash after it).
    public static func datasetAnalysis(user: String, dataset: String, version: String) -> String {
        datasetPrefix(user: user, dataset: dataset, version: version) + "analysis/analysis.json"
    }

    /// A dataset version's record (written where replicas share the bucket).
    public static func datasetManifest(user: String, dataset: String, version: String) -> String {
        datasetManifests + "\(user)/\(dataset)/\(version).json"
    }

    /// A user token's id and owner under the SHA-256 of its secret (never the secret itself),
    /// where replicas share the bucket: a replica that does not know a token yet can look it up.
    public static func token(hash: String) -> String { tokens + "\(hash).json" }

    public static func notification(user: String, id: String) -> String { notifications + "\(user)/\(id).json" }

    /// A training job's latest state, published by the replica running it.
    public static func job(id: String) -> String { jobs + "\(id).json" }

    /// A model's aliases, so that `reindex` restores them too.
    public static func aliasManifest(user: String, model: String) -> String {
        aliasManifests + "\(user)/\(model).json"
    }

    /// Someone asked the replica running job `id` to cancel it.
    public static func cancel(job id: String) -> String { "replication/cancels/\(id)" }

    public static func lease(_ name: String) -> String { "replication/leases/\(name).json" }

    public static func heartbeat(replica: String) -> String { replicas + "\(replica).json" }

    /// A key written and removed at start-up to learn whether the store writes conditionally.
    public static func probe(replica: String, nonce: String) -> String { "replication/probe-\(replica)-\(nonce)" }

    /// `replication/changes/{ms}-{replica}-{n}~{kind}~{subject}`: the key says it all, so a
    /// follower needs one listing and no read to learn what changed. Keys sort by time.
    public static func change(milliseconds: Int64, replica: String, sequence: Int, kind: String, subject: [String]) -> String {
        changes + timeKey(milliseconds) + "-\(replica)-\(sequence)~\(kind)~" + subject.joined(separator: "/")
    }

    /// The first change key at or after `milliseconds` sorts after this.
    public static func changesAfter(milliseconds: Int64) -> String { changes + timeKey(milliseconds) }

    static func timeKey(_ milliseconds: Int64) -> String {
        let digits = String(max(0, milliseconds))
        return String(repeating: "0", count: max(0, 13 - digits.count)) + digits
    }

    // MARK: - Parsing

    /// What a key names.
    public enum Parsed: Equatable, Sendable {
        case versionManifest(user: String, model: String, version: String)
        case modelManifest(user: String, model: String)
        case aliasManifest(user: String, model: String)
        case datasetManifest(user: String, dataset: String, version: String)
        case token(hash: String)
        case notification(user: String, id: String)
        case job(id: String)
        case change(milliseconds: Int64, replica: String, kind: String, subject: [String])
        /// An LFS upload, or (`check`) the record that its bytes were checked.
        case hubLargeFile(user: String, model: String, sha256: String, created: Int64, check: Bool)
        /// Something an MLflow client staged (a logged model's or a run's record or file).
        case mlflowStaged(user: String, id: String, created: Int64)
    }

    /// The thing `key` names, or nil for a key of another shape (a file, a part, a stray).
    public static func parse(_ key: String) -> Parsed? {
        func segments(after prefix: String, count: Int) -> [String]? {
            guard key.hasPrefix(prefix), key.hasSuffix(".json") else { return nil }
            let parts = key.dropFirst(prefix.count).dropLast(5).split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            return parts.count == count && !parts.contains(where: \.isEmpty) ? parts : nil
        }
        if let parts = segments(after: versionManifests, count: 3) { return .versionManifest(user: parts[0], model: parts[1], version: parts[2]) }
        if let parts = segments(after: versionManifests, count: 2) { return .modelManifest(user: parts[0], model: parts[1]) }
        if let parts = segments(after: aliasManifests, count: 2) { return .aliasManifest(user: parts[0], model: parts[1]) }
        if let parts = segments(after: datasetManifests, count: 3) { return .datasetManifest(user: parts[0], dataset: parts[1], version: parts[2]) }
        if let parts = segments(after: tokens, count: 1) { return .token(hash: parts[0]) }
        if let parts = segments(after: notifications, count: 2) { return .notification(user: parts[0], id: parts[1]) }
        if let parts = segments(after: jobs, count: 1) { return .job(id: parts[0]) }
        if key.hasPrefix(changes) { return parseChange(key) }
        if key.hasPrefix(hubLargeFiles) {
            let parts = key.dropFirst(hubLargeFiles.count).split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 4, !parts[0].isEmpty, !parts[1].isEmpty, parts[2].utf8.count == 64 else { return nil }
            let check = parts[3].hasSuffix(".checked")
            guard let created = Int64(check ? String(parts[3].dropLast(".checked".count)) : parts[3]) else { return nil }
            return .hubLargeFile(user: parts[0], model: parts[1], sha256: parts[2], created: created, check: check)
        }
        if key.hasPrefix(mlflowStaging) {
            let parts = key.dropFirst(mlflowStaging.count).split(separator: "/", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 3, !parts[0].isEmpty, let created = mlflowStagingCreated(parts[1]) else { return nil }
            return .mlflowStaged(user: parts[0], id: parts[1], created: created)
        }
        return nil
    }

    private static func parseChange(_ key: String) -> Parsed? {
        let parts = key.dropFirst(changes.count).split(separator: "~", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[1].isEmpty else { return nil }
        let stamp = parts[0]
        guard stamp.count > 15, let milliseconds = Int64(stamp.prefix(13)), let last = stamp.lastIndex(of: "-") else { return nil }
        let replicaStart = stamp.index(stamp.startIndex, offsetBy: 14)
        guard replicaStart < last else { return nil }
        return .change(milliseconds: milliseconds, replica: String(stamp[replicaStart..<last]), kind: String(parts[1]),
                       subject: parts[2].split(separator: "/").map(String.init))
    }
}
