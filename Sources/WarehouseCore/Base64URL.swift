import Foundation

/// Base64 with the URL-safe alphabet and no padding (RFC 4648 §5): tokens that travel in URLs
/// (search cursors, signed upload tickets).
public enum Base64URL {
    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// The bytes, or nil when `text` is not base64url.
    public static func decode(_ text: String) -> [UInt8]? {
        let standard = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        return Data(base64Encoded: standard.padding(toLength: (standard.count + 3) / 4 * 4, withPad: "=", startingAt: 0)).map(Array.init)
    }
}
