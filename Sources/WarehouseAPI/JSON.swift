import Foundation
import WarehouseCore
import WarehouseHTTPServer

/// JSON in and out of the API.
public enum JSON {
    public static func encode(_ value: some Encodable) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(value))
    }

    public static func response(_ value: some Encodable, status: Int = 200) -> HTTPResponse {
        do {
            return HTTPResponse.json(try encode(value), status: status)
        } catch {
            return HTTPResponse.json(Array("{\"detail\":\"internal error: response encoding failed\"}".utf8), status: 500)
        }
    }

    /// A request body that must be one JSON object.
    public static func object(from bytes: [UInt8]) throws -> [String: JSONValue] {
        guard !bytes.isEmpty else { throw WarehouseError.invalid("the request body is empty; send a JSON object") }
        let value: JSONValue
        do {
            value = try JSONDecoder().decode(JSONValue.self, from: Data(bytes))
        } catch {
            throw WarehouseError.invalid("the request body is not valid JSON")
        }
        guard case .object(let object) = value else { throw WarehouseError.invalid("the request body must be a JSON object") }
        return object
    }
}
