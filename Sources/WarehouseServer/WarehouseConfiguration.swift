import Foundation
import WarehouseCore
import WarehouseService
import WarehouseZip

/// Service settings: defaults, then `config/warehouse.json` (or `--config FILE`), then
/// WAREHOUSE_* environment variables, then command-line flags, each overriding the last.
public struct WarehouseConfiguration: Sendable, Equatable {
    public enum StorageKind: String, Sendable { case filesystem, s3 }

    public var host = "127.0.0.1"
    public var port: UInt16 = 8000
    public var dataDirectory = "storage"
    public var storage = StorageKind.filesystem
    public var adminToken: String?
    /// Largest request body accepted (413 beyond).
    public var maxUploadBytes: UInt64 = 1 << 40
    /// How long an upload session stays open (`WAREHOUSE_UPLOAD_SESSION_LIFETIME_SECONDS`).
    public var uploadSessionLifetimeSeconds = 86_400
    /// On SIGTERM, how long requests in flight may run before what is left is rolled back
    /// (`WAREHOUSE_SHUTDOWN_GRACE_SECONDS`).
    public var shutdownGraceSeconds: Double = 10
    /// The Hub protocol: files up to this size are uploaded inline in the commit (`regular`,
    /// what a default client install can do without Xet), larger ones through Git LFS.
    public var hfRegularUploadMaxBytes: UInt64 = 1 << 30
    /// The Hub protocol: `/resolve` downloads redirect to a presigned bucket URL (S3 only).
    public var hfDownloadRedirect = false
    /// Seconds a connection may sit idle (or trickle nothing) before it is closed.
    public var connectionTimeoutSeconds: UInt32 = 120
    /// Connections served at once; more wait in the listen queue.
    public var connectionLimit: UInt32 = 512
    /// Request bodies slower than this on average after `slowBodyGraceSeconds` are cut off.
    public var minUploadBytesPerSecond: UInt64 = 1024
    public var slowBodyGraceSeconds: Double = 30
    /// Limits on uploaded ZIP archives.
    public var zipLimits = ZipLimits()
    public var s3Endpoint: String?
    public var s3Bucket: String?
    public var s3Region = "us-east-1"
    public var s3AccessKey: String?
    public var s3SecretKey: String?
    public var s3PathStyle = true
    public var s3Prefix = ""
    /// Multipart part size for S3 uploads.
    public var s3PartSize: UInt64 = 8 << 20
    /// Multipart parts in flight at once.
    public var s3ConcurrentParts = 8
    /// Sign each multipart part with its SHA-256 instead of `UNSIGNED-PAYLOAD`
    /// (`WAREHOUSE_S3_SIGN_PART_PAYLOADS`), for a store that insists.
    public var s3SignPartPayloads = false
    /// Training jobs run at once (each uses both cores when it can).
    public var trainingWorkers = 1
    /// Trained pipelines kept in memory for /predict.
    public var predictionCacheSize = 16
    /// When retraining starts by itself (a model's own settings override these).
    public var retraining = RetrainingDefaults()
    /// Whether this replica shares its bucket with others (`WAREHOUSE_REPLICATION=on`; needs
    /// S3 with conditional writes). Off: it must be the only one.
    public var replication = false
    /// This replica's name in the bucket (`WAREHOUSE_REPLICA_ID`; default: one generated
    /// into `DATA_DIR/replica-id` at first start).
    public var replicaID: String?
    /// How often the other replicas' changes are read (`WAREHOUSE_REPLICATION_POLL_SECONDS`).
    public var replicationPollSeconds = 0.5
    /// How long a lease on a job or on gc lasts unless renewed (`WAREHOUSE_LEASE_SECONDS`).
    public var leaseSeconds = 15.0
    /// How long change log entries are kept (`WAREHOUSE_CHANGE_RETENTION_SECONDS`).
    public var changeRetentionSeconds = 86_400.0

    /// Browser origins (scheme://host[:port]) whose pages may call the API (CORS); none by
    /// default (`WAREHOUSE_CORS_ORIGINS`, comma-separated).
    public var corsOrigins: [String] = []
    /// An OpenAI-compatible API's base (`…/v1`) for `POST /datasets/…/chat`
    /// (`WAREHOUSE_LLM_URL`); nil: the route answers 501.
    public var llmURL: String?
    public var llmModel: String?
    public var llmAPIKey: String?

    public init() {}

    /// The default config file, when present in the working directory.
    public static let defaultConfigFile = "config/warehouse.json"

