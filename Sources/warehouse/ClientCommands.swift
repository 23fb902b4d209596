import Foundation
import WarehouseClient
import WarehouseCore
import WarehouseCrypto

/// Options every client command takes: the server and the token (flags, else
/// WAREHOUSE_URL / WAREHOUSE_TOKEN), and `--json` for scripts.
struct ClientOptions {
    static let options: Set<String> = ["url", "token"]
    static let flags: Set<String> = ["json"]
    static let usage = "[--url URL] [--token TOKEN] [--json]"

    let client: WarehouseClient
    let json: Bool

    init(_ parser: OptionParser) {
        let environment = ProcessInfo.processInfo.environment
        let url = parser.values["url"] ?? environment["WAREHOUSE_URL"] ?? "http://127.0.0.1:8000"
        client = WarehouseClient(baseURL: url, token: parser.values["token"] ?? environment["WAREHOUSE_TOKEN"])
        json = parser.flags.contains("json")
    }

    /// Exit codes scripts can trust: 0 done, 1 the server or the network failed (5xx, no
    /// connection), 2 the server refused the request (4xx), 3 a training job failed or was
    /// cancelled, 64 a usage error.
    static func exitCode(for error: any Error) -> Int32 {
        guard let error = error as? ClientError else { return 1 }
        return (400..<500).contains(error.status) ? 2 : 1
    }

    func output(_ value: JSONValue) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        print(String(decoding: (try? encoder.encode(value)) ?? Data(), as: UTF8.self))
    }
}

/// Transfer progress on stderr: a bar redrawn in place on a terminal, else one line at the end.
final class Progress {
    let label: String
    let isTerminal = isatty(STDERR_FILENO) == 1
    let started = Date()
    private var lastDraw = Date.distantPast

    init(_ label: String) { self.label = label }

    func update(_ done: UInt64, _ total: UInt64?) {
        guard isTerminal, Date().timeIntervalSince(lastDraw) > 0.1 else { return }
        lastDraw = Date()
        var line = "\r\(label) \(Self.bytes(done))"
        if let total, total > 0 {
            let fraction = min(1, Double(done) / Double(total))
            let filled = Int(fraction * 30)
            line += " / \(Self.bytes(total)) [" + String(repeating: "=", count: filled) + String(repeating: " ", count: 30 - filled) + "] \(Int(fraction * 100))%"
        }
        FileHandle.standardError.write(Data((line + "   ").utf8))
    }

    func finish(_ done: UInt64) {
        let seconds = max(Date().timeIntervalSince(started), 0.001)
        let text = "\(label) \(Self.bytes(done)) in \(String(format: "%.1f", seconds)) s (\(Self.bytes(UInt64(Double(done) / seconds)))/s)\n"
        FileHandle.standardError.write(Data(((isTerminal ? "\r" : "") + text).utf8))
    }

    static func bytes(_ count: UInt64) -> String {
        let units = ["B", "KB", "MB", "GB", "TB"]
        var value = Double(count), unit = 0
        while value >= 1000 && unit < units.count - 1 { value /= 1000; unit += 1 }
        return unit == 0 ? "\(count) B" : String(format: "%.1f %@", value, units[unit])
    }
}

/// `USER/MODEL[@version|@alias]`.
struct ModelReference {
    let user: String
    let model: String
    /// `v2`, `@production`, or nil for latest.
    let version: String?

    init(_ text: String) throws {
        var rest = Substring(text), version: String?
        if let at = rest.firstIndex(of: "@") {
            let suffix = String(rest[rest.index(after: at)...])
            version = suffix.hasPrefix("v") && suffix.dropFirst().first?.isNumber == true ? suffix : "@" + suffix
            rest = rest[..<at]
        }
        let parts = rest.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
            throw UsageError(description: "expected USER/MODEL[@version|@alias], got '\(text)'")
        }
        user = String(parts[0])
        model = String(parts[1])
        self.version = version
    }

    var query: String { version.map { "version=" + WarehouseClient.query($0) } ?? "" }
}

