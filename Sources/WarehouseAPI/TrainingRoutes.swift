import Foundation
import WarehouseAutoML
import WarehouseCore
import WarehouseHTTPServer
import WarehouseService

/// `/training/jobs` and `/ai-models/{user}/{model}/predict`.
struct TrainingRoutes {
    let training: TrainingService
    let predictions: PredictionService
    let access: AccessControl
    let tickets: EventTickets

    var definitions: [RouteDefinition] {
        let training = self.training
        let predictions = self.predictions
        let access = self.access
        let tickets = self.tickets
        return [
            RouteDefinition("POST", "/training/jobs", body: .buffered(maxBytes: 1 << 20)) { request in
                let trainingRequest = try TrainingRequest(json: try JSON.object(from: request.body.bytes))
                try request.principal().authorize(user: trainingRequest.userID)
                return JSON.response(try training.submit(trainingRequest), status: 202)
            },
            RouteDefinition("GET", "/training/jobs") { request in
                let principal = try request.principal()
                guard let user = request.nonEmptyQuery("user_id") else { throw WarehouseError.invalid("query parameter 'user_id' is required") }
                try principal.authorize(user: user)
                return JSON.response(try training.jobs(user: user))
            },
            RouteDefinition("GET", "/training/jobs/{job_id}") { request in
                JSON.response(try Self.ownedJob(request, training: training, access: access))
            },
            RouteDefinition("POST", "/training/jobs/{job_id}/cancel") { request in
                let job = try Self.ownedJob(request, training: training, access: access)
                return JSON.response(try training.cancel(id: job.jobID))
            },
            RouteDefinition("POST", "/training/jobs/{job_id}/events-ticket") { request in
                let job = try Self.ownedJob(request, training: training, access: access)
                let issued = tickets.issue(job: job.jobID)
                return JSON.response(["ticket": issued.ticket, "expires_at": issued.expiresAt, "job_id": job.jobID,
                                      "events_url": "/training/jobs/\(job.jobID)/events?ticket=" + issued.ticket])
            },
            RouteDefinition("GET", "/training/jobs/{job_id}/events") { request in
                let job: TrainingJob
                if let ticket = request.query("ticket"), request.headers["authorization"] == nil {
                    try tickets.redeem(ticket, job: request.parameter("job_id"))
                    job = try training.job(id: request.parameter("job_id"))
                } else {
                    job = try Self.ownedJob(request, training: training, access: access)
                }
                let lastID = Int(request.headers["last-event-id"] ?? request.nonEmptyQuery("last_event_id") ?? "0") ?? 0
                var headers = HTTPHeaders()
                headers.add("Content-Type", "text/event-stream")
                headers.add("Cache-Control", "no-cache")
                headers.add("X-Accel-Buffering", "no")
                return HTTPResponse(status: 200, headers: headers,
                                    body: .stream(length: nil, reader: JobEventStream(training: training, jobID: job.jobID, after: lastID)))
            },
            RouteDefinition("POST", "/ai-models/{user_id}/{model_id}/predict", body: .buffered(maxBytes: 256 << 20)) { request in
                let rows = try PredictionInput.rows(request)
                let answer = try predictions.predict(user: try request.userParameter(), model: try request.modelParameter(),
                                                     version: try request.versionQuery(), rows: rows)
                return JSON.response(PredictionDTO(answer))
            },
        ]
    }

    /// The job, if the caller may see it (404 rather than 403 for another user's job id).
    static func ownedJob(_ request: HTTPRequest, training: TrainingService, access: AccessControl) throws -> TrainingJob {
        let id = request.parameter("job_id")
        let job = try training.job(id: id)
        do {
            try request.principal().authorize(user: job.userID)
        } catch WarehouseError.forbidden {
            throw WarehouseError.notFound("training job '\(id)' not found")
        }
        return job
    }
}

/// Rows to predict from a JSON body (`{"rows": [{column: value}]}`, or a bare array) or a CSV
/// body (`Content-Type: text/csv`, header row first).
enum PredictionInput {
    static func rows(_ request: HTTPRequest) throws -> [[String: String?]] {
        let bytes = request.body.bytes
        let contentType = (request.headers["content-type"] ?? "").lowercased()
        if contentType.hasPrefix("text/csv") || contentType.hasPrefix("application/csv") {
            return try csvRows(bytes)
        }
        guard !bytes.isEmpty else { throw WarehouseError.invalid("the request body is empty; send {\"rows\": [{column: value, …}]} or a CSV body with Content-Type: text/csv") }
        let value: JSONValue
        do {
            value = try JSONDecoder().decode(JSONValue.self, from: Data(bytes))
        } catch {
            throw WarehouseError.invalid("the request body is not valid JSON")
        }
        let list: [JSONValue]
        switch value {
        case .array(let items): list = items
        case .object(let object):
            guard case .array(let items)? = object["rows"] ?? object["data"] ?? object["instances"] else {
                throw WarehouseError.invalid("the JSON body needs \"rows\": a list of objects, one per row, column → value")
            }
            list = items
        default:
            throw WarehouseError.invalid("the JSON body must be {\"rows\": [...]}")
        }
        return try list.enumerated().map { index, item in
            guard case .object(let fields) = item else { throw WarehouseError.invalid("row \(index) is not a JSON object of column → value") }
            return try fields.mapValues { try text($0, row: index) }
        }
    }