    /// Loads `file` (nil: the default file if it exists) and applies `environment` over it.
    public static func load(file: String?, environment: [String: String]) throws -> WarehouseConfiguration {
        var configuration = WarehouseConfiguration()
        let path = file ?? (FileManager.default.fileExists(atPath: defaultConfigFile) ? defaultConfigFile : nil)
        if let path {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw WarehouseError.invalid("cannot read config file \(path)")
            }
            try configuration.apply(json: data, source: path)
        }
        try configuration.apply(environment: environment)
        return configuration
    }

    mutating func apply(json data: Data, source: String) throws {
        guard case .object(let object)? = try? JSONDecoder().decode(JSONValue.self, from: data) else {
            throw WarehouseError.invalid("config file \(source) is not a JSON object")
        }
        for (key, value) in object {
            let text: String
            switch value {
            case .string(let string): text = string
            case .int(let number): text = String(number)
            case .bool(let flag): text = String(flag)
            case .array(let items) where items.allSatisfy({ $0.stringValue != nil }):
                text = items.compactMap(\.stringValue).joined(separator: ",")
            case .null: continue
            default: throw WarehouseError.invalid("config file \(source): '\(key)' must be a string, number or boolean")
            }
            try set(key, text, source: "config file \(source)")
        }
    }

    mutating func apply(environment: [String: String]) throws {
        for (key, value) in environment where key.hasPrefix("WAREHOUSE_") {
            let name = String(key.dropFirst("WAREHOUSE_".count)).lowercased()
            guard Self.settingNames.contains(name) else { continue }
            try set(name, value, source: "environment variable \(key)")
        }
    }

    static let settingNames: Set<String> = [
        "host", "port", "data_dir", "storage", "admin_token", "max_upload_bytes", "connection_timeout_seconds",
        "connection_limit", "min_upload_bytes_per_second", "slow_body_grace_seconds", "s3_endpoint", "s3_bucket",
        "s3_region", "s3_access_key", "s3_secret_key", "s3_path_style", "s3_prefix", "s3_part_size", "s3_concurrent_parts",
        "s3_sign_part_payloads",
        "zip_max_entries", "zip_max_total_bytes", "zip_max_compression_ratio", "zip_ratio_threshold_bytes",
        "training_workers", "prediction_cache_size", "retrain_enabled", "retrain_accuracy_threshold", "retrain_feedback_count",
        "retrain_min_feedback", "upload_session_lifetime_seconds", "shutdown_grace_seconds",
        "hf_regular_upload_max_bytes", "hf_download_redirect",
        "replication", "replica_id", "replication_poll_seconds", "lease_seconds", "change_retention_seconds",
        "cors_origins", "llm_url", "llm_model", "llm_api_key",
    ]

    /// Sets one setting by its config-file name, validating the value.
    public mutating func set(_ name: String, _ value: String, source: String) throws {
        func invalid(_ expected: String) -> WarehouseError {
            .invalid("\(source): '\(name)' must be \(expected) (got \(Identifiers.quoted(value)))")
        }
        switch name {
        case "host": host = value
        case "port":
            guard let port = UInt16(value) else { throw invalid("a port number 0-65535") }
            self.port = port
        case "data_dir":
            guard !value.isEmpty else { throw invalid("a directory") }
            dataDirectory = value
        case "storage":
            guard let kind = StorageKind(rawValue: value.lowercased()) else { throw invalid("'filesystem' or 's3'") }
            storage = kind
        case "admin_token": adminToken = value.isEmpty ? nil : value
        case "max_upload_bytes":
            guard let bytes = UInt64(value), bytes > 0 else { throw invalid("a positive byte count") }
            maxUploadBytes = bytes
        case "upload_session_lifetime_seconds":
            guard let seconds = Int(value), seconds > 0 else { throw invalid("a positive number of seconds") }
            uploadSessionLifetimeSeconds = seconds
        case "shutdown_grace_seconds":
            guard let seconds = Double(value), seconds >= 0, seconds <= 3600 else { throw invalid("a number of seconds from 0 to 3600") }
            shutdownGraceSeconds = seconds
        case "hf_regular_upload_max_bytes":
            guard let bytes = UInt64(value) else { throw invalid("a byte count") }
            hfRegularUploadMaxBytes = bytes
        case "hf_download_redirect":
            guard let flag = try? FieldValues.bool(value, field: name) else { throw invalid("true or false") }
            hfDownloadRedirect = flag
        case "zip_max_entries":
            guard let count = Int(value), count > 0 else { throw invalid("a positive entry count") }
            zipLimits.maxEntries = count
        case "zip_max_total_bytes":
            guard let bytes = UInt64(value), bytes > 0 else { throw invalid("a positive byte count") }
            zipLimits.maxTotalUncompressedBytes = bytes
        case "zip_max_compression_ratio":
            guard let ratio = UInt64(value), ratio > 0 else { throw invalid("a positive ratio") }
            zipLimits.maxCompressionRatio = ratio
        case "zip_ratio_threshold_bytes":
            guard let bytes = UInt64(value) else { throw invalid("a byte count") }
            zipLimits.compressionRatioThresholdBytes = bytes
        case "connection_timeout_seconds":
            guard let seconds = UInt32(value), seconds > 0 else { throw invalid("a positive number of seconds") }
            connectionTimeoutSeconds = seconds
        case "connection_limit":
            guard let limit = UInt32(value), limit > 0 else { throw invalid("a positive connection count") }
            connectionLimit = limit
        case "min_upload_bytes_per_second":
            guard let rate = UInt64(value) else { throw invalid("a byte rate (0 disables the check)") }
            minUploadBytesPerSecond = rate
        case "slow_body_grace_seconds":
            guard let seconds = Double(value), seconds > 0 else { throw invalid("a positive number of seconds") }
            slowBodyGraceSeconds = seconds
        case "s3_endpoint": s3Endpoint = value
        case "s3_bucket": s3Bucket = value
        case "s3_region": s3Region = value
        case "s3_access_key": s3AccessKey = value
        case "s3_secret_key": s3SecretKey = value
        case "s3_path_style":
            guard let flag = try? FieldValues.bool(value, field: name) else { throw invalid("true or false") }
            s3PathStyle = flag
        case "s3_prefix": s3Prefix = value
        case "s3_sign_part_payloads":
            guard let flag = try? FieldValues.bool(value, field: name) else { throw invalid("true or false") }
            s3SignPartPayloads = flag
        case "s3_concurrent_parts":
            guard let count = Int(value), (1...64).contains(count) else { throw invalid("a number from 1 to 64") }
            s3ConcurrentParts = count
        case "s3_part_size":
            guard let bytes = UInt64(value), bytes >= 5 << 20 else { throw invalid("a byte count of at least 5 MiB (S3's minimum part size)") }
            s3PartSize = bytes
        case "training_workers":
            guard let count = Int(value), (1...64).contains(count) else { throw invalid("a number from 1 to 64") }
            trainingWorkers = count
        case "prediction_cache_size":
            guard let count = Int(value), (1...10_000).contains(count) else { throw invalid("a number from 1 to 10000") }
            predictionCacheSize = count
        case "retrain_enabled":
            guard let flag = try? FieldValues.bool(value, field: name) else { throw invalid("true or false") }
            retraining.enabled = flag
        case "retrain_accuracy_threshold":
            guard let threshold = Double(value), (0...1).contains(threshold) else { throw invalid("a number from 0 to 1") }
            retraining.accuracyThreshold = threshold
        case "retrain_feedback_count":
            guard let count = Int(value), count >= 1 else { throw invalid("a positive count") }
            retraining.feedbackCount = count
        case "retrain_min_feedback":
            guard let count = Int(value), count >= 1 else { throw invalid("a positive count") }
            retraining.minimumFeedback = count
        case "replication":
            switch value.lowercased() {
            case "on", "true", "1", "yes": replication = true
            case "off", "false", "0", "no": replication = false
            default: throw invalid("on or off")
            }
        case "replica_id":
            guard value.isEmpty || Identifiers.isValidName(value) else { throw invalid("a name of letters, digits, '.', '_' and '-'") }
            replicaID = value.isEmpty ? nil : value
        case "replication_poll_seconds":
            guard let seconds = Double(value), seconds >= 0.05, seconds <= 60 else { throw invalid("seconds between 0.05 and 60") }
            replicationPollSeconds = seconds
        case "lease_seconds":
            guard let seconds = Double(value), seconds >= 1 else { throw invalid("at least 1 second") }
            leaseSeconds = seconds
        case "change_retention_seconds":
            guard let seconds = Double(value), seconds >= 60 else { throw invalid("at least 60 seconds") }
            changeRetentionSeconds = seconds
        case "cors_origins":
            var origins: [String] = []
            for origin in value.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !origin.isEmpty {
                // An origin is exactly what a browser sends: scheme, host, optional port; no path.
                guard let url = URL(string: origin), let scheme = url.scheme, ["http", "https"].contains(scheme),
                      url.host != nil, url.path.isEmpty, url.query == nil else {
                    throw invalid("origins such as https://app.example.com or http://localhost:5173, comma-separated")
                }
                origins.append(origin.lowercased())
            }
            corsOrigins = origins
        case "llm_url":
            guard value.isEmpty || value.hasPrefix("http://") || value.hasPrefix("https://") else {
                throw invalid("an http(s) URL, the base of an OpenAI-compatible API such as http://127.0.0.1:11434/v1")
            }
            llmURL = value.isEmpty ? nil : value
        case "llm_model": llmModel = value.isEmpty ? nil : value
        case "llm_api_key": llmAPIKey = value.isEmpty ? nil : value
        default:
            throw WarehouseError.invalid("\(source): unknown setting '\(name)'")
        }
    }
}