/// Runs a client command body, mapping failures to exit codes and messages on stderr.
func runClient(_ body: () throws -> Int32) -> Int32 {
    // A connection the server closed must fail the transfer with an error that says so, not
    // kill the command silently with SIGPIPE.
    signal(SIGPIPE, SIG_IGN)
    do {
        return try body()
    } catch let error as UsageError {
        FileHandle.standardError.write(Data("error: \(error)\n".utf8))
        return 64
    } catch {
        FileHandle.standardError.write(Data("error: \(error)\n".utf8))
        return ClientOptions.exitCode(for: error)
    }
}

struct PushCommand: WarehouseCommand {
    static let name = "push"
    static let abstract = "Upload a file or a folder as a model version (large files and folders resumably, in parallel parts)"
    static let usage = "warehouse push PATH --user U --model M [--version v] [--tag t]… [--framework f] [--description d] [--parallel 4] [--part-size 64M] [--threshold 64M] [--state-file F] [--presigned] \(ClientOptions.usage)"
    let path: String
    let fields: [(String, String)]
    let options: ClientOptions
    let parallel: Int
    let partSize: UInt64
    /// Files from this size up (and every folder) go through an upload session.
    let threshold: UInt64
    let stateFile: String?
    /// Parts go to the bucket through presigned URLs (S3 stores), whatever the size.
    let presigned: Bool
    let baseURL: String
    let token: String?

    init(arguments: [String]) throws {
        let parser = try OptionParser(arguments, options: ClientOptions.options.union(["user", "model", "version", "tag", "framework", "description", "name",
                                                                                        "parallel", "part-size", "threshold", "state-file"]),
                                      flags: ClientOptions.flags.union(["presigned"]), repeatable: ["tag"])
        guard parser.positional.count == 1 else { throw UsageError(description: "give one PATH") }
        guard let user = parser.values["user"], let model = parser.values["model"] else { throw UsageError(description: "--user and --model are required") }
        path = parser.positional[0]
        var fields = [("user_id", user), ("model_id", model)]
        for key in ["version", "framework", "description", "name"] { if let value = parser.values[key] { fields.append((key, value)) } }
        if let tags = parser.lists["tag"], !tags.isEmpty { fields.append(("tags", tags.joined(separator: ","))) }
        self.fields = fields
        options = ClientOptions(parser)
        parallel = try parser.values["parallel"].map {
            guard let count = Int($0), (1...64).contains(count) else { throw UsageError(description: "--parallel takes 1 to 64") }
            return count
        } ?? 4
        partSize = try Self.byteCount(parser.values["part-size"], option: "part-size") ?? (64 << 20)
        threshold = try Self.byteCount(parser.values["threshold"], option: "threshold") ?? (64 << 20)
        stateFile = parser.values["state-file"]
        presigned = parser.flags.contains("presigned")
        let environment = ProcessInfo.processInfo.environment
        baseURL = parser.values["url"] ?? environment["WAREHOUSE_URL"] ?? "http://127.0.0.1:8000"
        token = parser.values["token"] ?? environment["WAREHOUSE_TOKEN"]
    }

