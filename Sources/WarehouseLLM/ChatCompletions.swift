import Foundation
import WarehouseCore
import WarehouseCurl

/// A client of an OpenAI-compatible chat-completions API (Ollama, llama.cpp's server, vLLM,
/// hosted ones): `POST {base}/chat/completions`, whole or streamed (`stream: true`, answered
/// as Server-Sent Events of `choices[0].delta.content`).
public struct ChatCompletions: Sendable {
    public struct Message: Codable, Sendable, Equatable {
        public let role: String
        public let content: String
        public init(role: String, content: String) {
            self.role = role
            self.content = content
        }
    }

    public let baseURL: String
    public let model: String
    public let apiKey: String?

    public init(baseURL: String, model: String, apiKey: String?) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.model = model
        self.apiKey = apiKey
    }

    func request(_ messages: [Message], stream: Bool) throws -> CurlRequest {
        let body: JSONValue = .object([
            "model": .string(model), "stream": .bool(stream), "temperature": .double(0.2),
            "messages": .array(messages.map { .object(["role": .string($0.role), "content": .string($0.content)]) }),
        ])
        var headers = [("Content-Type", "application/json"), ("Accept", stream ? "text/event-stream" : "application/json")]
        if let apiKey { headers.append(("Authorization", "Bearer " + apiKey)) }
        return CurlRequest(method: "POST", url: baseURL + "/chat/completions", headers: headers,
                           body: .bytes(Array(try JSONCoding.string(body).utf8)))
    }

    /// The whole answer.
    public func complete(_ messages: [Message]) throws -> String {
        let body = try perform(request(messages, stream: false), onData: nil)
        guard case .object(let object) = (try? JSONCoding.decode(JSONValue.self, String(decoding: body, as: UTF8.self))) ?? .null,
              case .array(let choices)? = object["choices"], case .object(let choice)? = choices.first,
              case .object(let message)? = choice["message"], let content = message["content"]?.stringValue else {
            throw WarehouseError.badGateway("the language model at \(baseURL) answered without choices[0].message.content")
        }
        return content
    }

    /// Streams the answer: `onDelta` gets each piece of text as it arrives.
    public func stream(_ messages: [Message], onDelta: @escaping (String) -> Void) throws {
        var pending: [UInt8] = []
        var failure: (any Error)?
        try perform(request(messages, stream: true)) { chunk in
            pending += chunk
            // Lines of the upstream SSE; `data: [DONE]` ends it.
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: pending[..<newline], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                pending.removeSubrange(...newline)
                guard line.hasPrefix("data:") else { continue }
                let data = line.dropFirst(5).trimmingCharacters(in: .whitespaces)
                if data == "[DONE]" { return true }
                guard case .object(let object) = (try? JSONCoding.decode(JSONValue.self, data)) ?? .null,
                      case .array(let choices)? = object["choices"], case .object(let choice)? = choices.first else {
                    failure = WarehouseError.badGateway("the language model at \(baseURL) streamed an event that is not a chat completion chunk")
                    return false
                }
                if case .object(let delta)? = choice["delta"], let content = delta["content"]?.stringValue, !content.isEmpty {
                    onDelta(content)
                }
            }
            return true
        }
        if let failure { throw failure }
    }

    /// Runs the request; the body collected (at most 16 MiB), errors as 502s that say why.
    @discardableResult
    private func perform(_ request: CurlRequest, onData: ((UnsafeRawBufferPointer) -> Bool)?) throws -> [UInt8] {
        var body: [UInt8] = []
        let response: CurlResponse
        do {
            response = try CurlEasy().perform(request) { chunk in
                if body.count < 16 << 20 { body += chunk }
                return onData?(chunk) ?? true
            }
        } catch let error as CurlError {
            throw WarehouseError.badGateway("the language model at \(baseURL) is unreachable: \(error.message)")
        }
        guard (200..<300).contains(response.status) else {
            throw WarehouseError.badGateway("the language model at \(baseURL) answered \(response.status): "
                                            + String(decoding: body.prefix(500), as: UTF8.self))
        }
        return body
    }
}
