import Foundation
import Synchronization
import WarehouseCore
import WarehouseCrypto
import WarehouseCurl
#if canImport(Glibc)
import Glibc
#endif

/// A file to push: its path in the version, where it is here, and what it looked like when
/// the upload began (a changed file never resumes an old session).
public struct LocalUploadFile: Codable, Equatable, Sendable {
    public let path: String
    public let local: String
    public let size: UInt64
    public let modified: Double

    public init(path: String, local: String) throws {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: local),
              let size = attributes[.size] as? NSNumber, let date = attributes[.modificationDate] as? Date else {
            throw ClientError(status: 0, detail: "cannot read \(local)")
        }
        self.path = path
        self.local = local
        self.size = size.uint64Value
        self.modified = date.timeIntervalSince1970
    }

    /// Every regular file under `folder`, by its path relative to it (macOS Finder's
    /// `.DS_Store` and `._*` companions left out, as the server leaves them out of ZIPs).
    public static func folder(_ folder: String) throws -> [LocalUploadFile] {
        guard let enumerator = FileManager.default.enumerator(atPath: folder) else {
            throw ClientError(status: 0, detail: "cannot read \(folder)")
        }
        var files: [LocalUploadFile] = []
        while let relative = enumerator.nextObject() as? String {
            let name = (relative as NSString).lastPathComponent
            guard name != ".DS_Store", !name.hasPrefix("._"), !relative.hasPrefix("__MACOSX") else { continue }
            var status = stat()
            guard lstat(folder + "/" + relative, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG else { continue }
            files.append(try LocalUploadFile(path: relative, local: folder + "/" + relative))
        }
        guard !files.isEmpty else { throw ClientError(status: 0, detail: "\(folder) holds no files") }
        return files.sorted { $0.path < $1.path }
    }
}

/// What a resumable push keeps on disk between runs: enough to find its session again.
struct UploadState: Codable, Equatable {
    let url: String
    let sessionID: String
    let fields: [String: JSONValue]
    let files: [LocalUploadFile]

    enum CodingKeys: String, CodingKey { case url, sessionID = "session_id", fields, files }
}

/// Pushes files through an upload session: parts go in parallel, each with its SHA-256; the
/// session's id is kept in `stateFile`, so a push cut short (a crash, a reboot, a lost
/// network) resumes with the parts the server does not have, and only those.
public final class ResumablePush {
    let baseURL: String
    let token: String?
    public var partSize: UInt64 = 64 << 20
    public var parallel = 4
    /// Open new sessions with presigned part URLs (S3 stores): the client PUTs each part to
    /// the bucket itself, so the bytes never pass through the service.
    public var presigned = false