    /// `123`, `64K`, `64M`, `2G`.
    static func byteCount(_ text: String?, option: String) throws -> UInt64? {
        guard let text, !text.isEmpty else { return nil }
        let units: [Character: UInt64] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30]
        let unit = text.last.flatMap { units[Character($0.uppercased())] }
        guard let number = UInt64(unit == nil ? text : String(text.dropLast())) else {
            throw UsageError(description: "--\(option) takes a byte count such as 64M")
        }
        return number * (unit ?? 1)
    }

    /// Where a push keeps its session between runs: one small file per path, server and model.
    func defaultStateFile(for absolute: String) -> String {
        let environment = ProcessInfo.processInfo.environment
        let cache = environment["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (environment["HOME"] ?? NSTemporaryDirectory()) + "/.cache"
        let identity = ([absolute, baseURL] + fields.map { "\($0.0)=\($0.1)" }).joined(separator: "\n")
        return cache + "/warehouse/uploads/" + SHA256Text.hex(identity) + ".json"
    }

    func run() throws -> Int32 {
        runClient {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw UsageError(description: "\(path) does not exist")
            }
            let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
            let name = URL(fileURLWithPath: absolute).lastPathComponent
            let files = isDirectory.boolValue ? try LocalUploadFile.folder(absolute) : [try LocalUploadFile(path: name, local: absolute)]
            let record: JSONValue
            if isDirectory.boolValue || presigned || files[0].size >= threshold {
                let progress = Progress("uploading \(name)\(isDirectory.boolValue ? "/" : "")")
                let push = ResumablePush(baseURL: baseURL, token: token)
                push.parallel = parallel
                push.partSize = partSize
                push.presigned = presigned
                var values: [String: JSONValue] = [:]
                for (key, value) in fields { values[key] = .string(value) }
                record = try push.push(files, fields: values, stateFile: stateFile ?? defaultStateFile(for: absolute),
                                       progress: progress.update, resumed: { id, bytes in
                    FileHandle.standardError.write(Data("resuming upload session \(id): \(Progress.bytes(bytes)) already on the server\n".utf8))
                })
                progress.finish(files.reduce(0) { $0 + $1.size })
            } else {
                let progress = Progress("uploading \(name)")
                record = try options.client.upload("/ai-models/upload/single", fields: fields, fileField: "file", filename: name,
                                                   source: .file(path), progress: progress.update)
                progress.finish(files[0].size)
            }
            if options.json { options.output(record) } else if case .object(let object) = record {
                print("\(object["user_id"]?.stringValue ?? "")/\(object["model_id"]?.stringValue ?? "")@\(object["version"]?.stringValue ?? "") (\(object["framework"]?.stringValue ?? ""), primary \(object["primary_file_path"]?.stringValue ?? "-"))")
            }
            return 0
        }
    }
}

struct PullCommand: WarehouseCommand {
    static let name = "pull"
    static let abstract = "Download a model version (its files into a folder) or one file, in parallel ranges, each checked against its SHA-256"
    static let usage = "warehouse pull USER/MODEL[@version|@alias] [-o DIR] [--file PATH] [--parallel 4] \(ClientOptions.usage)"
    let reference: ModelReference
    let directory: String
    let file: String?
    let options: ClientOptions
    let parallel: Int
    let baseURL: String
    let token: String?

    init(arguments: [String]) throws {
        let normalized = arguments.map { $0 == "-o" ? "--output" : $0 }
        let parser = try OptionParser(normalized, options: ClientOptions.options.union(["output", "file", "parallel"]), flags: ClientOptions.flags)
        guard parser.positional.count == 1 else { throw UsageError(description: "give one USER/MODEL") }
        reference = try ModelReference(parser.positional[0])
        directory = parser.values["output"] ?? reference.model
        file = parser.values["file"]
        options = ClientOptions(parser)
        parallel = try parser.values["parallel"].map {
            guard let count = Int($0), (1...64).contains(count) else { throw UsageError(description: "--parallel takes 1 to 64") }
            return count
        } ?? 4
        let environment = ProcessInfo.processInfo.environment
        baseURL = parser.values["url"] ?? environment["WAREHOUSE_URL"] ?? "http://127.0.0.1:8000"
        token = parser.values["token"] ?? environment["WAREHOUSE_TOKEN"]
    }

