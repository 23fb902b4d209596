import Foundation
import WarehouseCore
import WarehouseHTTPServer
import WarehouseService

/// One operation of a Hub commit (a line of its NDJSON body).
enum CommitOperation {
    case header(summary: String, description: String, parentCommit: String?)
    /// A file sent inline (base64), already decoded into a spool file.
    case file(path: String, spool: SpoolFile, sha256: String)
    /// A file uploaded before (Git LFS) or already in the repo, named by its SHA-256.
    case lfsFile(path: String, sha256: String, size: UInt64?)
    case deletedFile(path: String)
    case deletedFolder(path: String)
}

/// Receives a commit's NDJSON body as it arrives, without holding a file's content: a JSON
/// string longer than `inlineLimit` (a `file` line's base64 content) is decoded straight into
/// a spool file as it streams and stands in the line as a marker; the rest of each line is
/// small and parsed whole. Lines are limited to `lineLimit` bytes besides such strings.
final class CommitBody: HTTPBodySink {
    private let spoolDirectory: String
    private let inlineLimit = 64 << 10
    private let lineLimit = 4 << 20
    private var line: [UInt8] = []
    private var inString = false
    private var escaped = false
    private var stringStart = 0
    private var spill: Base64Spill?
    private var spills: [(spool: SpoolFile, sha256: String)] = []
    private(set) var operations: [CommitOperation] = []
    private static let marker = "\u{0}spill:"

    init(spoolDirectory: String) {
        self.spoolDirectory = spoolDirectory
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        var index = 0
        while index < bytes.count {
            if let spill, !spill.pendingEscape {
                // Inside a spilled string: hand over the whole run up to a quote or backslash.
                var end = index
                while end < bytes.count, bytes[end] != Self.quote, bytes[end] != Self.backslash { end += 1 }
                if end > index { try spill.feed(UnsafeRawBufferPointer(rebasing: bytes[index..<end])) }
                index = end
                if index == bytes.count { break }
            }
            try take(bytes[index])
            index += 1
        }
    }

    private static let quote = UInt8(ascii: "\"")
    private static let backslash = UInt8(ascii: "\\")

    func abandon() {
        operations = []
        spills = []
        spill = nil
    }

    /// The operations, once the whole body was taken.
    func finish() throws -> [CommitOperation] {
        guard spill == nil, !inString else { throw WarehouseError.invalid("the commit body ends inside a JSON string") }
        try endLine()
        return operations
    }

    private func take(_ byte: UInt8) throws {
        if let spill {
            if byte == UInt8(ascii: "\""), !spill.pendingEscape {
                let sha256 = try spill.finish()
                spills.append((spill.spool, sha256))
                self.spill = nil
                inString = false
                line += Array("\\u0000spill:\(spills.count - 1)\"".utf8)
            } else {
                try spill.feed(byte)
            }
            return
        }
        line.append(byte)
        if inString {
            if escaped {
                escaped = false
            } else if byte == UInt8(ascii: "\\") {
                escaped = true
            } else if byte == UInt8(ascii: "\"") {
                inString = false
            } else if line.count - stringStart > inlineLimit {
                // A long string: from here on it is decoded into a spool file, not kept.
                let started = Base64Spill(spool: try SpoolFile(directory: spoolDirectory))
                try line[stringStart...].withUnsafeBytes { try started.feed($0) }
                line.removeSubrange(stringStart...)
                spill = started
            }
            return
        }
        if byte == UInt8(ascii: "\"") {
            inString = true
            stringStart = line.count
        } else if byte == UInt8(ascii: "\n") {
            line.removeLast()
            try endLine()
        } else if line.count > lineLimit {
            throw WarehouseError.tooLarge("a line of the commit body is longer than \(lineLimit) bytes outside its file contents")
        }
    }

