/// Validation of the names that become parts of object keys and URLs (DESIGN.md, "Names").
public enum Identifiers {
    /// User ids that are path words of the API.
    public static let reservedUserIDs: Set<String> = ["search", "upload"]

    /// `^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`
    public static func isValidName(_ value: String) -> Bool {
        let bytes = Array(value.utf8)
        guard (1...128).contains(bytes.count), isAlphanumeric(bytes[0]) else { return false }
        return bytes.allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
    }

    /// Validates `value` as the id in `field`; names the field and the rule when it fails.
    public static func name(_ value: String?, field: String) throws -> String {
        guard let value, !value.isEmpty else { throw WarehouseError.invalid("field '\(field)' is required") }
        guard isValidName(value) else {
            throw WarehouseError.invalid(
                "field '\(field)' must be 1-128 characters of letters, digits, '.', '_' or '-', starting with a letter or digit (got \(quoted(value)))")
        }
        return value
    }

    public static func userID(_ value: String?, field: String = "user_id") throws -> String {
        let user = try name(value, field: field)
        guard !reservedUserIDs.contains(user) else {
            throw WarehouseError.invalid("'\(user)' is a reserved word and cannot be a \(field)")
        }
        return user
    }

    /// An alias name (`production`, `staging`, …): the rule of names, but starting with a
    /// letter, so that `@v2` can never be mistaken for a version.
    public static func alias(_ value: String?, field: String = "alias") throws -> String {
        let alias = try name(value, field: field)
        guard let first = alias.utf8.first, (65...90).contains(first) || (97...122).contains(first), alias.count <= 64 else {
            throw WarehouseError.invalid("\(field) must start with a letter and have at most 64 characters (got \(quoted(alias)))")
        }
        return alias
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (48...57).contains(byte) || (65...90).contains(byte) || (97...122).contains(byte)
    }

    /// A value shown in an error, shortened and quoted.
    public static func quoted(_ value: String) -> String {
        let shown = value.count > 80 ? String(value.prefix(80)) + "…" : value
        return "'" + shown + "'"
    }
}

/// A model version: `v1`, `v2.1`, `v1.0.3` (`^v[0-9]+(\.[0-9]+){0,2}$`), ordered numerically.
public struct ModelVersionNumber: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let text: String
    /// Major, minor, patch; a missing part is -1 so `v1` < `v1.0` < `v1.0.0` < `v1.1`.
    public let parts: (major: Int, minor: Int, patch: Int)

    public init?(_ text: String) {
        guard text.hasPrefix("v") else { return nil }
        let pieces = text.dropFirst().split(separator: ".", omittingEmptySubsequences: false)
        guard (1...3).contains(pieces.count) else { return nil }
        var numbers: [Int] = []
        for piece in pieces {
            guard !piece.isEmpty, piece.count <= 9, piece.allSatisfy({ $0.isASCII && $0.isNumber }), let number = Int(piece) else {
                return nil
            }
            numbers.append(number)
        }
        while numbers.count < 3 { numbers.append(-1) }
        self.text = text
        self.parts = (numbers[0], numbers[1], numbers[2])
    }

    public init(major: Int) {
        self.init("v\(major)")!
    }

    public static func parse(_ value: String, field: String = "version") throws -> ModelVersionNumber {
        guard let version = ModelVersionNumber(value) else {
            throw WarehouseError.invalid(
                "field '\(field)' must look like v1, v1.2 or v1.2.3 (got \(Identifiers.quoted(value)))")
        }
        return version
    }

    public var description: String { text }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.text == rhs.text }
    public func hash(into hasher: inout Hasher) { hasher.combine(text) }
    public static func < (lhs: Self, rhs: Self) -> Bool {
        (lhs.parts.major, lhs.parts.minor, lhs.parts.patch) < (rhs.parts.major, rhs.parts.minor, rhs.parts.patch)
    }
}

/// Relative POSIX paths of files inside a version.
public enum FilePaths {
    /// Validates a client-supplied path: relative, no `..` or `.`, no empty or control-character
    /// segments; backslashes count as separators (Windows clients).
    public static func validate(_ raw: String, field: String = "filename") throws -> String {
        let path = raw.replacingBackslashes()
        guard !path.isEmpty else { throw WarehouseError.invalid("\(field) is empty") }
        guard path.utf8.count <= 1024 else { throw WarehouseError.invalid("\(field) is longer than 1024 bytes") }
        guard !path.hasPrefix("/") else {
            throw WarehouseError.invalid("\(field) \(Identifiers.quoted(raw)) is an absolute path; only relative paths are allowed")
        }
        let segments = path.split(separator: "/", omittingEmptySubsequences: false)
        for segment in segments {
            if segment.isEmpty {
                throw WarehouseError.invalid("\(field) \(Identifiers.quoted(raw)) has an empty path segment")
            }
            if segment == ".." || segment == "." {
                throw WarehouseError.invalid("\(field) \(Identifiers.quoted(raw)) contains '\(segment)'; path traversal is not allowed")
            }
            if segment.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) {
                throw WarehouseError.invalid("\(field) \(Identifiers.quoted(raw)) contains a control character")
            }
        }
        return path
    }

    /// The last segment of a path.
    public static func baseName(_ path: String) -> String {
        path.split(separator: "/").last.map(String.init) ?? path
    }

    /// Lowercased extension without the dot ("" when none).
    public static func fileExtension(_ path: String) -> String {
        let base = baseName(path)
        guard let dot = base.lastIndex(of: "."), dot != base.startIndex else { return "" }
        return base[base.index(after: dot)...].lowercased()
    }
}

extension String {
    func replacingBackslashes() -> String {
        String(self.map { $0 == "\\" ? "/" : $0 })
    }
}