    func run() throws -> Int32 {
        runClient {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let pull = VerifiedPull(baseURL: baseURL, token: token)
            pull.parallel = parallel
            let (version, listed) = try pull.files(user: reference.user, model: reference.model, versionQuery: reference.query)
            var chosen = listed
            if let file {
                let wanted = listed.filter { $0.path == file }
                let byName = listed.filter { URL(fileURLWithPath: $0.path).lastPathComponent == file }
                guard let match = wanted.first ?? (byName.count == 1 ? byName[0] : nil) else {
                    throw ClientError(status: 404, detail: "file '\(file)' not found in \(reference.user)/\(reference.model) \(version)")
                }
                chosen = [match]
            }
            let total = chosen.reduce(0) { $0 + $1.size }
            let progress = Progress("downloading \(reference.user)/\(reference.model)@\(version)")
            let counter = LockedCounter { done in progress.update(done, total) }
            var written: [String] = []
            for remote in chosen {
                let destination = directory + "/" + (file == nil ? remote.path : URL(fileURLWithPath: remote.path).lastPathComponent)
                _ = try pull.download(remote, user: reference.user, model: reference.model, version: version, to: destination,
                                      progress: { counter.add($0) })
                written.append(destination)
            }
            progress.finish(total)
            if options.json { options.output(.object(["files": .array(written.map(JSONValue.string))])) } else { written.forEach { print($0) } }
            return 0
        }
    }
}

/// Byte counts from download threads, reported one at a time.
final class LockedCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var done: UInt64 = 0
    private let report: (UInt64) -> Void
    init(report: @escaping (UInt64) -> Void) { self.report = report }
    func add(_ bytes: UInt64) {
        lock.lock()
        defer { lock.unlock() }
        done += bytes
        report(done)
    }
}

/// SHA-256 of a short text, hex (names the push state files).
enum SHA256Text {
    static func hex(_ text: String) -> String { SHA256.hex(of: Array(text.utf8)) }
}

struct ListCommand: WarehouseCommand {
    static let name = "ls"
    static let abstract = "List a user's models (latest version of each)"
    static let usage = "warehouse ls USER [--filter EXPR] [--order-by 'FIELD desc'] [--framework f] [--model-type t] [--tags a,b] [--versions all] [--scope all] [--limit N] \(ClientOptions.usage)"
    let user: String
    let filters: [(String, String)]
    let options: ClientOptions

    init(arguments: [String]) throws {
        let parser = try OptionParser(arguments, options: ClientOptions.options.union(SearchCommand.filterOptions), flags: ClientOptions.flags)
        guard parser.positional.count == 1 else { throw UsageError(description: "give one USER") }
        user = parser.positional[0]
        filters = SearchCommand.filters(parser)
        options = ClientOptions(parser)
    }

    func run() throws -> Int32 {
        runClient {
            let records = try options.client.json("GET", "/ai-models/\(user)?" + SearchCommand.queryString(filters))
            if options.json { options.output(records) } else { SearchCommand.printTable(records) }
            return 0
        }
    }
}

struct SearchCommand: WarehouseCommand {
    static let name = "search"
    static let abstract = "Search a user's models by text and filters"
    static let usage = "warehouse search USER QUERY [--filter EXPR] [--order-by 'FIELD desc'] [--framework f] [--model-type t] [--tags a,b] [--format f] [--versions all] [--scope all] [--limit N] \(ClientOptions.usage)"
    static let filterOptions: Set<String> = ["framework", "model-type", "tags", "format", "limit", "skip", "filter", "order-by",
                                             "versions", "scope", "cursor"]
    let user: String
    let text: String
    let filters: [(String, String)]
    let options: ClientOptions

    init(arguments: [String]) throws {
        let parser = try OptionParser(arguments, options: ClientOptions.options.union(Self.filterOptions), flags: ClientOptions.flags)
        guard parser.positional.count >= 2 else { throw UsageError(description: "give USER and QUERY") }
        user = parser.positional[0]
        text = parser.positional.dropFirst().joined(separator: " ")
        filters = Self.filters(parser)
        options = ClientOptions(parser)
    }

    static func filters(_ parser: OptionParser) -> [(String, String)] {
        filterOptions.sorted().compactMap { key in parser.values[key].map { (key.replacingOccurrences(of: "-", with: "_"), $0) } }
    }

    static func queryString(_ items: [(String, String)]) -> String {
        items.map { "\($0.0)=\(WarehouseClient.query($0.1))" }.joined(separator: "&")
    }

