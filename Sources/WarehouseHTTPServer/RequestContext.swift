/// Per-request state kept in libmicrohttpd's `*req_cls` from the first call of the access
/// handler until the completion callback (which also runs for aborted requests).
///
/// Touched only from the connection's own thread (thread-per-connection mode).
final class RequestContext {
    let head: HTTPRequestHead
    let plan: HTTPRequestPlan
    private var buffered: [UInt8] = []
    private var multipart: MultipartParser?
    private var sink: (any HTTPBodySink)?
    private var sinkHandedOn = false
    private var failure: (any Error)?
    private var received: UInt64 = 0
    private let maxBodyBytes: UInt64
    private let minBytesPerSecond: UInt64
    private let graceSeconds: Double
    private let started = ContinuousClock.now
    private let observer: (any HTTPRequestObserver)?
    private var finished = false
    /// The status of the response queued, if one was.
    var status: Int?
    let sent = SentBytes()

    init(head: HTTPRequestHead, plan: HTTPRequestPlan, maxBodyBytes: UInt64, minBytesPerSecond: UInt64 = 0,
         graceSeconds: Double = .infinity, observer: (any HTTPRequestObserver)? = nil) {
        self.head = head
        self.plan = plan
        self.observer = observer
        observer?.requestBegan(method: head.method, route: plan.route)
        self.maxBodyBytes = maxBodyBytes
        self.minBytesPerSecond = minBytesPerSecond
        self.graceSeconds = graceSeconds
        if case .multipart(let configuration) = plan.body {
            if let boundary = MultipartParser.boundary(fromContentType: head.headers["content-type"]) {
                multipart = MultipartParser(boundary: boundary, configuration: configuration, head: head)
            } else {
                failure = HTTPBodyError.malformed(
                    "expected a multipart/form-data body with a boundary, got Content-Type: \(head.headers["content-type"] ?? "none")")
            }
        }
        if case .streamed(let makeSink) = plan.body {
            do {
                sink = try makeSink(head)
            } catch {
                failure = error
            }
        }
    }

    /// Consumes one chunk of the body. After a failure the rest is read and dropped, so the
    /// client still gets the error response instead of a reset connection.
    func consume(_ chunk: UnsafeRawBufferPointer) {
        received += UInt64(chunk.count)
        guard failure == nil else { return }
        if received > maxBodyBytes {
            failure = HTTPBodyError.tooLarge("request body is larger than the limit of \(maxBodyBytes) bytes")
            multipart = nil
            return
        }
        do {
            switch plan.body {
            case .none:
                break
            case .buffered(let maxBytes):
                guard buffered.count + chunk.count <= maxBytes else {
                    throw HTTPBodyError.tooLarge("request body is larger than the limit of \(maxBytes) bytes")
                }
                buffered.append(contentsOf: chunk)
            case .multipart:
                try multipart?.feed(chunk)
            case .streamed:
                try sink?.write(chunk)
            }
        } catch {
            failure = error
            multipart = nil
            buffered = []
            sink?.abandon()
            sink = nil
        }
    }

    private var elapsedSeconds: Double {
        let elapsed = ContinuousClock.now - started
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    /// Whether the body, past its grace period, arrives slower than the minimum rate.
    var isTooSlow: Bool {
        let seconds = elapsedSeconds
        guard seconds > graceSeconds else { return false }
        return Double(received) / seconds < Double(minBytesPerSecond)
    }

    /// The request is over (sent, refused or abandoned): tell the observer, once.
    func finish() {
        guard !finished else { return }
        finished = true
        if !sinkHandedOn { sink?.abandon() }
        sink = nil
        observer?.requestEnded(method: head.method, route: plan.route, status: status, seconds: elapsedSeconds,
                               bytesIn: received, bytesOut: sent.count)
    }

    /// The whole body has arrived: answer.
    func respond() -> HTTPResponse {
        if let failure {
            sink?.abandon()
            sink = nil
            return plan.respond(.failure(failure))
        }
        switch plan.body {
        case .none:
            return plan.respond(.success(.none))
        case .buffered:
            return plan.respond(.success(.bytes(buffered)))
        case .multipart:
            return plan.respond(finishMultipart())
        case .streamed:
            guard let sink else { return plan.respond(.failure(HTTPBodyError.malformed("no body sink"))) }
            sinkHandedOn = true
            self.sink = nil
            return plan.respond(.success(.streamed(sink)))
        }
    }

    /// Ends the multipart parse. The parser is released before this returns, so on failure
    /// its spool files are gone before the client reads the error.
    private func finishMultipart() -> Result<HTTPRequestBody, any Error> {
        guard let parser = multipart else { return .failure(HTTPBodyError.malformed("no multipart body")) }
        multipart = nil
        return Result { .multipart(try parser.finish()) }
    }
}