    public init(baseURL: String, token: String?) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.token = token
    }

    /// Uploads `files` as one new version with the upload `fields`; answers the version
    /// record. `resumed` is told when an earlier session is taken up again.
    public func push(_ files: [LocalUploadFile], fields: [String: JSONValue], stateFile: String,
                     progress: @escaping (UInt64, UInt64?) -> Void = { _, _ in },
                     resumed: (String, UInt64) -> Void = { _, _ in }) throws -> JSONValue {
        let client = WarehouseClient(baseURL: baseURL, token: token)
        var session = try resume(stateFile: stateFile, files: files, fields: fields, client: client)
        if let session, case .string(let id)? = session["session_id"] {
            resumed(id, Self.receivedBytes(session))
        }
        if session == nil {
            var request = fields
            request["part_size"] = .int(Int64(partSize))
            if presigned { request["presigned"] = .bool(true) }
            request["files"] = .array(files.map { .object(["path": .string($0.path), "size": .int(Int64($0.size))]) })
            guard case .object(let created) = try client.json("POST", "/ai-models/upload/sessions", body: .object(request)),
                  case .string(let id)? = created["session_id"] else {
                throw ClientError(status: 0, detail: "the server did not open an upload session")
            }
            try Self.save(UploadState(url: baseURL, sessionID: id, fields: fields, files: files), to: stateFile)
            session = created
        }
        guard let session, case .string(let id)? = session["session_id"], case .int(let size)? = session["part_size"] else {
            throw ClientError(status: 0, detail: "the upload session does not read")
        }
        let work = Self.missing(session, files: files, partSize: UInt64(size))
        let total = files.reduce(0) { $0 + $1.size }
        let sent = LockedProgress(done: Self.receivedBytes(session), total: total, report: progress)
        progress(Self.receivedBytes(session), total)
        // A resumed session keeps the way it was opened.
        let direct = session["presigned"] == .bool(true)
        try send(work, session: id, direct: direct, progress: { bytes in sent.add(bytes) })
        let record = try client.json("POST", "/ai-models/upload/sessions/\(id)/complete")
        try? FileManager.default.removeItem(atPath: stateFile)
        return record
    }

    /// The session of an earlier run of the same push, when it is still open.
    func resume(stateFile: String, files: [LocalUploadFile], fields: [String: JSONValue],
                client: WarehouseClient) throws -> [String: JSONValue]? {
        guard let data = FileManager.default.contents(atPath: stateFile),
              let state = try? JSONDecoder().decode(UploadState.self, from: data) else { return nil }
        guard state.url == baseURL, state.files == files, state.fields == fields else {
            try? FileManager.default.removeItem(atPath: stateFile)
            return nil
        }
        do {
            guard case .object(let session) = try client.json("GET", "/ai-models/upload/sessions/\(state.sessionID)"),
                  session["state"]?.stringValue == "open" else {
                try? FileManager.default.removeItem(atPath: stateFile)
                return nil
            }
            return session
        } catch let error as ClientError where error.status == 404 {
            try? FileManager.default.removeItem(atPath: stateFile)
            return nil
        }
    }

    struct PartJob {
        let file: LocalUploadFile
        let number: Int
        let offset: UInt64
        let length: UInt64
    }

    static func missing(_ session: [String: JSONValue], files: [LocalUploadFile], partSize: UInt64) -> [PartJob] {
        guard case .array(let listed)? = session["files"] else { return [] }
        var jobs: [PartJob] = []
        for case .object(let entry) in listed {
            guard let path = entry["path"]?.stringValue, let file = files.first(where: { $0.path == path }),
                  case .array(let numbers)? = entry["missing_parts"] else { continue }
            for case .int(let number) in numbers {
                let offset = UInt64(number - 1) * partSize
                jobs.append(PartJob(file: file, number: Int(number), offset: offset, length: min(partSize, file.size - offset)))
            }
        }
        return jobs
    }

    static func receivedBytes(_ session: [String: JSONValue]) -> UInt64 {
        guard case .array(let listed)? = session["files"] else { return 0 }
        return listed.reduce(0) { sum, entry in
            guard case .object(let file) = entry, case .int(let bytes)? = file["received_bytes"] else { return sum }
            return sum + UInt64(bytes)
        }
    }

    /// Sends the parts with `parallel` connections; a part that fails in transit is tried
    /// again (three times), a refusal stops the push.
    func send(_ jobs: [PartJob], session: String, direct: Bool, progress: @escaping @Sendable (UInt64) -> Void) throws {
        guard !jobs.isEmpty else { return }
        let next = Atomic<Int>(0)
        let failure = Mutex<ClientError?>(nil)
        let (baseURL, token) = (self.baseURL, self.token)
        let boxed = UncheckedBox(jobs)
        DispatchQueue.concurrentPerform(iterations: max(1, min(parallel, jobs.count))) { _ in
            let client = WarehouseClient(baseURL: baseURL, token: token)
            while failure.withLock({ $0 == nil }) {
                let index = next.wrappingAdd(1, ordering: .relaxed).oldValue
                guard index < boxed.value.count else { return }
                let job = boxed.value[index]
                var attempt = 0
                while true {
                    attempt += 1
                    do {
                        let digest = try Self.sha256(path: job.file.local, offset: job.offset, length: job.length)
                        let path = "/ai-models/upload/sessions/\(session)/parts/\(job.number)"
                        let file = "?file=" + WarehouseClient.query(job.file.path)
                        let body = CurlRequest.Body.file(path: job.file.local, offset: job.offset, length: job.length)
                        if direct {
                            // The URL carries its own signature: no bearer token goes to the bucket.
                            guard case .object(let signed) = try client.json("GET", path + "/url" + file + "&sha256=" + digest),
                                  let url = signed["url"]?.stringValue else {
                                throw ClientError(status: 0, detail: "the server gave no URL for part \(job.number)")
                            }
                            _ = try client.perform(CurlRequest(method: "PUT", url: url, headers: [], body: body))
                        } else {
                            _ = try client.perform(CurlRequest(method: "PUT", url: baseURL + path + file,
                                                               headers: client.authorization + [("X-Part-SHA256", digest)], body: body))
                        }
                        progress(job.length)
                        break
                    } catch let error as ClientError {
                        if (error.status == 0 || error.status >= 500), attempt < 3 { usleep(UInt32(200_000 * attempt)); continue }
                        failure.withLock { if $0 == nil { $0 = error } }
                        break
                    } catch {
                        failure.withLock { if $0 == nil { $0 = ClientError(status: 0, detail: "\(error)") } }
                        break
                    }
                }
            }
        }
        if let error = failure.withLock({ $0 }) { throw error }
    }

    static func save(_ state: UploadState, to path: String) throws {
        try createParentDirectory(of: path)
        let data = try JSONEncoder().encode(state)
        guard FileManager.default.createFile(atPath: path + ".tmp", contents: data), rename(path + ".tmp", path) == 0 else {
            throw ClientError(status: 0, detail: "cannot write the upload state \(path)")
        }
    }

    static func sha256(path: String, offset: UInt64, length: UInt64) throws -> String {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw ClientError(status: 0, detail: "cannot read \(path)") }
        defer { close(descriptor) }
        let hasher = SHA256()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        var done: UInt64 = 0
        while done < length {
            let count = pread(descriptor, buffer.baseAddress, Int(min(UInt64(buffer.count), length - done)), off_t(offset + done))
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { throw ClientError(status: 0, detail: "\(path) changed while it was being sent") }
            hasher.update(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
            done += UInt64(count)
        }
        return Hex.encode(hasher.finalize())
    }
}