    func run() throws -> Int32 {
        runClient {
            let records = try options.client.json("GET", "/ai-models/search/\(user)?" + Self.queryString([("query", text)] + filters))
            if options.json { options.output(records) } else { Self.printTable(records) }
            return 0
        }
    }

    static func printTable(_ records: JSONValue) {
        guard case .array(let items) = records else { return }
        var rows = [["MODEL", "VERSION", "FRAMEWORK", "TYPE", "SIZE", "TAGS", "UPDATED"]]
        for case .object(let record) in items {
            let tags: String
            if case .array(let list)? = record["tags"] { tags = list.compactMap(\.stringValue).joined(separator: ",") } else { tags = "" }
            rows.append([record["model_id"]?.stringValue ?? "", record["version"]?.stringValue ?? "", record["framework"]?.stringValue ?? "",
                         record["model_type"]?.stringValue ?? "", String(format: "%.2f MB", record["model_size_mb"]?.doubleValue ?? 0), tags,
                         String((record["updated_at"]?.stringValue ?? "").prefix(19))])
        }
        let widths = rows[0].indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        for row in rows {
            print(row.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  "))
        }
    }
}

struct TrainCommand: WarehouseCommand {
    static let name = "train"
    static let abstract = "Upload a CSV dataset, train on it, follow the job and print the leaderboard"
    static let usage = "warehouse train USER DATASET.csv [--dataset-id ID] [--target COLUMN] [--time-limit 60] [--preset fast|balanced|best] "
        + "[--algorithms linear,gbdt,random_forest,extra_trees] [--features A,B] [--exclude C,D] [--validation holdout:0.2|cv:5] "
        + "[--seed N] [--metric NAME] [--model-id ID] \(ClientOptions.usage)"
    static let trainingOptions: Set<String> = ["preset", "algorithms", "features", "exclude", "validation", "seed", "metric", "model-id"]
    let user: String
    let path: String
    let fields: [(String, String)]
    /// The job's body when training options were given (the upload then queues no job itself).
    let job: [String: JSONValue]?
    let options: ClientOptions

    init(arguments: [String]) throws {
        let parser = try OptionParser(arguments, options: ClientOptions.options.union(["dataset-id", "target", "time-limit"]).union(Self.trainingOptions),
                                      flags: ClientOptions.flags)
        guard parser.positional.count == 2 else { throw UsageError(description: "give USER and DATASET.csv") }
        user = parser.positional[0]
        path = parser.positional[1]
        let dataset = parser.values["dataset-id"] ?? URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
            .replacingOccurrences(of: " ", with: "_")
        let limit = parser.values["time-limit"] ?? "60"
        let explicit = !Self.trainingOptions.isDisjoint(with: parser.values.keys)
        var fields = [("user_id", user), ("dataset_id", dataset), ("auto_train", explicit ? "false" : "true"), ("time_limit", limit)]
        if let target = parser.values["target"] { fields.append(("target_column", target)) }
        self.fields = fields
        job = explicit ? try Self.jobBody(parser.values, user: user, dataset: dataset, limit: limit) : nil
        options = ClientOptions(parser)
    }