    static func text(_ value: JSONValue, row: Int) throws -> String? {
        switch value {
        case .null: return nil
        case .bool(let flag): return flag ? "true" : "false"
        case .int(let number): return String(number)
        case .double(let number):
            if number.isFinite, number == number.rounded(), abs(number) < 1e15 { return String(Int64(number)) }
            return number.isFinite ? String(number) : nil
        case .string(let text): return text
        case .array, .object: throw WarehouseError.invalid("row \(row) has a list or object as a value; values are numbers, strings, booleans or null")
        }
    }

    static func csvRows(_ bytes: [UInt8]) throws -> [[String: String?]] {
        let path = NSTemporaryDirectory() + "/predict-\(UUID().uuidString).csv"
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else {
            throw WarehouseError.storageUnavailable("cannot write a temporary file")
        }
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            let table = try CSVTable(path: path)
            var rows: [[String: String?]] = []
            try table.forEachRow { row in
                var values: [String: String?] = [:]
                for (name, value) in zip(table.header, row) { values[name] = .some(value) }
                rows.append(values)
            }
            return rows
        } catch let error as CSVError {
            throw WarehouseError.invalid(error.description)
        }
    }
}

struct PredictionDTO: Encodable {
    let answer: PredictionService.Answer
    init(_ answer: PredictionService.Answer) { self.answer = answer }

    enum CodingKeys: String, CodingKey {
        case modelID = "model_id", version, predictions, probabilities, classes, predictionIDs = "prediction_ids", target
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(answer.record.modelID, forKey: .modelID)
        try c.encode(answer.record.version, forKey: .version)
        try c.encode(answer.pipeline.target.name, forKey: .target)
        let target = answer.pipeline.target
        if let labels = answer.output.labels {
            // Integer class labels go out as numbers, as they came in.
            if target.integerLabels {
                try c.encode(labels.map { Int64($0) ?? 0 }, forKey: .predictions)
                try c.encode(target.classes?.map { Int64($0) ?? 0 }, forKey: .classes)
            } else {
                try c.encode(labels, forKey: .predictions)
                try c.encode(target.classes, forKey: .classes)
            }
            try c.encode(answer.output.probabilities, forKey: .probabilities)
        } else {
            try c.encode(answer.output.values ?? [], forKey: .predictions)
        }
        try c.encode(answer.predictionIDs, forKey: .predictionIDs)
    }
}

/// Server-Sent Events of one job: its stored events after `Last-Event-ID`, then new ones as
/// they are recorded, until the job has finished and its last event is sent. Blocking reads
/// are fine here: each connection has its own thread.
final class JobEventStream: HTTPBodyReader {
    let training: TrainingService
    let jobID: String
    private var lastID: Int
    private var pending: [UInt8] = []
    private var finished = false
    private var lastWrite = Date()

    init(training: TrainingService, jobID: String, after: Int) {
        self.training = training
        self.jobID = jobID
        lastID = after
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while pending.isEmpty {
            if finished { return 0 }
            // At shutdown the stream ends (a client resumes with Last-Event-ID after restart).
            if training.isStopping {
                Thread.sleep(forTimeInterval: 0.3)  // lets a running job record why it stopped
                finished = true
            }
            let events = try training.events(job: jobID, after: lastID)
            for event in events {
                pending += Array("id: \(event.id)\ndata: \(event.json)\n\n".utf8)
                lastID = event.id
            }
            if events.isEmpty {
                if try training.job(id: jobID).isFinished {
                    // Events are recorded with the final state, so none can follow.
                    if try training.events(job: jobID, after: lastID).isEmpty { finished = true }
                    continue
                }
                if Date().timeIntervalSince(lastWrite) > 10 {
                    pending += Array(": keep-alive\n\n".utf8)
                } else {
                    Thread.sleep(forTimeInterval: 0.1)
                }
            }
        }
        let count = min(buffer.count, pending.count)
        pending.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
        pending.removeFirst(count)
        lastWrite = Date()
        return count
    }

    func close() {}
}
