import WarehouseAPI
import WarehouseCore
import WarehouseHTTPServer

/// A request's message: GETs send it as query parameters (repeated keys for lists), the
/// other methods (DELETE included) as a JSON body.
struct MLflowParameters {
    let body: [String: JSONValue]
    let query: [(name: String, value: String)]

    init(_ request: HTTPRequest) throws {
        let bytes = request.body.bytes
        if bytes.isEmpty || bytes.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) {
            body = [:]
        } else {
            do {
                body = try JSON.object(from: bytes)
            } catch {
                throw MLflowError(code: "MALFORMED_REQUEST", message: "the request body is not a JSON object", status: 400)
            }
        }
        query = request.head.queryItems
    }

    func string(_ name: String) -> String? {
        switch body[name] {
        case .string(let text)?: return text
        case .int(let number)?: return String(number)
        case .double(let number)?: return String(number)
        case .bool(let flag)?: return String(flag)
        default: return query.last(where: { $0.name == name })?.value
        }
    }

    func required(_ name: String) throws -> String {
        guard let value = string(name), !value.isEmpty else {
            throw MLflowError.invalid("missing value for required parameter '\(name)'")
        }
        return value
    }

    func strings(_ name: String) -> [String] {
        if case .array(let items)? = body[name] { return items.compactMap(\.stringValue) }
        return query.filter { $0.name == name }.map(\.value)
    }

    func int(_ name: String) throws -> Int? {
        guard let text = string(name) else { return nil }
        guard let number = Int(text) ?? Double(text).flatMap({ $0 == $0.rounded() ? Int(exactly: $0) : nil }) else {
            throw MLflowError.invalid("parameter '\(name)' must be an integer (got '\(text)')")
        }
        return number
    }

    /// `[{"key", "value"}]` lists (tags, params).
    func pairs(_ name: String) throws -> [(key: String, value: String)] {
        guard case .array(let items)? = body[name] else { return [] }
        return try items.map { item in
            guard case .object(let pair) = item, let key = pair["key"]?.stringValue, !key.isEmpty else {
                throw MLflowError.invalid("each of '\(name)' needs a 'key'")
            }
            let value: String
            switch pair["value"] {
            case .string(let text)?: value = text
            case .int(let number)?: value = String(number)
            case .double(let number)?: value = String(number)
            case .bool(let flag)?: value = String(flag)
            default: value = ""
            }
            return (key, value)
        }
    }
}

/// MLflow's JSON shapes.
enum MLflowJSON {
    static func milliseconds(_ timestamp: String?) -> JSONValue {
        .int(timestamp.flatMap { Timestamps.instant($0)?.milliseconds } ?? 0)
    }

    static func tags(_ tags: [(key: String, value: String)]) -> JSONValue {
        .array(tags.map { .object(["key": .string($0.key), "value": .string($0.value)]) })
    }

    /// A page token: the offset of the next page, opaque to the client.
    static func pageToken(_ offset: Int) -> String { Base64URL.encode(Array("offset:\(offset)".utf8)) }

    static func offset(_ token: String?) throws -> Int {
        guard let token, !token.isEmpty else { return 0 }
        guard let bytes = Base64URL.decode(token), let text = String(bytes: bytes, encoding: .utf8), text.hasPrefix("offset:"),
              let offset = Int(text.dropFirst("offset:".count)), offset >= 0 else {
            throw MLflowError.invalid("invalid page_token '\(token)'")
        }
        return offset
    }
}