    /// `POST /training/jobs` from the options; the server checks the values and names what is wrong.
    static func jobBody(_ values: [String: String], user: String, dataset: String, limit: String) throws -> [String: JSONValue] {
        func list(_ text: String) -> JSONValue {
            .array(text.split(separator: ",").map { .string($0.trimmingCharacters(in: .whitespaces)) })
        }
        guard let seconds = Double(limit) else { throw UsageError(description: "--time-limit takes seconds (got \(limit))") }
        var body: [String: JSONValue] = ["user_id": .string(user), "dataset_id": .string(dataset), "time_limit_s": .double(seconds)]
        body["target_column"] = values["target"].map(JSONValue.string)
        body["preset"] = values["preset"].map(JSONValue.string)
        body["algorithms"] = values["algorithms"].map(list)
        body["feature_columns"] = values["features"].map(list)
        body["exclude_columns"] = values["exclude"].map(list)
        body["metric"] = values["metric"].map(JSONValue.string)
        body["model_id"] = values["model-id"].map(JSONValue.string)
        if let seed = values["seed"] {
            guard let number = Int64(seed), number >= 0 else { throw UsageError(description: "--seed takes a non-negative integer (got \(seed))") }
            body["seed"] = .int(number)
        }
        if let validation = values["validation"] {
            let parts = validation.split(separator: ":", maxSplits: 1).map(String.init)
            let usage = UsageError(description: "--validation takes holdout:FRACTION or cv:FOLDS (got \(validation))")
            switch parts.first {
            case "holdout":
                guard let fraction = Double(parts.count > 1 ? parts[1] : "0.2"), fraction.isFinite else { throw usage }
                body["validation"] = .object(["kind": .string("holdout"), "fraction": .double(fraction)])
            case "cv":
                guard let folds = Int64(parts.count > 1 ? parts[1] : "5") else { throw usage }
                body["validation"] = .object(["kind": .string("cv"), "folds": .int(folds)])
            default: throw usage
            }
        }
        return body
    }

    func run() throws -> Int32 {
        runClient {
            guard FileManager.default.fileExists(atPath: path) else { throw UsageError(description: "\(path) does not exist") }
            let progress = Progress("uploading \(URL(fileURLWithPath: path).lastPathComponent)")
            let upload = try options.client.upload("/datasets/upload", fields: fields, fileField: "file",
                                                   filename: URL(fileURLWithPath: path).lastPathComponent, source: .file(path),
                                                   progress: progress.update)
            var queued: JSONValue?
            if case .object(let dataset) = upload {
                queued = dataset["training_job"]
                if var body = job {
                    // Train on exactly the version just uploaded.
                    body["dataset_version"] = dataset["version"]
                    queued = try options.client.json("POST", "/training/jobs", body: .object(body))
                }
            }
            guard case .object(let dataset) = upload, case .object(let job)? = queued, let id = job["job_id"]?.stringValue else {
                // The dataset is stored; the server says why it cannot be trained on (a refusal: exit 2).
                if case .object(let dataset) = upload, let reason = dataset["training_refusal"]?.stringValue {
                    throw ClientError(status: 400, detail: "dataset \(dataset["dataset_id"]?.stringValue ?? "") \(dataset["version"]?.stringValue ?? "") "
                        + "was stored but cannot be trained on: \(reason)")
                }
                throw ClientError(status: 0, detail: "the server queued no training job")
            }
            progress.finish(UInt64(dataset["file_size"]?.doubleValue ?? 0))
            let terminal = isatty(STDERR_FILENO) == 1
            FileHandle.standardError.write(Data("dataset \(dataset["dataset_id"]?.stringValue ?? "") \(dataset["version"]?.stringValue ?? ""): \(dataset["rows"]?.doubleValue.map { Int($0) } ?? 0) rows, target \(dataset["target_column"]?.stringValue ?? "?"), job \(id)\n".utf8))
            var leaderboard: [(String, Double)] = []
            try options.client.events("/training/jobs/\(id)/events") { event in
                guard case .object(let object) = event else { return true }
                if case .object(let candidate)? = object["candidate"], let model = candidate["model"]?.stringValue,
                   let score = candidate["validation_score"]?.doubleValue {
                    leaderboard.append((model, score))
                    if !options.json { FileHandle.standardError.write(Data(((terminal ? "\r" : "") + "  \(model): validation \(String(format: "%.4f", score))\n").utf8)) }
                } else if terminal, !options.json, let percent = object["progress"]?.doubleValue {
                    FileHandle.standardError.write(Data("\r[\(String(format: "%5.1f", percent))%] \((object["message"]?.stringValue ?? "").prefix(60))   ".utf8))
                }
                return !["complete", "error", "cancelled"].contains(object["type"]?.stringValue ?? "")
            }
            let finished = try options.client.json("GET", "/training/jobs/\(id)")
            guard case .object(let state) = finished else { return 1 }
            if terminal && !options.json { FileHandle.standardError.write(Data("\r".utf8)) }
            if options.json {
                options.output(finished)
            } else if state["status"]?.stringValue == "succeeded", case .object(let result)? = state["result"] {
                print("trained \(user)/\(result["model_id"]?.stringValue ?? "")@\(result["version"]?.stringValue ?? ""): \(result["best_model"]?.stringValue ?? "")")
                print("validation \(result["metric"]?.stringValue ?? "") \(String(format: "%.4f", result["validation_score"]?.doubleValue ?? 0)); promoted: \(result["promoted"] == .bool(true) ? "yes" : "no")")
                if case .object(let test)? = result["test_metrics"] {
                    print("test: " + test.keys.sorted().map { "\($0) \(String(format: "%.4f", test[$0]?.doubleValue ?? 0))" }.joined(separator: ", "))
                }
                print("leaderboard:")
                if case .array(let rows)? = result["leaderboard"] {
                    for case .object(let row) in rows {
                        print("  \((row["model"]?.stringValue ?? "").padding(toLength: 32, withPad: " ", startingAt: 0)) \(String(format: "%.4f", row["validation_score"]?.doubleValue ?? 0))")
                    }
                }
            } else {
                FileHandle.standardError.write(Data("training \(state["status"]?.stringValue ?? "?"): \(state["error"]?.stringValue ?? "")\n".utf8))
            }
            return state["status"]?.stringValue == "succeeded" ? 0 : 3
        }
    }
}

struct PredictCommand: WarehouseCommand {
    static let name = "predict"
    static let abstract = "Predict the rows of a CSV file with a trained model"
    static let usage = "warehouse predict USER/MODEL[@version|@alias] FILE.csv \(ClientOptions.usage)"
    let reference: ModelReference
    let path: String
    let options: ClientOptions

