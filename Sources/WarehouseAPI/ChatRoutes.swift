import Foundation
import WarehouseCore
import WarehouseHTTPServer
import WarehouseLLM
import WarehouseService

/// `POST /datasets/{user}/{dataset}/chat`: `{"message", "history"?, "stream"?}` answered as
/// `{"answer", "facts", "facts_used"}`, or, with `stream: true` or `Accept: text/event-stream`,
/// as Server-Sent Events: `facts`, then `delta`s of the answer, then `done` (or `error`).
struct ChatRoutes {
    let chat: DatasetChat

    var definitions: [RouteDefinition] {
        let chat = self.chat
        return [
            RouteDefinition("POST", "/datasets/{user_id}/{dataset_id}/chat", body: .buffered(maxBytes: 1 << 20)) { request in
                let body = try JSON.object(from: request.body.bytes)
                let question = try Self.question(body)
                let (messages, facts) = try chat.prepare(user: try request.userParameter(), dataset: try request.datasetParameter(),
                                                         question: question)
                let wantsStream = body["stream"] == .bool(true) || (request.headers["accept"] ?? "").contains("text/event-stream")
                if !wantsStream {
                    let answer = try chat.answer(messages)
                    return JSON.response(ChatAnswer(answer: answer, facts: facts,
                                                    factsUsed: DatasetChat.cited(in: answer, factCount: facts.count)))
                }
                var headers = HTTPHeaders()
                headers.add("Content-Type", "text/event-stream")
                headers.add("Cache-Control", "no-cache")
                headers.add("X-Accel-Buffering", "no")
                return HTTPResponse(status: 200, headers: headers,
                                    body: .stream(length: nil, reader: ChatEventStream(chat: chat, messages: messages, facts: facts)))
            },
        ]
    }

    static func question(_ body: [String: JSONValue]) throws -> DatasetChat.Question {
        guard let message = body["message"]?.stringValue else { throw WarehouseError.invalid("field 'message' is required: the question to ask") }
        var history: [ChatCompletions.Message] = []
        switch body["history"] {
        case nil, .null?: break
        case .array(let turns)?:
            for turn in turns {
                guard case .object(let fields) = turn, let role = fields["role"]?.stringValue, let content = fields["content"]?.stringValue else {
                    throw WarehouseError.invalid(#"history is a list of {"role": "user" or "assistant", "content": text}"#)
                }
                history.append(ChatCompletions.Message(role: role, content: content))
            }
        default: throw WarehouseError.invalid(#"history is a list of {"role": "user" or "assistant", "content": text}"#)
        }
        return DatasetChat.Question(message: message, history: history)
    }
}

struct ChatAnswer: Encodable {
    let answer: String
    let facts: [String]
    let factsUsed: [Int]

    enum CodingKeys: String, CodingKey { case answer, facts, factsUsed = "facts_used" }
}

/// The model's answer as it streams in, relayed as our own events: the model's request runs
/// on a thread of its own and hands events over through a small buffer.
final class ChatEventStream: HTTPBodyReader, @unchecked Sendable {
    private let condition = NSCondition()
    private var pending: [UInt8] = []
    private var ended = false
    private var closed = false

    init(chat: DatasetChat, messages: [ChatCompletions.Message], facts: [String]) {
        push(["type": .string("facts"), "facts": .array(facts.map(JSONValue.string))])
        let thread = Thread { [self] in
            var answer = ""
            do {
                try chat.stream(messages) { delta in
                    answer += delta
                    self.push(["type": .string("delta"), "content": .string(delta)])
                }
                push(["type": .string("done"), "answer": .string(answer),
                      "facts_used": .array(DatasetChat.cited(in: answer, factCount: facts.count).map { .int(Int64($0)) })])
            } catch {
                push(["type": .string("error"), "detail": .string(ErrorResponses.statusAndDetail(for: error).1)])
            }
            condition.lock()
            ended = true
            condition.broadcast()
            condition.unlock()
        }
        thread.start()
    }

    private func push(_ event: [String: JSONValue]) {
        let text = (try? JSONCoding.string(JSONValue.object(event))) ?? #"{"type":"error","detail":"unencodable event"}"#
        condition.lock()
        if !closed { pending += Array("data: \(text)\n\n".utf8) }
        condition.broadcast()
        condition.unlock()
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        condition.lock()
        defer { condition.unlock() }
        while pending.isEmpty && !ended { condition.wait() }
        if pending.isEmpty { return 0 }
        let count = min(buffer.count, pending.count)
        pending.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
        pending.removeFirst(count)
        return count
    }

    func close() {
        condition.lock()
        closed = true
        pending.removeAll()
        condition.unlock()
    }
}