    private func endLine() throws {
        defer { line.removeAll(keepingCapacity: true) }
        guard line.contains(where: { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\r") && $0 != UInt8(ascii: "\t") }) else { return }
        guard case .object(let object)? = try? JSONDecoder().decode(JSONValue.self, from: Data(line)),
              let key = object["key"]?.stringValue, case .object(let value)? = object["value"] else {
            throw WarehouseError.invalid("line \(operations.count + 1) of the commit is not a {\"key\", \"value\"} JSON object")
        }
        func string(_ name: String) throws -> String {
            guard let text = value[name]?.stringValue else {
                throw WarehouseError.invalid("a '\(key)' line of the commit needs a string '\(name)'")
            }
            return text
        }
        switch key {
        case "header":
            let parent = value["parentCommit"]?.stringValue
            operations.append(.header(summary: value["summary"]?.stringValue ?? "", description: value["description"]?.stringValue ?? "",
                                      parentCommit: parent?.isEmpty == true ? nil : parent))
        case "file":
            let path = try string("path")
            let content = try string("content")
            let encoding = value["encoding"]?.stringValue ?? "base64"
            guard encoding == "base64" else { throw WarehouseError.invalid("file \(Identifiers.quoted(path)): encoding '\(encoding)' is not base64") }
            if content.hasPrefix(Self.marker), let index = Int(content.dropFirst(Self.marker.count)), spills.indices.contains(index) {
                operations.append(.file(path: path, spool: spills[index].spool, sha256: spills[index].sha256))
            } else {
                let spill = Base64Spill(spool: try SpoolFile(directory: spoolDirectory))
                try Array(content.utf8).withUnsafeBytes { try spill.feed($0) }
                let sha256 = try spill.finish()
                operations.append(.file(path: path, spool: spill.spool, sha256: sha256))
            }
        case "lfsFile":
            let algorithm = value["algo"]?.stringValue ?? "sha256"
            let oid = try string("oid").lowercased()
            guard algorithm == "sha256", oid.utf8.count == 64, oid.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }) else {
                throw WarehouseError.invalid("an 'lfsFile' line needs a sha256 'oid' of 64 hexadecimal digits")
            }
            let size = value["size"].flatMap { $0.doubleValue }.map { UInt64(max(0, $0)) }
            operations.append(.lfsFile(path: try string("path"), sha256: oid, size: size))
        case "deletedFile":
            operations.append(.deletedFile(path: try string("path")))
        case "deletedFolder":
            operations.append(.deletedFolder(path: try string("path")))
        default:
            throw WarehouseError.invalid("the commit has a line of unknown kind \(Identifiers.quoted(key))")
        }
    }
}

/// Base64 text decoded into a spool file as it arrives (JSON's `\/` escape allowed), a run
/// of bytes at a time into a fixed buffer.
final class Base64Spill {
    let spool: SpoolFile
    /// Sextets of the quad being read, and how many.
    private var quad: UInt32 = 0
    private var count = 0
    /// `=` seen: only padding may follow.
    private var padding = 0
    private(set) var pendingEscape = false
    private let out = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 16)
    private var filled = 0

    init(spool: SpoolFile) {
        self.spool = spool
    }

    deinit { out.deallocate() }

    private static let values: [UInt8] = {
        var table = [UInt8](repeating: 255, count: 256)
        for (index, byte) in Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8).enumerated() {
            table[Int(byte)] = UInt8(index)
        }
        table[Int(UInt8(ascii: "="))] = 64
        table[Int(UInt8(ascii: "\n"))] = 128
        table[Int(UInt8(ascii: "\r"))] = 128
        return table
    }()

    func feed(_ byte: UInt8) throws {
        try withUnsafeBytes(of: byte) { try feed($0) }
    }

    func feed(_ bytes: UnsafeRawBufferPointer) throws {
        try Self.values.withUnsafeBufferPointer { values in
            for var byte in bytes {
                if pendingEscape {
                    pendingEscape = false
                    guard byte == UInt8(ascii: "/") else { throw Self.notBase64 }
                } else if byte == UInt8(ascii: "\\") {
                    pendingEscape = true
                    continue
                }
                let value = values[Int(byte)]
                if value == 128 { continue }
                if value == 64 {
                    padding += 1
                    byte = 0
                } else if value == 255 || padding > 0 {
                    throw Self.notBase64
                }
                quad = quad << 6 | UInt32(value == 64 ? 0 : value)
                count += 1
                if count == 4 {
                    guard padding <= 2 else { throw Self.notBase64 }
                    if filled + 3 > out.count { try flush() }
                    out[filled] = UInt8(truncatingIfNeeded: quad >> 16)
                    out[filled + 1] = UInt8(truncatingIfNeeded: quad >> 8)
                    out[filled + 2] = UInt8(truncatingIfNeeded: quad)
                    filled += 3 - padding
                    quad = 0
                    count = 0
                }
            }
        }
    }

    /// Writes what is left and answers the decoded bytes' SHA-256.
    func finish() throws -> String {
        guard count == 0, !pendingEscape else { throw Self.notBase64 }
        try flush()
        return spool.finish()
    }

    private func flush() throws {
        try spool.write(UnsafeRawBufferPointer(rebasing: out[0..<filled]))
        filled = 0
    }

    static let notBase64 = WarehouseError.invalid("a file's content in the commit is not valid base64")
}