    init(arguments: [String]) throws {
        let parser = try OptionParser(arguments, options: ClientOptions.options, flags: ClientOptions.flags)
        guard parser.positional.count == 2 else { throw UsageError(description: "give USER/MODEL and FILE.csv") }
        reference = try ModelReference(parser.positional[0])
        path = parser.positional[1]
        options = ClientOptions(parser)
    }

    func run() throws -> Int32 {
        runClient {
            guard FileManager.default.fileExists(atPath: path) else { throw UsageError(description: "\(path) does not exist") }
            let answer = try options.client.post("/ai-models/\(reference.user)/\(reference.model)/predict?" + reference.query,
                                                 file: path, contentType: "text/csv")
            if options.json { options.output(answer); return 0 }
            guard case .object(let object) = answer, case .array(let predictions)? = object["predictions"] else { return 1 }
            var classes: [String] = []
            if case .array(let list)? = object["classes"] {
                classes = list.map { $0.stringValue ?? $0.doubleValue.map { String(Int($0)) } ?? "" }
            }
            print((["prediction_id", "prediction"] + classes.map { "p(\($0))" }).joined(separator: ","))
            var ids: [String] = []
            if case .array(let list)? = object["prediction_ids"] { ids = list.compactMap(\.stringValue) }
            var probabilities: [JSONValue] = []
            if case .array(let list)? = object["probabilities"] { probabilities = list }
            for (index, prediction) in predictions.enumerated() {
                var fields = [index < ids.count ? ids[index] : "", prediction.stringValue ?? prediction.doubleValue.map { Progress.number($0) } ?? ""]
                if index < probabilities.count, case .array(let row) = probabilities[index] {
                    fields += row.map { String(format: "%.6g", $0.doubleValue ?? 0) }
                }
                print(fields.map { $0.contains(",") ? "\"\($0)\"" : $0 }.joined(separator: ","))
            }
            return 0
        }
    }
}

extension Progress {
    static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}
