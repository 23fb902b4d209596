/// Limits that keep a hostile archive from exhausting the disk or the process.
public struct ZipLimits: Sendable, Equatable {
    /// Most entries (files and directories) an archive may list.
    public var maxEntries: Int = 100_000
    /// Most bytes all entries may expand to together.
    public var maxTotalUncompressedBytes: UInt64 = 64 << 30
    /// Highest uncompressed : compressed ratio of one entry…
    public var maxCompressionRatio: UInt64 = 1000
    /// …checked only for entries larger than this, since tiny files compress absurdly well.
    public var compressionRatioThresholdBytes: UInt64 = 1 << 20

    public init() {}
}

/// Paths inside archives: normalized, and refused when they could escape the folder.
public enum ZipPaths {
    /// Backslashes become `/`; `.` segments go; absolute paths, drive letters, `..`, empty
    /// segments and control characters are refused (zip-slip).
    /// `./` or `.`: an entry for the archived folder itself, as bsdtar writes it.
    public static func isCurrentDirectory(_ name: String) -> Bool {
        let parts = name.split(omittingEmptySubsequences: false) { $0 == "/" || $0 == "\\" }
        return parts.first == "." && parts.allSatisfy { $0 == "." || $0.isEmpty }
    }

    public static func normalize(_ name: String) throws -> String {
        let slashed = String(name.map { $0 == "\\" ? "/" : $0 })
        if slashed.hasPrefix("/") {
            throw ZipError.unsafe("entry '\(shown(name))' has an absolute path")
        }
        let scalars = Array(slashed.unicodeScalars.prefix(3))
        if scalars.count >= 2, scalars[1] == ":", scalars[0].properties.isAlphabetic {
            throw ZipError.unsafe("entry '\(shown(name))' has an absolute (drive letter) path")
        }
        var segments: [Substring] = []
        let parts = slashed.split(separator: "/", omittingEmptySubsequences: false)
        for (index, part) in parts.enumerated() {
            if part == "." { continue }
            if part.isEmpty {
                // A trailing slash marks a directory; anything else empty is malformed.
                if index == parts.count - 1, !segments.isEmpty { continue }
                throw ZipError.unsafe("entry '\(shown(name))' has an empty path segment")
            }
            if part == ".." { throw ZipError.unsafe("entry '\(shown(name))' escapes the folder with '..' (zip-slip)") }
            if part.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) {
                throw ZipError.unsafe("entry '\(shown(name))' has a control character in its name")
            }
            segments.append(part)
        }
        guard !segments.isEmpty else { throw ZipError.unsafe("an entry has an empty name") }
        return segments.joined(separator: "/")
    }

    static func shown(_ name: String) -> String {
        let printable = String(name.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7f ? "?" : Character($0) })
        return printable.count > 120 ? String(printable.prefix(120)) + "…" : printable
    }
}