/// Downloads a version's files, large ones as parallel byte ranges into their place, and
/// checks every file's SHA-256 against the catalog before it takes its final name: a
/// download that does not hash right is removed, never kept.
public final class VerifiedPull {
    let baseURL: String
    let token: String?
    public var parallel = 4
    public var rangeSize: UInt64 = 32 << 20

    public init(baseURL: String, token: String?) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.token = token
    }

    public struct RemoteFile: Sendable {
        public let path: String
        public let size: UInt64
        public let sha256: String
    }

    /// The version's files (the version resolved, so every file comes from the same one).
    public func files(user: String, model: String, versionQuery: String) throws -> (version: String, files: [RemoteFile]) {
        let client = WarehouseClient(baseURL: baseURL, token: token)
        guard case .object(let listing) = try client.json("GET", "/ai-models/\(user)/\(model)/files?" + versionQuery),
              let version = listing["version"]?.stringValue, case .array(let entries)? = listing["files"] else {
            throw ClientError(status: 0, detail: "the file list does not read")
        }
        let files = entries.compactMap { entry -> RemoteFile? in
            guard case .object(let file) = entry, let path = file["file_path"]?.stringValue,
                  let size = file["file_size"]?.doubleValue, let hash = file["file_hash"]?.stringValue else { return nil }
            return RemoteFile(path: path, size: UInt64(size), sha256: hash)
        }
        return (version, files)
    }

    /// Downloads `file` of `user/model` `version` to `destination`; answers its size.
    public func download(_ file: RemoteFile, user: String, model: String, version: String, to destination: String,
                         progress: @escaping @Sendable (UInt64) -> Void = { _ in }) throws -> UInt64 {
        let segments = file.path.split(separator: "/", omittingEmptySubsequences: false)
        guard !file.path.hasPrefix("/"), !segments.contains(where: { $0.isEmpty || $0 == ".." || $0 == "." }) else {
            throw ClientError(status: 0, detail: "refusing the unsafe path \(file.path)")
        }
        try createParentDirectory(of: destination)
        let partial = destination + ".partial"
        let descriptor = open(partial, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0, ftruncate(descriptor, off_t(file.size)) == 0 else {
            throw ClientError(status: 0, detail: "cannot write \(partial)")
        }
        defer { close(descriptor) }
        let url = baseURL + "/ai-models/\(user)/\(model)/download?version=\(WarehouseClient.query(version))&filename=" + WarehouseClient.query(file.path)
        let ranges = stride(from: UInt64(0), to: max(file.size, 1), by: Int(rangeSize)).map { $0..<min(file.size, $0 + rangeSize) }
        let next = Atomic<Int>(0)
        let failure = Mutex<ClientError?>(nil)
        let token = self.token, baseURL = self.baseURL
        DispatchQueue.concurrentPerform(iterations: max(1, min(parallel, ranges.count))) { _ in
            let client = WarehouseClient(baseURL: baseURL, token: token)
            while failure.withLock({ $0 == nil }) {
                let index = next.wrappingAdd(1, ordering: .relaxed).oldValue
                guard index < ranges.count else { return }
                let range = ranges[index]
                var offset = range.lowerBound
                let headers = file.size == 0 ? client.authorization
                    : client.authorization + [("Range", "bytes=\(range.lowerBound)-\(range.upperBound - 1)")]
                do {
                    _ = try client.perform(CurlRequest(method: "GET", url: url, headers: headers)) { bytes in
                        guard offset + UInt64(bytes.count) <= range.upperBound,
                              pwrite(descriptor, bytes.baseAddress, bytes.count, off_t(offset)) == bytes.count else { return false }
                        offset += UInt64(bytes.count)
                        progress(UInt64(bytes.count))
                        return true
                    }
                    if offset != range.upperBound {
                        throw ClientError(status: 0, detail: "\(file.path): bytes \(range) came back short or too long")
                    }
                } catch let error as ClientError {
                    failure.withLock { if $0 == nil { $0 = error } }
                } catch {
                    failure.withLock { if $0 == nil { $0 = ClientError(status: 0, detail: "\(error)") } }
                }
            }
        }
        if let error = failure.withLock({ $0 }) {
            unlink(partial)
            throw error
        }
        let digest = try ResumablePush.sha256(path: partial, offset: 0, length: file.size)
        guard digest == file.sha256 else {
            unlink(partial)
            throw ClientError(status: 0, detail: "\(file.path) has SHA-256 \(digest) after download, the warehouse records \(file.sha256): removed")
        }
        guard fsync(descriptor) == 0, rename(partial, destination) == 0 else {
            throw ClientError(status: 0, detail: "cannot write \(destination)")
        }
        return file.size
    }
}

/// Progress reported from many worker threads, one report at a time.
final class LockedProgress: @unchecked Sendable {
    private let lock = NSLock()
    private var done: UInt64
    private let total: UInt64
    private let report: (UInt64, UInt64?) -> Void

    init(done: UInt64, total: UInt64, report: @escaping (UInt64, UInt64?) -> Void) {
        self.done = done
        self.total = total
        self.report = report
    }

    func add(_ bytes: UInt64) {
        lock.lock()
        defer { lock.unlock() }
        done += bytes
        report(done, total)
    }
}

/// Lets a value the worker threads only read cross into `concurrentPerform`.
final class UncheckedBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

/// Creates the folder `path` goes in; a bare file name ("state.json") is in the working
/// directory, which exists.
private func createParentDirectory(of path: String) throws {
    let parent = (path as NSString).deletingLastPathComponent
    guard !parent.isEmpty else { return }
    try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
}
